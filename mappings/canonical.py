"""The canonical model: what every platform's events become inside the hub.

Money is ``Decimal`` + ISO 4217 currency, never float; times are aware UTC; every record
carries its origin (channel, external id) and ``source_updated_at`` for the version guard.
The dataclasses are the objects mappers return; the marshmallow schemas (``unknown = RAISE``)
validate them and turn them into JSON and back for storage and the API.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load, validate


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    FULFILLED = "fulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class PaymentStatus(enum.StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"


class ShipmentStatus(enum.StrEnum):
    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


class ReturnStatus(enum.StrEnum):
    """Shopify's ReturnStatus: asked for, approved (goods on their way back), then closed, or refused."""

    REQUESTED = "requested"
    OPEN = "open"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELED = "canceled"


class MovementReason(enum.StrEnum):
    SALE = "sale"
    CANCEL = "cancel"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    ERP_SNAPSHOT = "erp_snapshot"
    CHANNEL_EDIT = "channel_edit"
    # a channel's own order took stock off (or put it back on) that channel's own count later than the
    # hub committed it (WooCommerce reduces when an order leaves pending); the hub's levels do not move
    CHANNEL_COUNT = "channel_count"
    ERP_DELIVERY = "erp_delivery"  # the ERP shipped an order: its committed units leave (on_hand is the ERP's count)


