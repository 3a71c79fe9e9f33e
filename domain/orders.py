"""An order's status from what the hub knows about it, in the caller's transaction.

The channel says what it knows (``orders.channel_status``: pending, paid, fulfilled, cancelled,
...); the hub adds what the channel may not have told it: the payments matched to the order
(paid / partially_paid: captured money against the total, Decimal), its refunds (refunded /
partially_refunded; a full refund that puts goods back releases the order's stock through the
ledger) and its shipments (delivered). Payments carry an order reference that is looked up in
the sales channel their payment channel is configured for (``match.channel``); a payment whose
order has not arrived yet waits unmatched and is matched when the order is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, or_, select

from mappings.canonical import Money, OrderLine, OrderStatus, PaymentStatus, ShipmentStatus
from store.deliveries import utcnow
from store.models import alerts, order_lines, orders, payments, refunds, shipments

from . import ledger
from .notes import carrier_name, money, record_crm_note
from .progress import ORDER_PROGRESS

# payment statuses whose money reached the merchant (a refund or a dispute comes after a capture)
CAPTURED_STATUSES = (PaymentStatus.CAPTURED.value, PaymentStatus.REFUNDED.value,
                     PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.DISPUTED.value)
REFUND_STATUSES = (OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class OrderRules:
    """What the config says about orders, payments and shipments."""

    match_channels: dict[str, str | None] = field(default_factory=dict)  # payment channel -> sales channel
    sales_channels: frozenset[str] = frozenset()
    api_channels: frozenset[str] = frozenset()  # sales channels the hub can push tracking to
    sla_days: dict[str, int] = field(default_factory=dict)
    sla_default_days: int = 5
    crm_notes: bool = False  # a CRM is configured: the steps orders reach are noted on its timeline
    paid_tolerance: Decimal = Decimal("0.01")  # captured within this of the total: paid (a gateway's rounding)
    note_channels: frozenset[str] = frozenset()  # sales channels where the hub can leave the shopper a note

    def scope(self, channel: str | None) -> str | None:
        """The sales channel a record from ``channel`` refers to (None: any)."""
        if channel in self.sales_channels:
            return channel
        return self.match_channels.get(channel or "")

    def days_for(self, carrier: str) -> int:
        return self.sla_days.get(carrier.lower(), self.sla_default_days)


def reference_forms(reference: str) -> set[str]:
    """``1001``, ``#1001``: shops show order numbers with a ``#`` that references often drop."""
    bare = reference.strip().lstrip("#")
    return {reference.strip(), bare, f"#{bare}"}


def find_order(conn: Connection, reference: str | None, channel: str | None) -> int | None:
    """The order ``reference`` names (its id in the channel, or its number), within ``channel`` if given."""
    if not reference or not reference.strip():
        return None
    forms = reference_forms(reference)
    q = select(orders.c.id).where(or_(orders.c.external_id.in_(forms), orders.c.number.in_(forms)))
    if channel:
        q = q.where(orders.c.channel == channel)
    return conn.execute(q.order_by(orders.c.id).limit(1)).scalar()


# what match_waiting runs for every new order, built once (SQLAlchemy then skips building them and their cache key)
_WAITING_PAYMENTS = select(payments.c.id, payments.c.channel, payments.c.external_id).where(
    payments.c.order_id.is_(None), payments.c.order_reference.in_(bindparam("b_forms", expanding=True)))
_ATTACH_REFUNDS = refunds.update().where(refunds.c.order_id.is_(None), or_(
    refunds.c.payment_external_id.in_(
        select(payments.c.external_id).where(payments.c.order_id == bindparam("b_order"))),
    (refunds.c.order_reference.in_(bindparam("b_forms", expanding=True)))
    & (refunds.c.channel == bindparam("b_ch")))).values(order_id=bindparam("b_order"))
_ATTACH_SHIPMENTS = shipments.update().where(
    shipments.c.order_id.is_(None), shipments.c.order_reference.in_(bindparam("b_forms", expanding=True)),
    or_(shipments.c.channel == bindparam("b_ch"),
        shipments.c.channel.not_in(bindparam("b_sales", expanding=True)))).values(order_id=bindparam("b_order"))


