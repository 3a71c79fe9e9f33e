"""A hub order as the export jobs read it (``load_order``: one read of the order, its customer, lines,
payments and refunds), and the two helpers every export keeps its outcome with (``ensure_row``, ``save``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, select, update

from connectors.odoo.invoicing import Settlement
from domain.orders import CAPTURED_STATUSES, is_paid, money_state
from hub.state import Hub
from mappings.canonical import OrderStatus
from store.deliveries import insert_ignore, utcnow
from store.models import ExportStatus, customers, order_lines, orders, payments, refunds

# statuses in which the shopper has paid the whole order: the ERP may release it to the warehouse (partly
# paid is not paid: the goods wait for the rest)
PAID_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_FULFILLED,
                           OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED})


@dataclass(frozen=True)
class OrderViewLine:
    sku: str | None
    quantity: int
    unit_price: Decimal
    title: str | None
    discount: Decimal = Decimal(0)
    tax_rates: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class RefundView:
    channel: str  # where the refund was made: the sales channel, or a payment channel (stripe, paypal)
    external_id: str
    amount: Decimal
    currency: str
    lines: dict[str, Decimal] | None  # {sku: quantity} it refunds; None: not said
    restock: dict[str, Decimal] | None = None  # {sku: units} it put back on the shelf

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.external_id}"


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
    refunds: list[RefundView] = field(default_factory=list)  # oldest first
    shipping_address: dict[str, Any] | None = None

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
    refunded = conn.execute(select(refunds).where(refunds.c.order_id == order_id).order_by(refunds.c.id)).all()
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
        charges=list(o.charges or []), paid_on_channel=bool(o.paid_on_channel), shipping_address=o.shipping_address,
        settlements=[Settlement(f"{p.provider}:{p.external_id}", p.provider, Decimal(p.amount), p.currency)
                     for p in paid],
        refunds=[RefundView(r.channel, r.external_id, Decimal(r.amount), r.currency, _refund_lines(r.lines),
                            _refund_lines(r.restock))
                 for r in refunded if Decimal(r.amount) > 0])


def _refund_lines(lines: list[dict[str, Any]] | None) -> dict[str, Decimal] | None:
    if not lines:
        return None
    out: dict[str, Decimal] = {}
    for ln in lines:
        if ln.get("sku"):
            out[ln["sku"]] = out.get(ln["sku"], Decimal(0)) + Decimal(ln["quantity"])
    return out


def method_names(method: str | None) -> set[str]:
    """How a payment method may be configured: its name, lower-case, and the code a shop's gateway name
    carries in brackets (Shopify names its manual gateway "Cash on Delivery (COD)"; Woo says ``cod``)."""
    name = (method or "").strip().lower()
    names = {name} if name else set()
    if name.endswith(")") and "(" in name:
        names.add(name[name.rindex("(") + 1:-1].strip())
    return names - {""}


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
