"""Fulfillment orders and fulfillments of the Shopify sandbox, as Admin API 2026-07 models them.

Placing an order opens one fulfillment order (status OPEN) at the order's location, one line per
order line. ``fulfillmentCreate`` ships some or all remaining quantities of one order's fulfillment
orders in one fulfillment: a fulfillment order with nothing left becomes CLOSED, a partly shipped one
IN_PROGRESS, and shipped units leave ``committed`` (on_hand drops, available does not move, so no
``inventory_levels/update``). Cancelling an order closes its fulfillment orders.

The user errors follow answers captured from real shops (field ``["fulfillment"]``; the
"unfulfillable status" and "Invalid fulfillment order line item quantity" messages); the messages
for an unknown fulfillment order and for mixing orders are the sandbox's own wording. Plain state,
no I/O: the sandbox turns the returned fulfillments into webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.shopify.model import Order, Store

FULFILLABLE = ("OPEN", "IN_PROGRESS")
QUANTITY_ERROR = "Invalid fulfillment order line item quantity requested."
# Shopify builds the tracking URL itself for companies it knows. The UPS form is the one in Shopify's
# fulfillments/create example (corpus); the others are the carriers' public tracking pages.
TRACKING_URLS = {
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}&brand=DHL",
}


@dataclass
class FulfillmentOrderLine:
    id: int
    line_id: int  # the order's LineItem
    total: int
    remaining: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    lines: list[FulfillmentOrderLine]
    created_at: datetime
    updated_at: datetime
    status: str = "OPEN"


@dataclass
class Tracking:
    number: str | None
    company: str | None
    url: str | None


@dataclass
class FulfillmentLine:
    id: int
    line_id: int
    quantity: int


@dataclass
class Fulfillment:
    id: int
    order_id: int
    number: int  # 1, 2, ... within the order: "#1001-F1" in GraphQL, "#1001.1" in REST
    location_id: int
    fulfillment_order_ids: list[int]
    lines: list[FulfillmentLine]
    tracking: list[Tracking]
    notify_customer: bool
    created_at: datetime
    updated_at: datetime
    status: str = "SUCCESS"


@dataclass
class Book:
    """Every fulfillment order and fulfillment of the shop, by id, and each order's, in creation order."""

    fulfillment_orders: dict[int, FulfillmentOrder] = field(default_factory=dict)
    fulfillments: dict[int, Fulfillment] = field(default_factory=dict)

    def orders_fos(self, order_id: int) -> list[FulfillmentOrder]:
        return [fo for fo in self.fulfillment_orders.values() if fo.order_id == order_id]

    def orders_fulfillments(self, order_id: int) -> list[Fulfillment]:
        return [f for f in self.fulfillments.values() if f.order_id == order_id]

    def shipped(self, order_id: int, line_id: int) -> int:
        return sum(x.quantity for f in self.orders_fulfillments(order_id) for x in f.lines if x.line_id == line_id)

    def display_status(self, order: Order) -> str:
        """OrderDisplayFulfillmentStatus: UNFULFILLED, PARTIALLY_FULFILLED or FULFILLED."""
        shipped = sum(self.shipped(order.id, line.id) for line in order.lines)
        if shipped == 0:
            return "UNFULFILLED"
        return "FULFILLED" if shipped >= sum(line.quantity for line in order.lines) else "PARTIALLY_FULFILLED"


def _error(path: list[str], message: str) -> dict:
    return {"field": path, "message": message}  # fulfillmentCreate answers UserError: no code


def open_for(store: Store, book: Book, order: Order) -> FulfillmentOrder:
    """The fulfillment order Shopify opens with a new order, at the order's location."""
    fo = FulfillmentOrder(store.next_id("FulfillmentOrder"), order.id, order.location_id,
                          [FulfillmentOrderLine(store.next_id("FulfillmentOrderLineItem"), line.id, line.quantity,
                                                line.quantity) for line in order.lines],
                          order.created_at, order.created_at)
    book.fulfillment_orders[fo.id] = fo
    return fo


def close_for_cancel(book: Book, order: Order) -> None:
    for fo in book.orders_fos(order.id):
        if fo.status in FULFILLABLE:
            fo.status, fo.updated_at = "CLOSED", order.cancelled_at or datetime.now(UTC)


def refund_unshipped(book: Book, order: Order, line_id: int, qty: int) -> None:
    """A refund that cancels (restocks) unshipped units takes them off the open fulfillment orders; one left
    with nothing to ship closes."""
    for fo in book.orders_fos(order.id):
        if fo.status not in FULFILLABLE:
            continue
        for line in fo.lines:
            if line.line_id == line_id and qty:
                n = min(qty, line.remaining)
                line.remaining, line.total, qty = line.remaining - n, line.total - n, qty - n
        if all(x.remaining == 0 for x in fo.lines):
            fo.status = "CLOSED"
        fo.updated_at = order.updated_at or datetime.now(UTC)


