"""export_order: a hub order to the ERP (Odoo) as one sale order, and the runner the ERP and CRM jobs share.

Jobs take an order id and read the order as it is now, so a job that runs late still does the right
thing and a repeated one changes nothing: the partner is matched by email, the sale order by its
``client_order_ref`` (``"<channel>:<order number>"``, fixed at the first attempt), confirmation happens
once the order is paid (or its payment method is pay-later), cancellation when it is cancelled. Each
attempt's outcome is kept on the order's ``erp_orders`` row. ``Retryable`` failures come back as an RQ
``Retry`` with exponential backoff and jitter, up to ``EXPORT_MAX_ATTEMPTS``; ``Permanent`` ones fail
the job at once. Either way the row says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rq import Retry
from sqlalchemy import Connection, Table, select, update

from connectors import PAYMENT_KINDS
from connectors.odoo.client import OdooClient
from connectors.odoo.invoicing import Invoicing, Settlement
from connectors.odoo.sale import (
    CUSTOM,
    FEE,
    PRODUCT,
    SHIPPING,
    SaleLine,
    SaleOrders,
    SaleOrderSpec,
    SaleSettings,
    fallback_notes,
)
from connectors.outbound import Permanent, Retryable
from domain.orders import CAPTURED_STATUSES, is_paid, money_state
from hub.config import ErpConfig
from hub.state import Hub, current_hub
from jobs.queueing import HeldLock, export_lock_key
from mappings.canonical import OrderStatus
from store.deliveries import insert_ignore, utcnow
from store.models import ExportStatus, customers, erp_orders, order_lines, orders, payments

from .retry import backoff_s, whole_seconds
from .tasks import annotate, retrying, rq_attempt, task

logger = logging.getLogger(__name__)

EXPORT_MAX_ATTEMPTS = 5
EXPORT_BACKOFF_CAP_S = 600.0
LOCK_WAIT_S = 30
# statuses in which the shopper has paid the whole order: the ERP may release it to the warehouse (partly
# paid is not paid: the goods wait for the rest)
PAID_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_FULFILLED,
                           OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED})


class ExportFailed(Exception):
    """An export ended failed (refused, or out of attempts); the message is the reason."""


@dataclass(frozen=True)
class OrderViewLine:
    sku: str | None
    quantity: int
    unit_price: Decimal
    title: str | None
    discount: Decimal = Decimal(0)
    tax_rates: tuple[Decimal, ...] = ()


@dataclass
class OrderView:
    """What the export jobs need of one hub order, read in one go."""

    id: int
    channel: str
    external_id: str
    number: str
    status: OrderStatus
    currency: str
    total: Decimal
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    address: dict[str, Any] | None
    payment_method: str | None
    placed_at: datetime | None
    cancelled_at: datetime | None
    lines: list[OrderViewLine] = field(default_factory=list)
    paid_by_payment: bool = False  # its matched payments captured its total (its status may lag)
    prices_include_tax: bool = False
    charges: list[dict[str, Any]] = field(default_factory=list)  # orders.charges
    settlements: list[Settlement] = field(default_factory=list)  # its captured gateway payments, oldest first
    paid_on_channel: bool = False

    @property
    def ref(self) -> str:
        return f"{self.channel}:{self.number}"

    @property
    def paid(self) -> bool:
        return self.status in PAID_STATUSES or (self.paid_by_payment and self.status in (
            OrderStatus.PENDING, OrderStatus.PARTIALLY_PAID))

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.address or {}).get("name") or ""


def load_order(conn: Connection, order_id: int, tolerance: Decimal = Decimal("0.01")) -> OrderView | None:
    o = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
    if o is None:
        return None
    c = conn.execute(select(customers).where(customers.c.id == o.customer_id)).one_or_none() if o.customer_id else None
    lines = conn.execute(select(order_lines).where(order_lines.c.order_id == order_id)
                         .order_by(order_lines.c.position)).all()
    captured, _, total = money_state(conn, o)
    paid = conn.execute(select(payments).where(payments.c.order_id == order_id,
                                               payments.c.status.in_(CAPTURED_STATUSES)).order_by(payments.c.id)).all()
    address = o.billing_address or o.shipping_address
    return OrderView(
        id=o.id, channel=o.channel, external_id=o.external_id, number=o.number, status=OrderStatus(o.status),
        currency=o.currency, total=Decimal(o.total), email=o.email or (c.email if c else None),
        first_name=c.first_name if c else None, last_name=c.last_name if c else None,
        phone=(c.phone if c else None) or (address or {}).get("phone"), address=address,
        payment_method=o.payment_method, placed_at=o.placed_at, cancelled_at=o.cancelled_at,
        lines=[OrderViewLine(li.sku, li.quantity, Decimal(li.unit_price), li.title, Decimal(li.discount or 0),
                             tuple(Decimal(r) for r in li.tax_rates or ())) for li in lines],
        paid_by_payment=is_paid(captured, total, tolerance), prices_include_tax=bool(o.prices_include_tax),
        charges=list(o.charges or []), paid_on_channel=bool(o.paid_on_channel),
        settlements=[Settlement(f"{p.provider}:{p.external_id}", p.provider, Decimal(p.amount), p.currency)
                     for p in paid])


# ---- the runner both targets share -------------------------------------------------------------------

def attempt_number() -> int:
    """1 for a fresh job, n for its (n-1)th RQ retry; 1 when called outside a worker."""
    return rq_attempt()


def ensure_row(conn: Connection, table: Table, order_id: int, values: dict[str, Any]) -> Any:
    """The order's row in ``table``, created (pending) with ``values`` if it has none."""
    now = utcnow()
    insert_ignore(conn, table, {"order_id": order_id, "status": ExportStatus.PENDING.value, "created_at": now,
                                "updated_at": now, **values})
    return conn.execute(select(table).where(table.c.order_id == order_id)).one()


