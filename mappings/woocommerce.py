"""WooCommerce webhook bodies (the wc/v3 REST resource JSON) -> canonical records.

Woo has no stock locations: a product's ``stock_quantity`` is reported at the location id
``default``, which a location link maps to a hub warehouse like any other channel location.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import fields, post_load, pre_load

from . import Handler, MapContext, Unmappable, current_ctx, load_with
from .canonical import (
    Address,
    ChannelStockReport,
    Charge,
    ChargeKind,
    Customer,
    EventType,
    Mapped,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Origin,
    Product,
    Refund,
    Variant,
)
from .common import IdString, Lenient, decimal_str, normalise_email, percent, when

WOO_LOCATION = "default"

# Woo order statuses (wc_get_order_statuses, without the "wc-" prefix) -> canonical
ORDER_STATUS = {
    "pending": OrderStatus.PENDING,  # awaiting payment
    "processing": OrderStatus.PAID,  # paid (or cash on delivery accepted), awaiting fulfilment
    "on-hold": OrderStatus.PENDING,  # awaiting payment confirmation (e.g. bank transfer)
    "completed": OrderStatus.FULFILLED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.PENDING,  # payment failed or declined; the shopper may pay again
    "checkout-draft": OrderStatus.PENDING,
    "draft": OrderStatus.PENDING,
    "trash": OrderStatus.CANCELLED,
}

# statuses WooCommerce gives a paid order (wc_get_is_paid_statuses); date_paid is set on reaching them
PAID_WOO_STATUSES = frozenset({"processing", "completed"})

# statuses whose stock WooCommerce has not taken yet and takes when the order is paid (it goes processing or
# on-hold: wc_maybe_reduce_stock_levels); a cancelled or refunded order's stock is not taken again
REDUCES_LATER = frozenset({"pending", "failed", "checkout-draft", "draft"})


def _blank(value: Any) -> Any:
    return value if value not in ("", None) else None


class AddressSchema(Lenient):
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    address_1 = fields.String(allow_none=True)
    address_2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Address | None:
        if not any(_blank(d.get(k)) for k in ("address_1", "city", "postcode", "country")):
            return None  # Woo sends every key, empty, when there is no address
        name = " ".join(p for p in (d.get("first_name"), d.get("last_name")) if p) or None
        return Address(name=name, company=_blank(d.get("company")), line1=_blank(d.get("address_1")),
                       line2=_blank(d.get("address_2")), city=_blank(d.get("city")), region=_blank(d.get("state")),
                       postal_code=_blank(d.get("postcode")), country=_blank(d.get("country")),
                       phone=_blank(d.get("phone")))


class CustomerSchema(Lenient):
    id = IdString(required=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    billing = fields.Dict(allow_none=True)
    shipping = fields.Dict(allow_none=True)
    date_modified_gmt = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Customer:
        ctx = current_ctx()
        billing, shipping = d.get("billing") or {}, d.get("shipping") or {}
        addresses = [a for a in (load_with(AddressSchema, billing, ctx), load_with(AddressSchema, shipping, ctx))
                     if a]
        return Customer(email=normalise_email(d.get("email") or billing.get("email")),
                        first_name=_blank(d.get("first_name")), last_name=_blank(d.get("last_name")),
                        phone=_blank(billing.get("phone")), addresses=addresses,
                        origin=Origin(ctx.channel, d["id"]), source_updated_at=when(d.get("date_modified_gmt")))


class LineSchema(Lenient):
    id = IdString(allow_none=True)
    name = fields.String(allow_none=True)
    sku = fields.String(allow_none=True)
    product_id = IdString(allow_none=True)
    variation_id = IdString(allow_none=True)
    quantity = fields.Integer(required=True)
    subtotal = fields.Raw(required=True)
    total = fields.Raw(required=True)
    total_tax = fields.Raw(load_default="0")
    taxes = fields.List(fields.Dict(), load_default=list)
    meta_data = fields.List(fields.Dict(), load_default=list)


# wc-api v3 (the legacy API's webhooks) -> REST v3 order fields
LEGACY_ORDER_FIELDS = {"billing_address": "billing", "shipping_address": "shipping", "total_shipping": "shipping_total",
                       "total_discount": "discount_total", "created_at": "date_created_gmt",
                       "updated_at": "date_modified_gmt"}


class OrderSchema(Lenient):
    id = IdString(required=True)
    number = fields.String(allow_none=True)
    status = fields.String(required=True)
    currency = fields.String(required=True)
    total = fields.Raw(required=True)
    total_tax = fields.Raw(load_default="0")
    shipping_total = fields.Raw(load_default="0")
    discount_total = fields.Raw(load_default="0")
    customer_id = IdString(allow_none=True)
    payment_method = fields.String(allow_none=True)
    date_created_gmt = fields.String(allow_none=True)
    date_modified_gmt = fields.String(allow_none=True)
    date_paid_gmt = fields.String(allow_none=True)
    billing = fields.Dict(load_default=dict)
    shipping = fields.Dict(load_default=dict)
    line_items = fields.List(fields.Nested(LineSchema), load_default=list)
    fee_lines = fields.List(fields.Dict(), load_default=list)
    shipping_lines = fields.List(fields.Dict(), load_default=list)
    tax_lines = fields.List(fields.Dict(), load_default=list)

    @pre_load
    def _envelope(self, data: Any, **_: Any) -> Any:
        """Legacy wc-api v3 deliveries wrap the resource (``{"order": {...}}``) and name some fields their own
        way; the REST v3 names are taken from them where the body has none."""
        if not (isinstance(data, dict) and set(data) == {"order"} and isinstance(data["order"], dict)):
            return data
        order = dict(data["order"])
        for legacy, rest in LEGACY_ORDER_FIELDS.items():
            if legacy in order and rest not in order:
                order[rest] = order[legacy]
        return order

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Order:
        ctx, cur = current_ctx(), d["currency"].upper()
        status = ORDER_STATUS.get(d["status"])
        if status is None:
            raise Unmappable(f"status: unknown WooCommerce order status {d['status']!r}")
        rates = _rates(d["tax_lines"])
        lines = [_line(li, cur, rates, takes_later=d["status"] in REDUCES_LATER) for li in d["line_items"]]
        fees = sum((decimal_str(f.get("total") or "0", "fee_lines.total") for f in d["fee_lines"]), Decimal("0"))
        subtotal = sum((decimal_str(li["subtotal"], "line_items.subtotal") for li in d["line_items"]), fees)
        billing = d["billing"]
        email = normalise_email(billing.get("email"))
        customer = Customer(email=email, first_name=_blank(billing.get("first_name")),
                            last_name=_blank(billing.get("last_name")), phone=_blank(billing.get("phone")),
                            addresses=[a for a in (load_with(AddressSchema, billing, ctx),) if a],
                            origin=Origin(ctx.channel, d["customer_id"]) if d.get("customer_id") not in (None, "0")
                            else None) if email else None
        return Order(
            origin=Origin(ctx.channel, d["id"]), number=d.get("number") or d["id"], status=status, currency=cur,
            subtotal=Money(subtotal, cur), shipping=Money(decimal_str(d["shipping_total"], "shipping_total"), cur),
            tax=Money(decimal_str(d["total_tax"], "total_tax"), cur),
            discount=Money(decimal_str(d["discount_total"], "discount_total"), cur),
            total=Money(decimal_str(d["total"], "total"), cur), lines=lines,
            placed_at=when(d.get("date_created_gmt")), source_updated_at=when(d.get("date_modified_gmt")),
            email=email, customer=customer, shipping_address=load_with(AddressSchema, d["shipping"], ctx),
            billing_address=load_with(AddressSchema, billing, ctx), payment_method=_blank(d.get("payment_method")),
            charges=[_charge(ChargeKind.SHIPPING, s, s.get("method_title"), cur, rates) for s in d["shipping_lines"]]
            + [_charge(ChargeKind.FEE, f, f.get("name"), cur, rates) for f in d["fee_lines"]],
            paid_on_channel=bool(d.get("date_paid_gmt")) or d["status"] in PAID_WOO_STATUSES)


def _rates(tax_lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    """rate id -> percent, from the order's ``tax_lines`` (``rate_percent``, WooCommerce 3.7 and later)."""
    return {str(t.get("rate_id")): percent(decimal_str(t["rate_percent"], "tax_lines.rate_percent"))
            for t in tax_lines if isinstance(t, dict) and t.get("rate_percent") not in (None, "")}