def match_waiting(conn: Connection, rules: OrderRules, order_id: int, order: Any = None) -> tuple[list[str], bool]:
    """A stored order takes the payments, refunds and shipments that named it before it arrived;
    -> (notes, whether anything was attached).

    ``order``: its ``channel``, ``external_id`` and ``number`` when the caller has them (read if not).
    """
    if order is None:
        order = conn.execute(select(orders.c.channel, orders.c.external_id, orders.c.number)
                             .where(orders.c.id == order_id)).one()
    forms = reference_forms(order.external_id) | reference_forms(order.number)
    now, notes = utcnow(), []
    forms = sorted(forms)
    for p in conn.execute(_WAITING_PAYMENTS, {"b_forms": forms}).all():
        if rules.scope(p.channel) in (None, order.channel):
            conn.execute(payments.update().where(payments.c.id == p.id).values(order_id=order_id, matched_at=now))
            notes.append(f"payment {p.external_id} matched")
    got_refunds = conn.execute(_ATTACH_REFUNDS, {"b_order": order_id, "b_forms": forms, "b_ch": order.channel})
    got_shipments = conn.execute(_ATTACH_SHIPMENTS, {"b_order": order_id, "b_forms": forms, "b_ch": order.channel,
                                                     "b_sales": sorted(rules.sales_channels) or [""]})
    attached = bool(notes) or got_refunds.rowcount > 0 or got_shipments.rowcount > 0
    return notes, attached


def _target(row: Any, currency: str) -> Decimal | None:
    if currency == row.currency:
        return Decimal(row.total)
    if currency == row.presentment_currency and row.presentment_total is not None:
        return Decimal(row.presentment_total)
    return None


def money_state(conn: Connection, row: Any) -> tuple[Decimal, Decimal, Decimal]:
    """(captured, refunded, total) in the currency the order's payments use (that of its first payment).

    Two statements, whatever the order holds: its payments and its refunds summed per currency.
    """
    captured_expr = func.sum(case((payments.c.status.in_(CAPTURED_STATUSES), payments.c.amount), else_=0))
    paid = {r.currency: r for r in conn.execute(
        select(payments.c.currency, func.min(payments.c.id).label("first"), captured_expr.label("captured"),
               func.sum(payments.c.refunded).label("refunded"))
        .where(payments.c.order_id == row.id).group_by(payments.c.currency))}
    currency = min(paid.values(), key=lambda r: r.first).currency if paid else row.currency
    total = _target(row, currency)
    if total is None:  # paid in a currency the order does not know: compare in the order's own
        currency, total = row.currency, Decimal(row.total)
    # the same money refunded may come twice, from the shop and from its gateway (a Woo refund and Stripe's): the
    # shop's refunds and the gateways' are summed apart, and the larger is what was refunded
    own = refunds.c.channel == row.channel
    by_shop, by_gateways = conn.execute(select(
        func.sum(case((own, refunds.c.amount), else_=0)), func.sum(case((own, 0), else_=refunds.c.amount))).where(
        refunds.c.order_id == row.id, refunds.c.currency == currency)).one()
    mine = paid.get(currency)
    captured = Decimal(mine.captured or 0) if mine else Decimal(0)
    by_payments = Decimal(mine.refunded or 0) if mine else Decimal(0)
    return captured, max(Decimal(by_shop or 0), Decimal(by_gateways or 0), by_payments), total


def fully_refunded_with_restock(conn: Connection, order_id: int) -> bool:
    row = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
    if row is None:
        return False
    captured, refunded, total = money_state(conn, row)
    restocks = conn.execute(select(refunds.c.restock).where(refunds.c.order_id == order_id)).scalars().all()
    return refunded > 0 and refunded >= (captured or total) and any(restocks)


def stock_status(conn: Connection, order_id: int, status: OrderStatus) -> OrderStatus:
    """The status the ledger should see: a fully refunded order whose goods went back holds no stock."""
    if status is not OrderStatus.CANCELLED and fully_refunded_with_restock(conn, order_id):
        return OrderStatus.CANCELLED
    return status


def is_paid(captured: Decimal, total: Decimal, tolerance: Decimal) -> bool:
    """The money captured covers the total, but for a rounding within ``tolerance``: less is partly paid."""
    return captured > 0 and captured >= total - tolerance


def derive_status(conn: Connection, row: Any, tolerance: Decimal = Decimal("0.01")) -> OrderStatus:
    said = OrderStatus(row.channel_status or row.status)
    if said is OrderStatus.CANCELLED:
        return said
    captured, refunded, total = money_state(conn, row)
    if refunded > 0:
        return OrderStatus.REFUNDED if refunded >= (captured or total) else OrderStatus.PARTIALLY_REFUNDED
    if said in REFUND_STATUSES:
        return said
    candidates = [said]
    if captured > 0:
        candidates.append(OrderStatus.PAID if is_paid(captured, total, tolerance) else OrderStatus.PARTIALLY_PAID)
    delivered = conn.execute(select(shipments.c.id).where(shipments.c.order_id == row.id,
                                                          shipments.c.status == ShipmentStatus.DELIVERED.value)
                             .limit(1)).scalar()
    if delivered is not None:
        candidates.append(OrderStatus.DELIVERED)
    return ORDER_PROGRESS.furthest(candidates)


