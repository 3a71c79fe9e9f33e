"""Shopify webhook bodies (REST resource JSON, API 2026-07) -> canonical records.

Money comes from the shop-currency ``*_set.shop_money`` fields (the presentment total is kept
beside it); the plain decimal-string fields are the fallback for older bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
    ShipmentStatus,
    Variant,
)
from .common import IdString, Lenient, decimal_str, normalise_email, percent, when

# fulfillment.shipment_status (Shopify's tracking states) -> canonical; None = just labelled
SHIPMENT_STATUS = {
    None: ShipmentStatus.PRE_TRANSIT,
    "label_printed": ShipmentStatus.PRE_TRANSIT,
    "label_purchased": ShipmentStatus.PRE_TRANSIT,
    "confirmed": ShipmentStatus.PRE_TRANSIT,
    "ready_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShipmentStatus.EXCEPTION,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "failure": ShipmentStatus.EXCEPTION,
    "not_delivered": ShipmentStatus.EXCEPTION,
    "picked_up": ShipmentStatus.IN_TRANSIT,
    "carrier_picked_up": ShipmentStatus.IN_TRANSIT,
    "delayed": ShipmentStatus.IN_TRANSIT,
}


def money_set(data: dict[str, Any], key: str, currency: str) -> Money:
    """``<key>_set.shop_money`` if present, else the plain ``<key>`` string in the shop currency."""
    shop = ((data.get(f"{key}_set") or {}).get("shop_money")) or {}
    if shop.get("amount") is not None:
        return Money(decimal_str(shop["amount"], key), shop.get("currency_code") or currency)
    return Money(decimal_str(data.get(key) or "0", key), currency)


def order_status(data: dict[str, Any]) -> OrderStatus:
    """Shopify's financial + fulfillment status pair -> one canonical status (most final wins)."""
    financial, fulfillment = data.get("financial_status"), data.get("fulfillment_status")
    if data.get("cancelled_at") or financial == "voided":
        return OrderStatus.CANCELLED
    if financial == "refunded":
        return OrderStatus.REFUNDED
    if financial == "partially_refunded":
        return OrderStatus.PARTIALLY_REFUNDED
    if fulfillment == "fulfilled":
        return OrderStatus.FULFILLED
    if fulfillment == "partial":
        return OrderStatus.PARTIALLY_FULFILLED
    return {"paid": OrderStatus.PAID, "partially_paid": OrderStatus.PARTIALLY_PAID}.get(financial, OrderStatus.PENDING)