def _tax_rates(item: dict[str, Any], base: Decimal, rates: dict[str, Decimal]) -> list[Decimal]:
    """The rates of an item's ``taxes`` entries with an amount: the order's rate of that id, else the
    amount over the item's (taxed) total, which is what a body without ``rate_percent`` allows."""
    out = []
    for t in item.get("taxes") or []:
        if not isinstance(t, dict) or t.get("total") in (None, ""):
            continue
        amount = decimal_str(t["total"], "taxes.total")
        if not amount:
            continue
        rate = rates.get(str(t.get("id")))
        out.append(rate if rate is not None else percent(amount / base * 100) if base else Decimal(0))
    return out


def _charge(kind: ChargeKind, item: dict[str, Any], title: str | None, cur: str,
            rates: dict[str, Decimal]) -> Charge:
    """A shipping or fee line: amount without tax (WooCommerce's ``total``), its tax and rates."""
    total = decimal_str(item.get("total") or "0", f"{kind}_lines.total")
    return Charge(kind, title or None, Money(total, cur), None,
                  Money(decimal_str(item.get("total_tax") or "0", f"{kind}_lines.total_tax"), cur),
                  _tax_rates(item, total, rates))


def _line(li: dict[str, Any], cur: str, rates: dict[str, Decimal], takes_later: bool) -> OrderLine:
    subtotal, total = decimal_str(li["subtotal"], "line_items.subtotal"), decimal_str(li["total"], "line_items.total")
    qty, taken = li["quantity"], _meta_units(li, "_reduced_stock")
    variation = li.get("variation_id") if li.get("variation_id") not in (None, "0") else None
    return OrderLine(sku=_blank(li.get("sku")), quantity=qty,
                     unit_price=Money(subtotal / qty if qty else subtotal, cur), title=li.get("name"),
                     tax=Money(decimal_str(li.get("total_tax") or "0", "line_items.total_tax"), cur),
                     discount=Money(subtotal - total, cur), external_id=li.get("id"),
                     product_id=li.get("product_id"), variant_id=variation, channel_taken=taken,
                     channel_to_take=max(0, qty - taken) if takes_later else 0,
                     restocked=min(qty, _meta_units(li, "_restock_refunded_items")),
                     tax_rates=_tax_rates(li, total, rates))