def settle_order(conn: Connection, out: Any, event_id: int | None, order_id: int) -> str | None:
    """Bring the order's status to what the hub knows; a full refund with restock releases its stock.
    Returns a note when something changed."""
    row = conn.execute(select(orders).where(orders.c.id == order_id).with_for_update()).one()
    status = derive_status(conn, row, out.rules.paid_tolerance)
    notes = []
    if status.value != row.status:
        conn.execute(orders.update().where(orders.c.id == order_id).values(status=status.value, updated_at=utcnow()))
        notes.append(f"order {row.number} {row.status} -> {status.value}")
        out.orders.add(order_id)  # its new status goes to the ERP and the CRM after the commit
        if status is OrderStatus.PAID and not row.paid_on_channel and row.channel in out.rules.api_channels:
            out.mark_paid.add((order_id, row.channel))  # a gateway's money the shop does not show yet
    if status is OrderStatus.REFUNDED and fully_refunded_with_restock(conn, order_id):
        lines = [OrderLine(sku=li.sku, quantity=li.quantity, unit_price=Money(Decimal(li.unit_price), row.currency))
                 for li in conn.execute(select(order_lines).where(order_lines.c.order_id == order_id))]
        moved = ledger.apply_order_stock(conn, out.touch, out.policy, event_id, order_id,  # type: ignore[arg-type]
                                         row.channel, OrderStatus.CANCELLED, lines)
        if moved:
            notes.append(f"restocked {', '.join(moved)}")
    note_progress(conn, out, order_id)
    return "; ".join(notes) or None


def note_progress(conn: Connection, out: Any, order_id: int) -> None:
    """Owe the CRM a timeline note for every step the order has reached here: each shipment (``shipped``
    and, once there, ``delivered``, by tracking number) and each refunded total (``refunded``, by amount).
    Once each however often it is seen (``crm_notes.key``); the order's ``sync_crm`` is queued after the
    commit (``out.crm``). Placed, paid and cancelled are the order's own: ``sync_crm`` notes those."""
    if not out.rules.crm_notes:
        return
    row = conn.execute(select(orders).where(orders.c.id == order_id)).one()
    new = False
    for s in conn.execute(select(shipments).where(shipments.c.order_id == order_id).order_by(shipments.c.id)):
        parcel = f"{carrier_name(s.carrier)} {s.tracking_number}"
        new |= record_crm_note(conn, order_id, "shipped", s.tracking_number,
                               f"Order {row.number} shipped: {parcel}", s.shipped_at or s.created_at)
        if s.status == ShipmentStatus.DELIVERED.value:
            new |= record_crm_note(conn, order_id, "delivered", s.tracking_number,
                                   f"Order {row.number} delivered: {parcel}", s.delivered_at)
    captured, refunded, total = money_state(conn, row)
    if refunded > 0:
        currency = conn.execute(select(payments.c.currency).where(payments.c.order_id == order_id)
                                .order_by(payments.c.id).limit(1)).scalar() or row.currency
        body = (f"Order {row.number} refunded in full: {money(refunded)} {currency}"
                if refunded >= (captured or total) else
                f"Order {row.number} partially refunded: {money(refunded)} of {money(captured or total)} {currency}")
        new |= record_crm_note(conn, order_id, "refunded", money(refunded), body)
    if new:
        out.crm.add(order_id)


def raise_alert(conn: Connection, kind: str, key: str, message: str, detail: dict[str, Any]) -> bool:
    """One open alert per (kind, key): opened, or refreshed; True when it is new."""
    now = utcnow()
    open_id = conn.execute(select(alerts.c.id).where(alerts.c.kind == kind, alerts.c.key == key,
                                                     alerts.c.resolved_at.is_(None))).scalar()
    if open_id is None:
        conn.execute(alerts.insert().values(kind=kind, key=key, message=message, detail=detail, created_at=now,
                                            updated_at=now))
        return True
    conn.execute(alerts.update().where(alerts.c.id == open_id).values(message=message, detail=detail, updated_at=now))
    return False


def resolve_alert(conn: Connection, kind: str, key: str) -> None:
    now = utcnow()
    conn.execute(alerts.update().where(alerts.c.kind == kind, alerts.c.key == key, alerts.c.resolved_at.is_(None))
                 .values(resolved_at=now, updated_at=now))