def save(hub: Hub, table: Table, order_id: int, **values: Any) -> None:
    """Progress and outcomes land at once, in their own transaction: a later failure keeps them."""
    with hub.engine.begin() as conn:
        conn.execute(update(table).where(table.c.order_id == order_id).values(**values, updated_at=utcnow()))


def run_export(hub: Hub, target: str, table: Table, order_id: int, retry_base_s: float,
               work: Callable[[OrderView, int], str], max_attempts: int = EXPORT_MAX_ATTEMPTS) -> str | Retry:
    """One attempt of ``work`` on the order under its per-target lock; the outcome on the row.
    ``max_attempts`` 1 (a replay): a retryable failure fails at once instead of returning a ``Retry``."""
    attempt = attempt_number()
    lock = HeldLock(hub.redis.client, export_lock_key(target, order_id), blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        return _retry_or_fail(hub, target, table, order_id, attempt, retry_base_s,
                              Retryable(f"{target}: another job holds order {order_id}"), max_attempts)
    try:
        with hub.engine.connect() as conn:
            order = load_order(conn, order_id, hub.config.paid_tolerance)
        if order is None:
            return f"order {order_id} is gone"
        result = work(order, attempt)
    except Retryable as exc:
        return _retry_or_fail(hub, target, table, order_id, attempt, retry_base_s, exc, max_attempts)
    except Permanent as exc:
        save(hub, table, order_id, status=ExportStatus.FAILED.value, error=str(exc), attempts=attempt)
        logger.warning("export failed", extra={"target": target, "order_id": order_id, "error": str(exc)})
        raise ExportFailed(f"{target} order {order_id}: {exc}") from exc
    finally:
        lock.release()
    save(hub, table, order_id, status=ExportStatus.OK.value, error=None, attempts=attempt)
    logger.info("exported", extra={"target": target, "order_id": order_id, "summary": result})
    return result


def _retry_or_fail(hub: Hub, target: str, table: Table, order_id: int, attempt: int, base_s: float,
                   exc: Retryable, max_attempts: int = EXPORT_MAX_ATTEMPTS) -> Retry:
    if attempt >= max_attempts:
        reason = f"gave up after {attempt} attempts: {exc}"
        save(hub, table, order_id, status=ExportStatus.FAILED.value, error=reason, attempts=attempt)
        raise ExportFailed(f"{target} order {order_id}: {reason}") from exc
    delay = whole_seconds(backoff_s(attempt, base_s, EXPORT_BACKOFF_CAP_S, exc.seconds))
    save(hub, table, order_id, status=ExportStatus.RETRYING.value, error=str(exc), attempts=attempt)
    logger.warning("export will retry", extra={"target": target, "order_id": order_id, "attempt": attempt,
                                                "delay_s": delay, "error": str(exc)})
    retrying(exc)
    return Retry(max=EXPORT_MAX_ATTEMPTS, interval=[delay])


# ---- the ERP -------------------------------------------------------------------------------------------

@task("export_order", entity=lambda order_id: f"order:{order_id}", channel=lambda: "erp")
def export_order(order_id: int, max_attempts: int = EXPORT_MAX_ATTEMPTS) -> str | Retry:
    """RQ job (queue ``erp``): the order's sale order in the ERP, in the state the order calls for."""
    hub = current_hub()
    erp = hub.config.erp
    if erp is None:
        return "no ERP configured"
    client = OdooClient(erp.url, erp.db, erp.login, erp.api_key, erp.timeout_s)
    return run_export(hub, "erp", erp_orders, order_id, erp.retry_base_s,
                      lambda order, _attempt: sync_sale_order(hub, erp, client, order), max_attempts)


def should_confirm(order: OrderView, erp: ErpConfig) -> bool:
    """Paid (or partly), or paid on delivery by a method configured as pay-later."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return False
    return order.paid or bool(method_names(order.payment_method) & set(erp.pay_later_methods))


def method_names(method: str | None) -> set[str]:
    """How a payment method may be configured: its name, lower-case, and the code a shop's gateway name
    carries in brackets (Shopify names its manual gateway "Cash on Delivery (COD)"; Woo says ``cod``)."""
    name = (method or "").strip().lower()
    names = {name} if name else set()
    if name.endswith(")") and "(" in name:
        names.add(name[name.rindex("(") + 1:-1].strip())
    return names - {""}


def sync_sale_order(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView) -> str:
    with hub.engine.begin() as conn:
        row = ensure_row(conn, erp_orders, order.id, {"ref": erp_ref(conn, order)})
    ref = row.ref  # the first attempt's: a renumbered order keeps its sale order
    annotate(idempotency_key=ref)
    if order.status is OrderStatus.CANCELLED:
        return _cancel(hub, client, order, row)
    want = "confirmed" if should_confirm(order, erp) else "draft"
    invoice_owed = want == "confirmed" and order.paid and row.payment_state != "paid"
    if row.sale_order_id and row.state == want and not invoice_owed:
        return f"{row.name}: already {want}"
    if row.state == "confirmed" and want == "draft":
        return f"{row.name}: confirmed (an order is not taken back to draft)"
    if row.state == "cancelled":
        return f"{row.name}: cancelled in the ERP; not reopened"
    if order.status is OrderStatus.REFUNDED and not row.sale_order_id:
        return "refunded before it reached the ERP: nothing to export"
    partner = int(row.partner_id) if row.partner_id else client.find_or_create_partner(
        order.email or "", order.name, **_partner_address(order))
    save(hub, erp_orders, order.id, partner_id=str(partner))
    settings = sale_settings(erp)
    spec, sales = sale_spec(order, ref), SaleOrders(client, settings)
    so_id, created = sales.ensure(spec, partner)
    so = client.sale_order(ref) if not row.name or created else {"name": row.name}
    save(hub, erp_orders, order.id, sale_order_id=str(so_id), name=so["name"], state=row.state or "draft")
    notes = fallback_notes(spec, settings)
    annotate(sale_order=so["name"], created=created, **({"lines_without_sku": notes} if notes else {}))
    summary = f"{so['name']} ({ref}) {'created' if created else 'found'}"
    if row.amount_total is None:
        total, adjustment = sales.settle_total(so_id, spec, so["amount_total"] if created else None)
        save(hub, erp_orders, order.id, amount_total=total, adjustment=adjustment)
        if adjustment:
            annotate(adjustment=str(adjustment))
            summary += f", {adjustment} {order.currency} on {settings.adjustment_product} to match the channel's total"
    if want == "confirmed":
        client.confirm_sale_order(so_id)
        save(hub, erp_orders, order.id, state="confirmed")
    summary += f", {want}"
    if invoice_owed:
        summary += "; " + invoice_and_pay(hub, erp, client, order, so_id)
    return "; ".join([summary, *notes])


def invoice_and_pay(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView, so_id: int) -> str:
    """The paid order's invoice (made and posted once) and each settlement registered on it once."""
    invoicing = Invoicing(client, dict(erp.journals))
    invoice = invoicing.ensure_invoice(so_id)
    save(hub, erp_orders, order.id, invoice_id=str(invoice["id"]), invoice_name=invoice["name"])
    registered = [s.memo for s in settlements(order, hub.config.paid_tolerance, erp.journals, gateway_kinds(hub),
                                                  erp.pay_later_methods)
                  if invoice["payment_state"] not in ("paid", "in_payment") and invoicing.register(invoice["id"], s)]
    if registered:
        invoice = invoicing.ensure_invoice(so_id)
    save(hub, erp_orders, order.id, payment_state=invoice["payment_state"])
    annotate(invoice=invoice["name"], payments=registered, payment_state=invoice["payment_state"])
    made = "made" if invoice["created"] else "found"
    return (f"invoice {invoice['name']} {made}, {len(registered)} payment(s) registered, "
            f"{invoice['payment_state'].replace('_', ' ')}")


def gateway_kinds(hub: Hub) -> frozenset[str]:
    return frozenset(c.kind for c in hub.config.channels.values() if c.kind in PAYMENT_KINDS)


def settlements(order: OrderView, tolerance: Decimal, journals: dict[str, str], gateways: frozenset[str],
                pay_later: tuple[str, ...] = ()) -> list[Settlement]:
    """What was paid for the order: its gateway payments, and what the channel itself says it took beyond
    them (an order the channel reports paid, e.g. by Shopify Payments). An order paid by a gateway the hub
    hears from (``gateways``: the kinds of the payment channels configured) waits for that gateway's own
    payment: the money is registered once, as the gateway settled it, whichever webhook comes first. Cash on
    delivery (a pay-later method) is not money in yet: a person registers it when it comes."""
    out = list(order.settlements)
    covered = sum((s.amount for s in out if s.currency == order.currency), Decimal(0))
    if method_names(order.payment_method) & (gateways | set(pay_later)) or not order.paid_on_channel:
        return out
    if covered < order.total - tolerance:
        # on the journal of the gateway the channel names (erp.journals: paypal, ...), else the channel's
        out.append(Settlement(f"{order.channel}:{order.number}", next(iter(sorted(
            method_names(order.payment_method) & set(journals))), order.channel), order.total - covered,
            order.currency))
    return out


def sale_settings(erp: ErpConfig) -> SaleSettings:
    return SaleSettings(delivery_product=erp.delivery_product, fallback_product=erp.fallback_product,
                        adjustment_product=erp.adjustment_product, taxes=dict(erp.taxes),
                        pricelists=dict(erp.pricelists))


def sale_spec(order: OrderView, ref: str) -> SaleOrderSpec:
    """The outbound mapper: the hub order as the sale order's lines, in the channel's figures."""
    if not order.lines:
        raise Permanent(f"order {order.number} has no lines to put on a sale order")
    lines = [SaleLine(PRODUCT if ln.sku else CUSTOM, ln.title, Decimal(ln.quantity), ln.unit_price, ln.discount,
                      ln.tax_rates, ln.sku) for ln in order.lines]
    for c in order.charges:
        amount = Decimal(c["amount"])
        if not amount and not c.get("discount"):
            continue  # free shipping: nothing to say on the sale order
        lines.append(SaleLine(SHIPPING if c["kind"] == "shipping" else FEE, c.get("title"), Decimal(1), amount,
                              Decimal(c.get("discount") or 0), tuple(Decimal(r) for r in c.get("tax_rates") or ())))
    return SaleOrderSpec(ref=ref, channel=order.channel, currency=order.currency,
                         prices_include_tax=order.prices_include_tax, total=order.total, lines=lines)


def erp_ref(conn: Connection, order: OrderView) -> str:
    """The sale order's client_order_ref: ``<channel>:<number>``, the number people search by; if another
    hub order of the channel already has it (a shop that reused a number), ``<channel>:<number>/<id>``, so
    the ERP never gives one sale order to two orders (nor the pulled deliveries to the wrong one)."""
    taken = conn.execute(select(erp_orders.c.order_id).where(erp_orders.c.ref == order.ref,
                                                             erp_orders.c.order_id != order.id)).first()
    return f"{order.ref}/{order.external_id}" if taken else order.ref


def _cancel(hub: Hub, client: OdooClient, order: OrderView, row: Any) -> str:
    if row.state == "cancelled":
        return f"{row.name}: already cancelled"
    so = client.sale_order(row.ref)
    if so is None:
        save(hub, erp_orders, order.id, state=None)
        return f"{row.ref}: cancelled before it reached the ERP; nothing to cancel"
    client.cancel_sale_order(so["id"])
    save(hub, erp_orders, order.id, sale_order_id=str(so["id"]), name=so["name"], state="cancelled")
    return f"{so['name']} ({row.ref}) cancelled"


def _partner_address(order: OrderView) -> dict[str, str | None]:
    a = order.address or {}
    return {"street": a.get("line1"), "street2": a.get("line2"), "city": a.get("city"), "zip": a.get("postal_code"),
            "country_code": a.get("country") if len(a.get("country") or "") == 2 else None, "phone": order.phone}
