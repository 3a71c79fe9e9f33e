"""Order side of the Shopify sandbox's GraphQL: views of Order, LineItem, FulfillmentOrder (and its
line items), Fulfillment and Refund, and ``ShopRoot``, the query/mutation root that adds ``order``,
``orders`` (``order_fields``), ``fulfillmentOrder``, ``fulfillment``, ``refund``,
``fulfillmentCreate`` and ``fulfillmentTrackingInfoUpdate`` to the inventory root of ``resolvers``.
Field and argument names are the 2026-07 schema's; an order's values are those its webhook body
(``payloads``) carries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from graphql import GraphQLError

from sandbox.shopify import fulfillment as ful
from sandbox.shopify.fulfillment import Book, Fulfillment, FulfillmentOrder, FulfillmentOrderLine
from sandbox.shopify.model import Order, OrderLine, Store, gid, gql_time
from sandbox.shopify.order_fields import cancel_reason, customer_view, mailing_address, money_bag, orders_connection
from sandbox.shopify.payloads import CURRENCY, buyer_fields
from sandbox.shopify.resolvers import Connection, LocationView, ProductView, Root, VariantView, paginate
from sandbox.shopify.subscriptions import SubscriptionRoot

DISPLAY_FINANCIAL = {"paid": "PAID", "pending": "PENDING", "authorized": "AUTHORIZED",
                     "partially_refunded": "PARTIALLY_REFUNDED", "refunded": "REFUNDED"}


def ful_not_simulated(what: str) -> GraphQLError:
    return GraphQLError(f"{what} is not simulated by the sandbox", extensions={"code": "SANDBOX_NOT_SIMULATED"})


def _ids(store: Store, value: str, kind: str) -> int:
    return store.parse_gid(value, kind) or 0


class LineItemView:
    typename = "LineItem"

    def __init__(self, store: Store, book: Book, order: Order, line: OrderLine) -> None:
        variant = store.variants[line.variant_id]
        product = store.products[variant.product_id]
        self._s, self._v = store, variant
        self.id = gid("LineItem", line.id)
        self.sku = variant.sku
        self.title = product.title
        self.variantTitle = None if variant.title == "Default Title" else variant.title
        self.name = product.title if self.variantTitle is None else f"{product.title} - {variant.title}"
        self.quantity = line.quantity
        self.currentQuantity = 0 if order.cancelled_at else line.quantity
        left = 0 if order.cancelled_at else line.quantity - book.shipped(order.id, line.id)
        self.unfulfilledQuantity = self.fulfillableQuantity = left
        self.requiresShipping = True
        price = Decimal(variant.price)
        self.originalUnitPriceSet = self.discountedUnitPriceSet = money_bag(price)
        self.originalTotalSet = money_bag(price * line.quantity)
        self.totalDiscountSet = money_bag(0)

    @property
    def variant(self) -> VariantView:
        return VariantView(self._s, self._v)

    @property
    def product(self) -> ProductView:
        return ProductView(self._s, self._v.product_id)

    def taxLines(self, info: Any, first: int | None = None) -> list:  # noqa: N802
        return []  # the sandbox charges no tax: its webhook bodies carry no tax lines either


class OrderView:
    typename = "Order"

    def __init__(self, store: Store, book: Book, order: Order) -> None:
        self._s, self._b, self._o = store, book, order
        self.id = gid("Order", order.id)
        self.legacyResourceId = str(order.id)
        self.name = f"#{order.number}"
        self.number = order.number
        self.currencyCode = self.presentmentCurrencyCode = CURRENCY
        subtotal = sum((Decimal(store.variants[x.variant_id].price) * x.quantity for x in order.lines), Decimal(0))
        self.subtotalPriceSet = self.totalPriceSet = money_bag(subtotal)
        self.currentSubtotalPriceSet = self.currentTotalPriceSet = money_bag(0 if order.cancelled_at else subtotal)
        self.totalShippingPriceSet = self.totalTaxSet = self.totalDiscountsSet = money_bag(0)
        self.cancelReason = cancel_reason(order.cancel_reason) if order.cancelled_at else None
        self.createdAt = self.processedAt = gql_time(order.created_at)
        self.updatedAt = gql_time(order.updated_at or order.created_at)
        self.cancelledAt = gql_time(order.cancelled_at) if order.cancelled_at else None
        self.closed = order.cancelled_at is not None
        self.closedAt = self.cancelledAt
        self.confirmed = True
        cancelled_status = "REFUNDED" if order.financial_status == "paid" else "VOIDED"
        self.displayFinancialStatus = cancelled_status if order.cancelled_at else DISPLAY_FINANCIAL[
            order.financial_status]
        self.fullyPaid = order.financial_status == "paid"
        self.unpaid = not self.fullyPaid
        self.displayFulfillmentStatus = book.display_status(order)
        self.fulfillable = not order.cancelled_at and self.displayFulfillmentStatus != "FULFILLED"

    @cached_property
    def _buyer(self) -> dict:
        return buyer_fields(self._o)  # what the order's webhook body says of the buyer

    @property
    def email(self) -> str | None:
        return self._buyer["email"]

    @property
    def customer(self) -> dict | None:
        return customer_view(self._buyer["customer"])

    @property
    def shippingAddress(self) -> dict | None:  # noqa: N802
        return mailing_address(self._buyer["shipping_address"])

    @property
    def billingAddress(self) -> dict | None:  # noqa: N802
        return mailing_address(self._buyer["billing_address"])

    @property
    def paymentGatewayNames(self) -> list[str]:  # noqa: N802
        return list(self._buyer["payment_gateway_names"])

    def refunds(self, info: Any, first: int | None = None) -> list:
        found = [RefundView(self._s, self._b, self._o, r) for r in self._o.refunds]
        return found[:first] if first is not None else found

    def lineItems(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        return paginate([(x.id, LineItemView(self._s, self._b, self._o, x)) for x in self._o.lines], args)

    def fulfillmentOrders(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        if args.get("query"):
            raise ful_not_simulated("fulfillmentOrders(query:)")
        fos = self._b.orders_fos(self._o.id)
        if args.get("displayable"):  # closed and cancelled fulfillment orders are not "displayable"
            fos = [fo for fo in fos if fo.status in ful.FULFILLABLE]
        return paginate([(fo.id, FulfillmentOrderView(self._s, self._b, fo)) for fo in fos], args)

    def fulfillments(self, info: Any, first: int | None = None, query: str | None = None) -> list:
        if query:
            raise ful_not_simulated("fulfillments(query:)")
        found = [FulfillmentView(self._s, self._b, f) for f in self._b.orders_fulfillments(self._o.id)]
        return found[:first] if first is not None else found


class FulfillmentOrderLineView:
    typename = "FulfillmentOrderLineItem"

    def __init__(self, store: Store, book: Book, fo: FulfillmentOrder, line: FulfillmentOrderLine) -> None:
        order = store.orders[fo.order_id]
        order_line = next(x for x in order.lines if x.id == line.line_id)
        self._item = LineItemView(store, book, order, order_line)
        variant = store.variants[order_line.variant_id]
        self._s, self._v = store, variant
        self.id = gid("FulfillmentOrderLineItem", line.id)
        self.totalQuantity, self.remainingQuantity = line.total, line.remaining
        self.sku, self.productTitle, self.variantTitle = variant.sku, self._item.title, self._item.variantTitle
        self.inventoryItemId = gid("InventoryItem", variant.item_id)
        self.requiresShipping = True
        self.vendor = None
        self.warnings: list = []

    @property
    def lineItem(self) -> LineItemView:  # noqa: N802
        return self._item

    @property
    def variant(self) -> VariantView:
        return VariantView(self._s, self._v)


class FulfillmentOrderView:
    typename = "FulfillmentOrder"

    def __init__(self, store: Store, book: Book, fo: FulfillmentOrder) -> None:
        self._s, self._b, self._fo = store, book, fo
        order = store.orders[fo.order_id]
        self.id = gid("FulfillmentOrder", fo.id)
        self.status = fo.status
        self.requestStatus = "UNSUBMITTED"  # merchant-managed location: nothing is requested of a service
        self.orderId, self.orderName = gid("Order", order.id), f"#{order.number}"
        self.orderProcessedAt = gql_time(order.created_at)
        self.createdAt, self.updatedAt = gql_time(fo.created_at), gql_time(fo.updated_at)
        self.fulfillAt = self.fulfillBy = None
        self.fulfillmentHolds: list = []
        self.supportedActions = [{"action": "CREATE_FULFILLMENT", "externalUrl": None}] \
            if fo.status in ful.FULFILLABLE else []
        self.assignedLocation = {"name": store.locations[fo.location_id].name,
                                 "location": LocationView(store, fo.location_id)}

    @property
    def order(self) -> OrderView:
        return OrderView(self._s, self._b, self._s.orders[self._fo.order_id])

    def lineItems(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        return paginate([(x.id, FulfillmentOrderLineView(self._s, self._b, self._fo, x)) for x in self._fo.lines],
                        args)

    def fulfillments(self, info: Any, **args: Any) -> Connection:
        found = [f for f in self._b.orders_fulfillments(self._fo.order_id) if self._fo.id in f.fulfillment_order_ids]
        return paginate([(f.id, FulfillmentView(self._s, self._b, f)) for f in found], args)


class FulfillmentView:
    typename = "Fulfillment"

    def __init__(self, store: Store, book: Book, fulfillment: Fulfillment) -> None:
        self._s, self._b, self._f = store, book, fulfillment
        order = store.orders[fulfillment.order_id]
        self.id = gid("Fulfillment", fulfillment.id)
        self.legacyResourceId = str(fulfillment.id)
        self.name = f"#{order.number}-F{fulfillment.number}"  # as captured from a real shop ("#1513-F1")
        self.status = fulfillment.status
        self.displayStatus = "FULFILLED"
        self.createdAt, self.updatedAt = gql_time(fulfillment.created_at), gql_time(fulfillment.updated_at)
        self.deliveredAt = self.inTransitAt = self.estimatedDeliveryAt = None
        self.requiresShipping = True
        self.totalQuantity = sum(x.quantity for x in fulfillment.lines)

    def trackingInfo(self, info: Any, first: int | None = None) -> list[dict]:  # noqa: N802
        found = [{"number": t.number, "company": t.company, "url": t.url} for t in self._f.tracking]
        return found[:first] if first is not None else found

    @property
    def order(self) -> OrderView:
        return OrderView(self._s, self._b, self._s.orders[self._f.order_id])

    @property
    def location(self) -> LocationView:
        return LocationView(self._s, self._f.location_id)

    def fulfillmentLineItems(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        order = self._s.orders[self._f.order_id]
        lines = {x.id: x for x in order.lines}
        return paginate([(x.id, {"id": gid("FulfillmentLineItem", x.id), "quantity": x.quantity,
                                 "lineItem": LineItemView(self._s, self._b, order, lines[x.line_id])})
                         for x in self._f.lines], args)

    def fulfillmentOrders(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        return paginate([(n, FulfillmentOrderView(self._s, self._b, self._b.fulfillment_orders[n]))
                         for n in self._f.fulfillment_order_ids], args)


class RefundView:
    typename = "Refund"

    def __init__(self, store: Store, book: Book, order: Order, refund: dict) -> None:
        self._s, self._b, self._o, self._r = store, book, order, refund
        self.id = gid("Refund", refund["id"])
        self.legacyResourceId = str(refund["id"])
        self.createdAt = self.processedAt = self.updatedAt = gql_time(refund["created_at"])
        self.note = refund["note"]
        self.totalRefundedSet = money_bag(refund["amount"])

    @property
    def order(self) -> OrderView:
        return OrderView(self._s, self._b, self._o)

    def refundLineItems(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        items = []
        for n, (line, qty, restock_type) in enumerate(self._r["lines"]):
            price = Decimal(self._s.variants[line.variant_id].price)
            restocked = restock_type != "no_restock"
            items.append((n, {  # the ids, location and amounts of the refund's REST body (refund_body)
                "id": gid("RefundLineItem", self._r["id"] * 10 + n), "quantity": qty,
                "restockType": restock_type.upper(), "restocked": restocked,
                "lineItem": LineItemView(self._s, self._b, self._o, line), "priceSet": money_bag(price),
                "subtotalSet": money_bag(price * qty), "totalTaxSet": money_bag(0),
                "location": LocationView(self._s, self._o.location_id) if restocked else None}))
        return paginate(items, args)


class ShopRoot(SubscriptionRoot, Root):
    """The inventory root plus orders and fulfillments. ``shipped`` collects (fulfillment, created?) for
    the sandbox to turn into webhooks after the call."""

    def __init__(self, store: Store, idempotency: dict, book: Book) -> None:
        super().__init__(store, idempotency)
        self._b = book
        self.shipped: list[tuple[Fulfillment, bool]] = []
        self.paid: list[Order] = []  # marked paid by this call: orders/paid and orders/updated follow

    def order(self, info: Any, id: str) -> OrderView | None:  # noqa: A002
        order = self._s.orders.get(_ids(self._s, id, "Order"))
        return OrderView(self._s, self._b, order) if order else None

    def fulfillmentOrder(self, info: Any, id: str) -> FulfillmentOrderView | None:  # noqa: N802,A002
        fo = self._b.fulfillment_orders.get(_ids(self._s, id, "FulfillmentOrder"))
        return FulfillmentOrderView(self._s, self._b, fo) if fo else None

    def fulfillment(self, info: Any, id: str) -> FulfillmentView | None:  # noqa: A002
        found = self._b.fulfillments.get(_ids(self._s, id, "Fulfillment"))
        return FulfillmentView(self._s, self._b, found) if found else None

    def orders(self, info: Any, **args: Any) -> Connection:
        return orders_connection(self._s, args, lambda order: OrderView(self._s, self._b, order))

    def refund(self, info: Any, id: str) -> RefundView | None:  # noqa: A002
        number = _ids(self._s, id, "Refund")
        for order in self._s.orders.values():
            for refund in order.refunds:
                if refund["id"] == number:
                    return RefundView(self._s, self._b, order, refund)
        return None

    def node(self, info: Any, id: str) -> Any:  # noqa: A002
        for kind, lookup in (("Order", self.order), ("FulfillmentOrder", self.fulfillmentOrder),
                             ("Fulfillment", self.fulfillment), ("Refund", self.refund)):
            if id.startswith(f"gid://shopify/{kind}/"):
                return lookup(info, id=id)
        return super().node(info, id)

    def orderMarkAsPaid(self, info: Any, input: dict) -> dict:  # noqa: N802,A002
        """Records a payment for what the order still owes: its financial status becomes paid. An order that
        owes nothing (paid, refunded) or is cancelled cannot be marked paid."""
        order = self._s.orders.get(_ids(self._s, input["id"], "Order"))
        if order is None:
            return {"order": None, "userErrors": [{"field": ["id"], "message": "Order does not exist"}]}
        if order.cancelled_at or order.financial_status not in ("pending", "authorized", "partially_paid"):
            return {"order": OrderView(self._s, self._b, order),
                    "userErrors": [{"field": ["id"], "message": "Order cannot be marked as paid."}]}
        order.financial_status, order.updated_at = "paid", datetime.now(UTC)
        self.paid.append(order)
        return {"order": OrderView(self._s, self._b, order), "userErrors": []}

    def fulfillmentCreate(self, info: Any, fulfillment: dict, message: str | None = None) -> dict:  # noqa: N802
        created, errors = ful.create(self._s, self._b, fulfillment)
        if created:
            self.shipped.append((created, True))
        return {"fulfillment": FulfillmentView(self._s, self._b, created) if created else None, "userErrors": errors}

    def fulfillmentTrackingInfoUpdate(self, info: Any, fulfillmentId: str, trackingInfoInput: dict,  # noqa: N802,N803
                                      notifyCustomer: bool | None = None) -> dict:  # noqa: N803
        updated, errors = ful.update_tracking(self._s, self._b, fulfillmentId, trackingInfoInput)
        if updated:
            self.shipped.append((updated, False))
        return {"fulfillment": FulfillmentView(self._s, self._b, updated) if updated else None, "userErrors": errors}