def tracking_from(info: dict | None) -> list[Tracking]:
    """FulfillmentTrackingInput -> tracking entries (one per number), URLs built for known companies."""
    if not info:
        return []
    company = info.get("company")
    numbers = info.get("numbers") or ([info["number"]] if info.get("number") else [])
    urls = info.get("urls") or ([info["url"]] if info.get("url") else [])
    if not numbers:
        return [Tracking(None, company, urls[0] if urls else None)] if company or urls else []
    out = []
    for i, number in enumerate(numbers):
        url = urls[i] if i < len(urls) else None
        if url is None and company in TRACKING_URLS:
            url = TRACKING_URLS[company].format(number)
        out.append(Tracking(number, company, url))
    return out


def create(store: Store, book: Book, data: dict) -> tuple[Fulfillment | None, list[dict]]:
    """``fulfillmentCreate``: validate every requested fulfillment order and line, then ship all or nothing."""
    plan: list[tuple[FulfillmentOrder, FulfillmentOrderLine, int]] = []
    order_id: int | None = None
    for group in data.get("lineItemsByFulfillmentOrder") or []:
        fo = book.fulfillment_orders.get(store.parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder") or 0)
        if fo is None:
            return None, [_error(["fulfillment"], "Fulfillment order does not exist.")]
        if order_id is not None and fo.order_id != order_id:
            return None, [_error(["fulfillment"], "All fulfillment orders must belong to the same order.")]
        order_id = fo.order_id
        if fo.status not in FULFILLABLE:
            return None, [_error(["fulfillment"], f"Fulfillment order {fo.id} has an unfulfillable status= "
                                     f"{fo.status.lower()}.")]
        wanted = group.get("fulfillmentOrderLineItems")
        if not wanted:  # none listed: everything still remaining on the fulfillment order
            plan += [(fo, line, line.remaining) for line in fo.lines if line.remaining > 0]
            continue
        by_id = {line.id: line for line in fo.lines}
        for item in wanted:
            line = by_id.get(store.parse_gid(item["id"], "FulfillmentOrderLineItem") or 0)
            if line is None or not 0 < item["quantity"] <= line.remaining:
                return None, [_error(["fulfillment"], QUANTITY_ERROR)]
            plan.append((fo, line, item["quantity"]))
    if order_id is None or not plan:
        return None, [_error(["fulfillment"], QUANTITY_ERROR)]
    return _ship(store, book, store.orders[order_id], plan, data), []


def _ship(store: Store, book: Book, order: Order, plan: list, data: dict) -> Fulfillment:
    now = datetime.now(UTC)
    fos: list[FulfillmentOrder] = []
    lines = []
    for fo, line, qty in plan:
        line.remaining -= qty
        if fo not in fos:
            fos.append(fo)
        lines.append(FulfillmentLine(store.next_id("FulfillmentLineItem"), line.line_id, qty))
        variant = store.variants[next(x.variant_id for x in order.lines if x.id == line.line_id)]
        level = store.levels[(variant.item_id, fo.location_id)]
        level.committed -= qty  # shipped: leaves committed and on_hand; available is unchanged
        level.updated_at = now
    for fo in fos:
        fo.status = "CLOSED" if all(x.remaining == 0 for x in fo.lines) else "IN_PROGRESS"
        fo.updated_at = now
    fulfillment = Fulfillment(store.next_id("Fulfillment"), order.id, len(book.orders_fulfillments(order.id)) + 1,
                              fos[0].location_id, [fo.id for fo in fos], lines, tracking_from(data.get("trackingInfo")),
                              bool(data.get("notifyCustomer")), now, now)
    book.fulfillments[fulfillment.id] = fulfillment
    order.updated_at = now
    return fulfillment


def update_tracking(store: Store, book: Book, fulfillment_id: str, info: dict) -> tuple[Fulfillment | None, list]:
    """``fulfillmentTrackingInfoUpdate``: replaces the fulfillment's tracking."""
    fulfillment = book.fulfillments.get(store.parse_gid(fulfillment_id, "Fulfillment") or 0)
    if fulfillment is None:
        return None, [_error(["fulfillmentId"], "Fulfillment does not exist.")]
    fulfillment.tracking = tracking_from(info)
    fulfillment.updated_at = datetime.now(UTC)
    return fulfillment, []