def _meta_units(li: dict[str, Any], key: str) -> int:
    """A unit count WooCommerce keeps in a line's meta (0 when absent):

    - ``_reduced_stock``: what it took off the product's stock for the line, written when the order goes
      processing, on-hold or completed, lowered by a restocking refund, removed when the stock goes back
      (cancelled, pending again); absent while pending, or for an unmanaged product.
    - ``_restock_refunded_items``: what its refunds put back on the stock (WooCommerce 10.0.2 restocks every
      line a REST refund names, whatever ``restock_items`` says)."""
    for meta in li["meta_data"]:
        if meta.get("key") == key:
            value = decimal_str(meta.get("value"), f"line_items.meta_data.{key}")
            if value != value.to_integral_value() or value < 0:
                raise Unmappable(f"line_items.meta_data.{key}: not a unit count: {meta.get('value')!r}")
            return int(value)
    return 0


class ProductSchema(Lenient):
    id = IdString(required=True)
    type = fields.String(load_default="simple")
    parent_id = IdString(allow_none=True)
    name = fields.String(allow_none=True)
    sku = fields.String(allow_none=True)
    price = fields.Raw(allow_none=True)
    manage_stock = fields.Raw(allow_none=True)  # bool, or "parent" on variations
    stock_quantity = fields.Integer(allow_none=True)
    date_modified_gmt = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> list[Any]:
        """A product (with its one sellable variant, if it has a SKU) and its stock report."""
        ch = current_ctx().channel
        is_variation = d["type"] == "variation" and d.get("parent_id") not in (None, "0")
        product_id = d["parent_id"] if is_variation else d["id"]
        sku = _blank(d.get("sku"))
        variants = [Variant(sku=sku, origin=Origin(ch, d["id"]), product_id=product_id,
                            variant_id=d["id"] if is_variation else None, title=d.get("name"),
                            stock_quantity=d.get("stock_quantity"))] if sku and d["type"] != "variable" else []
        out: list[Any] = [Product(origin=Origin(ch, product_id), title=d.get("name"), variants=variants,
                                  source_updated_at=when(d.get("date_modified_gmt")))]
        if d.get("manage_stock") is True and d.get("stock_quantity") is not None and d["type"] != "variable":
            out.append(ChannelStockReport(origin=Origin(ch, d["id"]), location_id=WOO_LOCATION,
                                          available=d["stock_quantity"], sku=sku,
                                          source_updated_at=when(d.get("date_modified_gmt"))))
        return out


def _order(event: EventType) -> Handler:
    def handle(payload: dict[str, Any], ctx: MapContext) -> Mapped:
        order = load_with(OrderSchema, payload, ctx)
        kind = EventType.ORDER_CANCELLED if order.status is OrderStatus.CANCELLED else event
        return Mapped(kind, [order, *order_refunds(payload, order)])
    return handle


def order_refunds(payload: dict[str, Any], order: Order) -> list[Refund]:
    """The refunds an order body lists (``refunds``: id, reason, total as a negative amount), each a Refund of
    the order; which lines each refunds is not in the body (``GET orders/<id>/refunds`` says it)."""
    body = payload["order"] if set(payload) == {"order"} else payload
    out = []
    for r in body.get("refunds") or []:
        if not isinstance(r, dict) or r.get("id") in (None, "") or r.get("total") in (None, ""):
            continue
        out.append(Refund(origin=Origin(order.origin.channel, str(r["id"])),
                          amount=Money(-decimal_str(r["total"], "refunds.total"), order.currency),
                          order_reference=order.origin.external_id, reason=_blank(r.get("reason"))))
    return out


def _order_deleted(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    """order.deleted carries the order as it was; deleting (or trashing) it cancels it here."""
    if set(payload) <= {"id"}:
        raise Unmappable("order.deleted body has only the id; the order's state is unknown")
    order = load_with(OrderSchema, payload, ctx)
    order.status = OrderStatus.CANCELLED
    return Mapped(EventType.ORDER_CANCELLED, [order])


def _product(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.PRODUCT_UPDATED, load_with(ProductSchema, payload, ctx))


def _customer(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.CUSTOMER_UPSERTED, [load_with(CustomerSchema, payload, ctx)])


TOPICS: dict[str, Handler] = {
    "order.created": _order(EventType.ORDER_CREATED),
    "order.updated": _order(EventType.ORDER_UPDATED),
    "order.deleted": _order_deleted,
    "product.created": _product,
    "product.updated": _product,
    "customer.created": _customer,
    "customer.updated": _customer,
}