class EventType(enum.StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_PAID = "order.paid"
    STOCK_CHANGED = "stock.changed"
    CUSTOMER_UPSERTED = "customer.upserted"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"
    PAYMENT_DISPUTED = "payment.disputed"
    SHIPMENT_UPDATED = "shipment.updated"
    PRODUCT_UPDATED = "product.updated"
    RETURN_UPDATED = "return.updated"


# ISO 4217 minor-unit exponents that differ from 2 (the rest use 2).
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD IQD JOD KWD LYD OMR TND".split())


def currency_exponent(currency: str) -> int:
    cur = currency.upper()
    return 0 if cur in ZERO_DECIMAL else 3 if cur in THREE_DECIMAL else 2


def from_minor_units(amount: int, currency: str) -> Decimal:
    """Stripe-style integer minor units -> Decimal major units (JPY 1000 -> 1000, EUR 1000 -> 10.00)."""
    exp = currency_exponent(currency)
    return (Decimal(int(amount)) / (Decimal(10) ** exp)).quantize(Decimal(1).scaleb(-exp))


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass
class Address:
    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2 when the platform gives it
    phone: str | None = None


@dataclass
class Origin:
    channel: str
    external_id: str


@dataclass
class Customer:
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    addresses: list[Address] = field(default_factory=list)
    accepts_marketing: bool | None = None
    origin: Origin | None = None
    source_updated_at: datetime | None = None


@dataclass
class OrderLine:
    sku: str | None
    quantity: int
    unit_price: Money
    title: str | None = None
    tax: Money | None = None
    discount: Money | None = None
    external_id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    # units the channel took off its own count for this line; None: it takes what the order holds
    # (Shopify, at once); WooCommerce says it per line (``_reduced_stock``), 0 while the order is pending
    channel_taken: int | None = None
    # units the channel will take off its own count by itself later (WooCommerce: when a pending order is paid)
    channel_to_take: int = 0
    # units of the line its refunds put back on the channel's stock (restocked): no longer the order's to hold;
    # ``returned`` of them had shipped (they come back on hand), the rest had not (released)
    restocked: int = 0
    returned: int = 0
    # units of the line that left, as the channel says per line (Shopify's fulfillments); None: the order's
    # status says (fulfilled: all of it)
    shipped: int | None = None
    # the rates the channel charged on the line, in percent (21 for 21 %); empty: untaxed or not said
    tax_rates: list[Decimal] = field(default_factory=list)


class ChargeKind(enum.StrEnum):
    SHIPPING = "shipping"
    FEE = "fee"  # a surcharge, or a negative fee (WooCommerce's fee lines)


@dataclass
class Charge:
    """What an order charges beyond its lines: ``amount`` before ``discount``, tax as for the lines."""

    kind: ChargeKind
    title: str | None
    amount: Money
    discount: Money | None = None
    tax: Money | None = None
    tax_rates: list[Decimal] = field(default_factory=list)


@dataclass
class Order:
    origin: Origin
    number: str
    status: OrderStatus
    currency: str
    subtotal: Money
    shipping: Money
    tax: Money
    discount: Money
    total: Money
    lines: list[OrderLine]
    placed_at: datetime | None
    source_updated_at: datetime | None
    email: str | None = None
    customer: Customer | None = None
    shipping_address: Address | None = None
    billing_address: Address | None = None
    presentment_total: Money | None = None
    payment_method: str | None = None
    cancelled_at: datetime | None = None
    # whether unit prices, line discounts and charges include the tax (Shopify's taxes_included); the
    # amounts WooCommerce's REST API gives are always without it
    prices_include_tax: bool = False
    charges: list[Charge] = field(default_factory=list)
    # the channel says the shopper paid it (Shopify's financial status; WooCommerce's date_paid or a paid
    # status), as opposed to a status the hub derives from gateway payments or shipments
    paid_on_channel: bool = False


@dataclass
class StockLevel:
    sku: str
    warehouse: str
    on_hand: int
    committed: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


@dataclass
class StockMovement:
    sku: str
    warehouse: str
    delta: int
    reason: MovementReason
    source_event: int | None = None


@dataclass
class ChannelStockReport:
    """A channel says: this item has ``available`` units at this location (a manual edit, a sale,
    or our own write coming back). Mapped to a ledger movement once the links resolve it."""

    origin: Origin  # channel + the channel's item id (Shopify inventory_item_id, Woo product id)
    location_id: str | None
    available: int
    sku: str | None = None
    source_updated_at: datetime | None = None


@dataclass
class Variant:
    sku: str
    origin: Origin
    product_id: str
    variant_id: str | None = None
    inventory_item_id: str | None = None
    title: str | None = None
    price: Money | None = None
    stock_quantity: int | None = None


@dataclass
class Product:
    origin: Origin
    title: str | None
    variants: list[Variant]
    source_updated_at: datetime | None = None


@dataclass
class Payment:
    provider: str
    external_id: str
    amount: Money
    status: PaymentStatus
    order_reference: str | None = None
    refunded: Money | None = None
    customer_email: str | None = None
    occurred_at: datetime | None = None
    source_updated_at: datetime | None = None
    origin: Origin | None = None


@dataclass
class Refund:
    origin: Origin
    amount: Money
    order_reference: str | None = None
    payment_external_id: str | None = None
    reason: str | None = None
    restock: list[OrderLine] = field(default_factory=list)
    occurred_at: datetime | None = None
    # every line item the refund names, restocked or not (Shopify's refund_line_items); empty: not said
    lines: list[OrderLine] = field(default_factory=list)


@dataclass
class TrackingEvent:
    status: ShipmentStatus
    occurred_at: datetime | None
    message: str | None = None
    location: str | None = None


@dataclass
class Shipment:
    carrier: str
    tracking_number: str
    status: ShipmentStatus
    events: list[TrackingEvent] = field(default_factory=list)
    origin: Origin | None = None
    order_reference: str | None = None
    estimated_delivery: datetime | None = None
    delivered_at: datetime | None = None
    source_updated_at: datetime | None = None


@dataclass
class ReturnLine:
    """Units of one order line the customer sends back (``line_external_id``: the channel's line item id)."""

    line_external_id: str | None
    quantity: int
    sku: str | None = None
    reason: str | None = None
    note: str | None = None


@dataclass
class Return:
    """A return as its channel keeps it. ``lines`` empty: the delivery did not list them (a status change)."""

    origin: Origin
    order_reference: str | None
    lines: list[ReturnLine] = field(default_factory=list)
    occurred_at: datetime | None = None
    status: ReturnStatus = ReturnStatus.REQUESTED
    name: str | None = None
    reopened: bool = False  # the channel reopened it: it may go back from closed/declined/canceled to open


Record = (Order | Customer | Product | ChannelStockReport | Payment | Refund | Shipment | Return |
          StockMovement | StockLevel)


@dataclass
class Mapped:
    """What a mapper returns for one delivery: the canonical event type and its records."""

    event_type: EventType
    records: list[Any]


# ---- schemas (RAISE): validation and JSON round trips of the canonical objects ----------------


class AwareDateTime(fields.AwareDateTime):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=None, **kwargs)