class AddressSchema(Lenient):
    name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    line1 = fields.String(data_key="address1", allow_none=True)
    line2 = fields.String(data_key="address2", allow_none=True)
    city = fields.String(allow_none=True)
    region = fields.String(data_key="province_code", allow_none=True)
    postal_code = fields.String(data_key="zip", allow_none=True)
    country = fields.String(data_key="country_code", allow_none=True)
    phone = fields.String(allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Address:
        return Address(**data)


class CustomerSchema(Lenient):
    id = IdString(required=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    default_address = fields.Nested(AddressSchema, allow_none=True)
    addresses = fields.List(fields.Nested(AddressSchema), load_default=list)
    email_marketing_consent = fields.Dict(allow_none=True)
    accepts_marketing = fields.Boolean(allow_none=True)
    updated_at = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Customer:
        consent = (d.get("email_marketing_consent") or {}).get("state")
        addresses = d["addresses"] or ([d["default_address"]] if d.get("default_address") else [])
        return Customer(email=normalise_email(d.get("email")), first_name=d.get("first_name"),
                        last_name=d.get("last_name"), phone=d.get("phone"), addresses=addresses,
                        accepts_marketing=(consent == "subscribed") if consent else d.get("accepts_marketing"),
                        origin=Origin(current_ctx().channel, d["id"]), source_updated_at=when(d.get("updated_at")))


class LineSchema(Lenient):
    """Validates a line's identity and quantity; its money is read in the order's currency."""

    id = IdString(allow_none=True)
    sku = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    quantity = fields.Integer(required=True)
    product_id = IdString(allow_none=True)
    variant_id = IdString(allow_none=True)


PAID_FINANCIAL = ("paid", "partially_refunded", "refunded")  # financial statuses after the money was taken
RESTOCKING = ("return", "cancel", "legacy_restock")  # refund_line_items[].restock_type that put units back
SHIPPING = ("success", "open", "pending")  # fulfillment statuses whose units have left (or are leaving)


@dataclass
class LineFacts:
    """What an order's fulfillments and refunds say about one of its lines."""

    shipped: int | None = None
    cancelled: int = 0  # restocked before shipping
    returned: int = 0  # restocked after shipping


def order_line(raw: dict[str, Any], ctx: MapContext, currency: str, facts: LineFacts | None = None) -> OrderLine:
    d = load_with(LineSchema, raw, ctx)
    facts = facts or LineFacts()
    qty = max(0, d["quantity"])
    tax, rates = taxes(raw, currency)
    shipped = None if facts.shipped is None else min(facts.shipped, qty)
    returned = min(facts.returned, shipped if shipped is not None else qty)
    return OrderLine(sku=d.get("sku") or None, quantity=d["quantity"], unit_price=money_set(raw, "price", currency),
                     title=d.get("title"), tax=tax, discount=line_discount(raw, currency), external_id=d.get("id"),
                     product_id=d.get("product_id"), variant_id=d.get("variant_id"),
                     restocked=min(qty, facts.cancelled + returned), returned=returned, shipped=shipped,
                     tax_rates=rates)


def taxes(raw: dict[str, Any], currency: str) -> tuple[Money, list[Decimal]]:
    """A line's (or shipping line's) tax: the amount charged and its rates in percent (``rate`` is a fraction)."""
    lines = [t for t in raw.get("tax_lines") or [] if isinstance(t, dict)]
    amount = sum((money_set(t, "price", currency).amount for t in lines), Decimal("0"))
    rates = [percent(decimal_str(t["rate"], "tax_lines.rate") * 100) for t in lines if t.get("rate") is not None]
    return Money(amount, currency), rates


def line_discount(raw: dict[str, Any], currency: str) -> Money:
    """What the order's discounts took off a line: its ``discount_allocations`` (every discount, the order's
    own spread over the lines), else the older ``total_discount``."""
    allocations = raw.get("discount_allocations")
    if isinstance(allocations, list) and allocations:
        return Money(sum((money_set(a, "amount", currency).amount for a in allocations), Decimal("0")), currency)
    return money_set(raw, "total_discount", currency)


def shipping_charges(raw: dict[str, Any], currency: str) -> list[Charge]:
    """The order's shipping lines, each with the discount on it (``price`` less ``discounted_price``)."""
    out = []
    for s in raw.get("shipping_lines") or []:
        if not isinstance(s, dict):
            continue
        price = money_set(s, "price", currency)
        if s.get("discounted_price") is not None or s.get("discounted_price_set"):
            discount = price.amount - money_set(s, "discounted_price", currency).amount
        else:
            discount = line_discount(s, currency).amount
        tax, rates = taxes(s, currency)
        out.append(Charge(ChargeKind.SHIPPING, s.get("title") or s.get("code"), price, Money(discount, currency),
                          tax, rates))
    return out


def line_facts(raw: dict[str, Any]) -> dict[str, LineFacts]:
    """Per line item id: units shipped (its fulfillments, when the order carries them), and units its refunds
    restocked, before shipping (``cancel``) or after (``return``; ``legacy_restock`` counts as a return
    once the line has shipped units)."""
    out: dict[str, LineFacts] = {}
    fulfillments = raw.get("fulfillments")
    if isinstance(fulfillments, list):
        for li in raw.get("line_items") or []:
            out[str(li.get("id"))] = LineFacts(shipped=0)
        for f in fulfillments:
            if (f or {}).get("status") not in SHIPPING:
                continue
            for item in f.get("line_items") or []:
                facts = out.setdefault(str(item.get("id")), LineFacts(shipped=0))
                facts.shipped = (facts.shipped or 0) + int(item.get("quantity") or 0)
        if raw.get("fulfillment_status") in ("fulfilled", "partial") and not any(f.shipped for f in out.values()):
            out = {}  # says fulfilled, lists no fulfillment: the status decides
    for refund in raw.get("refunds") or []:
        for item in (refund or {}).get("refund_line_items") or []:
            kind, key = item.get("restock_type"), str(item.get("line_item_id"))
            if kind not in RESTOCKING or item.get("line_item_id") is None:
                continue
            facts = out.setdefault(key, LineFacts())
            n = int(item.get("quantity") or 0)
            if kind == "return" or (kind == "legacy_restock" and facts.shipped):
                facts.returned += n
            else:
                facts.cancelled += n
    return out


class OrderSchema(Lenient):
    id = IdString(required=True)
    name = fields.String(allow_none=True)
    order_number = IdString(allow_none=True)
    currency = fields.String(required=True)
    presentment_currency = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    cancelled_at = fields.String(allow_none=True)
    line_items = fields.List(fields.Dict(), required=True)
    customer = fields.Dict(allow_none=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    payment_gateway_names = fields.List(fields.String(), load_default=list)
    _raw = fields.Raw(load_only=True)

    @pre_load
    def _keep_raw(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "_raw": data}

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Order:
        raw, cur, ctx = d["_raw"], d["currency"], current_ctx()
        facts = line_facts(raw)
        lines = [order_line(li, ctx, cur, facts.get(str(li.get("id")))) for li in d["line_items"]]
        customer = load_with(CustomerSchema, d["customer"], ctx) if d.get("customer") else None
        email = normalise_email(d.get("email") or d.get("contact_email") or (customer.email if customer else None))
        if customer and not customer.email:
            customer.email = email
        presentment = ((raw.get("total_price_set") or {}).get("presentment_money")) or {}
        return Order(
            origin=Origin(ctx.channel, d["id"]), number=d.get("name") or str(d.get("order_number") or d["id"]),
            status=order_status(raw), currency=cur, subtotal=money_set(raw, "subtotal_price", cur),
            shipping=money_set(raw, "total_shipping_price", cur), tax=money_set(raw, "total_tax", cur),
            discount=money_set(raw, "total_discounts", cur), total=money_set(raw, "total_price", cur),
            lines=lines, placed_at=when(d.get("created_at")), source_updated_at=when(d.get("updated_at")),
            email=email, customer=customer, shipping_address=d.get("shipping_address"),
            billing_address=d.get("billing_address"),
            presentment_total=Money(decimal_str(presentment["amount"], "total_price_set"),
                                    presentment["currency_code"]) if presentment.get("amount") else None,
            payment_method=(d["payment_gateway_names"] or [None])[0], cancelled_at=when(d.get("cancelled_at")),
            prices_include_tax=raw.get("taxes_included") is True, charges=shipping_charges(raw, cur),
            paid_on_channel=raw.get("financial_status") in PAID_FINANCIAL)


class InventoryLevelSchema(Lenient):
    inventory_item_id = IdString(required=True)
    location_id = IdString(required=True)
    available = fields.Integer(required=True, allow_none=True)
    updated_at = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> ChannelStockReport:
        return ChannelStockReport(origin=Origin(current_ctx().channel, d["inventory_item_id"]),
                                  location_id=d["location_id"], available=d["available"] or 0,
                                  source_updated_at=when(d.get("updated_at")))


class VariantSchema(Lenient):
    id = IdString(required=True)
    sku = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    price = fields.String(allow_none=True)
    inventory_item_id = IdString(allow_none=True)
    inventory_quantity = fields.Integer(allow_none=True)


class ProductSchema(Lenient):
    id = IdString(required=True)
    title = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    variants = fields.List(fields.Nested(VariantSchema), load_default=list)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Product:
        ch = current_ctx().channel
        variants = [Variant(sku=v["sku"], origin=Origin(ch, v["id"]), product_id=d["id"], variant_id=v["id"],
                            inventory_item_id=v.get("inventory_item_id"), title=v.get("title"),
                            stock_quantity=v.get("inventory_quantity"))
                    for v in d["variants"] if v.get("sku")]
        return Product(origin=Origin(ch, d["id"]), title=d.get("title"), variants=variants,
                       source_updated_at=when(d.get("updated_at")))


class RefundSchema(Lenient):
    id = IdString(required=True)
    order_id = IdString(required=True)
    note = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    processed_at = fields.String(allow_none=True)
    refund_line_items = fields.List(fields.Dict(), load_default=list)
    transactions = fields.List(fields.Dict(), load_default=list)
    _raw = fields.Raw(load_only=True)

    @pre_load
    def _keep_raw(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "_raw": data}

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Refund:
        items = d["refund_line_items"]
        currency = next((((i.get("subtotal_set") or {}).get("shop_money") or {}).get("currency_code")
                         for i in items), None) or "USD"
        refunded = [t for t in d["transactions"] if t.get("kind") == "refund" and t.get("status") != "failure"]
        if refunded:
            amount = sum((decimal_str(t["amount"], "transactions.amount") for t in refunded), Decimal("0"))
            currency = refunded[0].get("currency") or currency
        else:
            amount = sum((money_set(i, "subtotal", currency).amount + money_set(i, "total_tax", currency).amount
                          for i in items), Decimal("0"))
        lines = [OrderLine(sku=(i.get("line_item") or {}).get("sku"), quantity=int(i.get("quantity") or 0),
                           unit_price=money_set(i.get("line_item") or {}, "price", currency),
                           external_id=str(i.get("line_item_id")) if i.get("line_item_id") else None)
                 for i in items]
        restock = [ln for ln, i in zip(lines, items, strict=True) if i.get("restock_type") in RESTOCKING]
        return Refund(origin=Origin(current_ctx().channel, d["id"]), amount=Money(amount, currency),
                      order_reference=d["order_id"], reason=d.get("note"), restock=restock,
                      occurred_at=when(d.get("processed_at") or d.get("created_at")), lines=lines)


class FulfillmentSchema(Lenient):
    id = IdString(required=True)
    order_id = IdString(required=True)
    tracking_company = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    tracking_numbers = fields.List(fields.String(), load_default=list)
    shipment_status = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Shipment | None:
        number = d.get("tracking_number") or next(iter(d["tracking_numbers"]), None)
        if not number:
            return None  # fulfilled without tracking: nothing a carrier can report on
        status = SHIPMENT_STATUS.get(d.get("shipment_status"))
        if status is None:
            raise Unmappable(f"shipment_status: unknown Shopify value {d.get('shipment_status')!r}")
        return Shipment(carrier=(d.get("tracking_company") or "unknown").lower(), tracking_number=number,
                        status=status, origin=Origin(current_ctx().channel, d["id"]),
                        order_reference=d["order_id"], source_updated_at=when(d.get("updated_at")))


# the status a returns/* topic means when its body does not say one
RETURN_TOPIC_STATUS = {"returns/request": ReturnStatus.REQUESTED, "returns/approve": ReturnStatus.OPEN,
                       "returns/reopen": ReturnStatus.OPEN, "returns/close": ReturnStatus.CLOSED,
                       "returns/decline": ReturnStatus.DECLINED, "returns/cancel": ReturnStatus.CANCELED,
                       "returns/process": ReturnStatus.OPEN, "returns/update": ReturnStatus.OPEN}


class ReturnSchema(Lenient):
    """returns/request and returns/approve list the lines (``return_line_items``, each naming its order line
    through ``fulfillment_line_item.line_item``) and the order as ``order: {id}``; returns/close, cancel,
    decline and reopen say only ``id``, ``order_id`` and ``status``."""

    id = IdString(required=True)
    status = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    order = fields.Dict(allow_none=True)
    order_id = IdString(allow_none=True)
    return_line_items = fields.List(fields.Dict(), load_default=list)
    _topic = fields.String(required=True, load_only=True)  # set by the handler: the body does not carry it

    @post_load
    def _make(self, d: dict[str, Any], **_: Any) -> Return:
        ctx = current_ctx()
        order_id = d.get("order_id") or (str((d.get("order") or {}).get("id") or "") or None)
        if order_id is None:
            raise Unmappable("order: the return names no order (neither order.id nor order_id)")
        raw_status = (d.get("status") or "").lower() or None
        try:
            status = ReturnStatus(raw_status) if raw_status else RETURN_TOPIC_STATUS[d["_topic"]]
        except (ValueError, KeyError):
            raise Unmappable(f"status: unknown Shopify return status {d.get('status')!r}") from None
        lines = []
        for i, item in enumerate(d["return_line_items"]):
            line = (item.get("fulfillment_line_item") or {}).get("line_item") or item.get("line_item") or {}
            quantity = item.get("quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                raise Unmappable(f"return_line_items.{i}.quantity: not a positive whole number: {quantity!r}")
            lines.append(ReturnLine(line_external_id=str(line["id"]) if line.get("id") else None, quantity=quantity,
                                    sku=line.get("sku"), reason=item.get("return_reason"),
                                    note=item.get("customer_note") or item.get("return_reason_note") or None))
        return Return(origin=Origin(ctx.channel, d["id"]), order_reference=order_id, lines=lines, status=status,
                      name=d.get("name"), reopened=d["_topic"] == "returns/reopen")


def _order(event: EventType) -> Handler:
    def handle(payload: dict[str, Any], ctx: MapContext) -> Mapped:
        order = load_with(OrderSchema, payload, ctx)
        kind = EventType.ORDER_CANCELLED if order.status is OrderStatus.CANCELLED else event
        return Mapped(kind, [order])
    return handle


def _customer(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.CUSTOMER_UPSERTED, [load_with(CustomerSchema, payload, ctx)])


def _inventory_level(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.STOCK_CHANGED, [load_with(InventoryLevelSchema, payload, ctx)])


def _product(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.PRODUCT_UPDATED, [load_with(ProductSchema, payload, ctx)])


def _refund(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    return Mapped(EventType.PAYMENT_REFUNDED, [load_with(RefundSchema, payload, ctx)])


def _return(topic: str) -> Handler:
    def handle(payload: dict[str, Any], ctx: MapContext) -> Mapped:
        body = {**payload, "_topic": topic} if isinstance(payload, dict) else payload
        return Mapped(EventType.RETURN_UPDATED, [load_with(ReturnSchema, body, ctx)])
    return handle


def _fulfillment(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    shipment = load_with(FulfillmentSchema, payload, ctx)
    return Mapped(EventType.SHIPMENT_UPDATED, [shipment] if shipment else [])


TOPICS: dict[str, Handler] = {
    "orders/create": _order(EventType.ORDER_CREATED),
    "orders/updated": _order(EventType.ORDER_UPDATED),
    "orders/paid": _order(EventType.ORDER_PAID),
    "orders/cancelled": _order(EventType.ORDER_CANCELLED),
    "orders/fulfilled": _order(EventType.ORDER_UPDATED),
    "orders/partially_fulfilled": _order(EventType.ORDER_UPDATED),
    "refunds/create": _refund,
    **{topic: _return(topic) for topic in RETURN_TOPIC_STATUS},
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
    "inventory_levels/update": _inventory_level,
    "products/create": _product,
    "products/update": _product,
    "customers/create": _customer,
    "customers/update": _customer,
}