class _Canonical(Schema):
    class Meta:
        unknown = RAISE

    __model__: type = object

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Any:
        return self.__model__(**data)


class MoneySchema(_Canonical):
    __model__ = Money
    amount = fields.Decimal(required=True, as_string=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


class AddressSchema(_Canonical):
    __model__ = Address
    name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    line1 = fields.String(allow_none=True)
    line2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class OriginSchema(_Canonical):
    __model__ = Origin
    channel = fields.String(required=True)
    external_id = fields.String(required=True)


class CustomerSchema(_Canonical):
    __model__ = Customer
    email = fields.Email(required=True, allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    addresses = fields.List(fields.Nested(AddressSchema), load_default=list)
    accepts_marketing = fields.Boolean(allow_none=True)
    origin = fields.Nested(OriginSchema, allow_none=True)
    source_updated_at = AwareDateTime(allow_none=True)


class OrderLineSchema(_Canonical):
    __model__ = OrderLine
    sku = fields.String(required=True, allow_none=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0))
    unit_price = fields.Nested(MoneySchema, required=True)
    title = fields.String(allow_none=True)
    tax = fields.Nested(MoneySchema, allow_none=True)
    discount = fields.Nested(MoneySchema, allow_none=True)
    external_id = fields.String(allow_none=True)
    product_id = fields.String(allow_none=True)
    variant_id = fields.String(allow_none=True)
    channel_taken = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    channel_to_take = fields.Integer(load_default=0, validate=validate.Range(min=0))
    restocked = fields.Integer(load_default=0, validate=validate.Range(min=0))
    returned = fields.Integer(load_default=0, validate=validate.Range(min=0))
    shipped = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    tax_rates = fields.List(fields.Decimal(as_string=True), load_default=list)


class ChargeSchema(_Canonical):
    __model__ = Charge
    kind = fields.Enum(ChargeKind, required=True)
    title = fields.String(allow_none=True)
    amount = fields.Nested(MoneySchema, required=True)
    discount = fields.Nested(MoneySchema, allow_none=True)
    tax = fields.Nested(MoneySchema, allow_none=True)
    tax_rates = fields.List(fields.Decimal(as_string=True), load_default=list)


class OrderSchema(_Canonical):
    __model__ = Order
    origin = fields.Nested(OriginSchema, required=True)
    number = fields.String(required=True)
    status = fields.Enum(OrderStatus, required=True)
    currency = fields.String(required=True)
    subtotal = fields.Nested(MoneySchema, required=True)
    shipping = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    discount = fields.Nested(MoneySchema, required=True)
    total = fields.Nested(MoneySchema, required=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)
    placed_at = AwareDateTime(required=True, allow_none=True)
    source_updated_at = AwareDateTime(required=True, allow_none=True)
    email = fields.String(allow_none=True)
    customer = fields.Nested(CustomerSchema, allow_none=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)
    billing_address = fields.Nested(AddressSchema, allow_none=True)
    presentment_total = fields.Nested(MoneySchema, allow_none=True)
    payment_method = fields.String(allow_none=True)
    cancelled_at = AwareDateTime(allow_none=True)
    prices_include_tax = fields.Boolean(load_default=False)
    charges = fields.List(fields.Nested(ChargeSchema), load_default=list)
    paid_on_channel = fields.Boolean(load_default=False)


class PaymentSchema(_Canonical):
    __model__ = Payment
    provider = fields.String(required=True)
    external_id = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    status = fields.Enum(PaymentStatus, required=True)
    order_reference = fields.String(allow_none=True)
    refunded = fields.Nested(MoneySchema, allow_none=True)
    customer_email = fields.String(allow_none=True)
    occurred_at = AwareDateTime(allow_none=True)
    source_updated_at = AwareDateTime(allow_none=True)
    origin = fields.Nested(OriginSchema, allow_none=True)


class TrackingEventSchema(_Canonical):
    __model__ = TrackingEvent
    status = fields.Enum(ShipmentStatus, required=True)
    occurred_at = AwareDateTime(required=True, allow_none=True)
    message = fields.String(allow_none=True)
    location = fields.String(allow_none=True)


class ShipmentSchema(_Canonical):
    __model__ = Shipment
    carrier = fields.String(required=True)
    tracking_number = fields.String(required=True)
    status = fields.Enum(ShipmentStatus, required=True)
    events = fields.List(fields.Nested(TrackingEventSchema), load_default=list)
    origin = fields.Nested(OriginSchema, allow_none=True)
    order_reference = fields.String(allow_none=True)
    estimated_delivery = AwareDateTime(allow_none=True)
    delivered_at = AwareDateTime(allow_none=True)
    source_updated_at = AwareDateTime(allow_none=True)


class StockLevelSchema(_Canonical):
    __model__ = StockLevel
    sku = fields.String(required=True)
    warehouse = fields.String(required=True)
    on_hand = fields.Integer(required=True)
    committed = fields.Integer(load_default=0)


class StockMovementSchema(_Canonical):
    __model__ = StockMovement
    sku = fields.String(required=True)
    warehouse = fields.String(required=True)
    delta = fields.Integer(required=True)
    reason = fields.Enum(MovementReason, required=True)
    source_event = fields.Integer(allow_none=True)


class ChannelStockReportSchema(_Canonical):
    __model__ = ChannelStockReport
    origin = fields.Nested(OriginSchema, required=True)
    location_id = fields.String(required=True, allow_none=True)
    available = fields.Integer(required=True)
    sku = fields.String(allow_none=True)
    source_updated_at = AwareDateTime(allow_none=True)


class VariantSchema(_Canonical):
    __model__ = Variant
    sku = fields.String(required=True)
    origin = fields.Nested(OriginSchema, required=True)
    product_id = fields.String(required=True)
    variant_id = fields.String(allow_none=True)
    inventory_item_id = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    price = fields.Nested(MoneySchema, allow_none=True)
    stock_quantity = fields.Integer(allow_none=True)


class ProductSchema(_Canonical):
    __model__ = Product
    origin = fields.Nested(OriginSchema, required=True)
    title = fields.String(required=True, allow_none=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)
    source_updated_at = AwareDateTime(allow_none=True)


class RefundSchema(_Canonical):
    __model__ = Refund
    origin = fields.Nested(OriginSchema, required=True)
    amount = fields.Nested(MoneySchema, required=True)
    order_reference = fields.String(allow_none=True)
    payment_external_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    restock = fields.List(fields.Nested(OrderLineSchema), load_default=list)
    occurred_at = AwareDateTime(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), load_default=list)


class ReturnLineSchema(_Canonical):
    __model__ = ReturnLine
    line_external_id = fields.String(required=True, allow_none=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))
    sku = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class ReturnSchema(_Canonical):
    __model__ = Return
    origin = fields.Nested(OriginSchema, required=True)
    order_reference = fields.String(required=True, allow_none=True)
    lines = fields.List(fields.Nested(ReturnLineSchema), load_default=list)
    occurred_at = AwareDateTime(allow_none=True)
    status = fields.Enum(ReturnStatus, required=True)
    name = fields.String(allow_none=True)
    reopened = fields.Boolean(load_default=False)


SCHEMA_FOR: dict[type, type[Schema]] = {
    Customer: CustomerSchema, Order: OrderSchema, Payment: PaymentSchema, Shipment: ShipmentSchema,
    StockLevel: StockLevelSchema, StockMovement: StockMovementSchema, ChannelStockReport: ChannelStockReportSchema,
    Product: ProductSchema, Refund: RefundSchema, Return: ReturnSchema,
}


def validate_record(schema: Schema, record: Any) -> Any:
    """Round-trip a mapper's object through its canonical schema; raises ValidationError."""
    return schema.load(schema.dump(record))


