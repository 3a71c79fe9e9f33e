"""What changed in one Shopify channel's orders, as the webhooks would have delivered it (a ChangeSource).

``orders(query: "updated_at:>'<since>Z'", sortKey: UPDATED_AT)``, oldest change first, ``ORDERS_PAGE``
orders per call with their line items, fulfillments and refunds (costs in ``consts``). Shopify's cursors
carry the sort value: an order changed while the pages are read moves behind the cursor and is read
again in its new version, never skipped. A line-item connection holding more than the page is read on
with ``order``, ``fulfillment`` or ``refund`` calls of its own before the order is handed over. Each order
becomes the REST body of ``orders/updated`` (``rest_order``); its version is its ``updatedAt``, which
Shopify keeps in whole seconds.

The app needs ``read_orders``, and ``read_all_orders`` for orders placed more than 60 days ago: without it
Shopify leaves those out of ``orders`` even when they changed since.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.outbound import Change, Retryable

from .client import ShopifyClient
from .consts import MORE_ITEMS_PAGE, MORE_LINES_PAGE, ORDER_LINES_PAGE, ORDERS_PAGE
from .rest_order import (
    FULFILLMENT_LINE_FRAGMENTS,
    LINE_FRAGMENTS,
    ORDER_FRAGMENTS,
    REFUND_LINE_FRAGMENTS,
    rest_order,
)

VERSION_TIME = "%Y-%m-%dT%H:%M:%S"  # a Change's version: UTC, sorts as time

CHANGED_ORDERS = """
query HubChangedOrders($first: Int!, $after: String, $query: String!, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...HubOrder }
    pageInfo { hasNextPage endCursor }
  }
}
""" + ORDER_FRAGMENTS

MORE_ORDER_LINES = """
query HubOrderLines($id: ID!, $first: Int!, $after: String) {
  order(id: $id) { lineItems(first: $first, after: $after) { nodes { ...HubLine } pageInfo { hasNextPage endCursor } } }
}
""" + LINE_FRAGMENTS

MORE_FULFILLMENT_LINES = """
query HubFulfillmentLines($id: ID!, $first: Int!, $after: String) {
  fulfillment(id: $id) {
    fulfillmentLineItems(first: $first, after: $after) {
      nodes { ...HubFulfillmentLine } pageInfo { hasNextPage endCursor }
    }
  }
}
""" + FULFILLMENT_LINE_FRAGMENTS

MORE_REFUND_LINES = """
query HubRefundLines($id: ID!, $first: Int!, $after: String) {
  refund(id: $id) {
    refundLineItems(first: $first, after: $after) { nodes { ...HubRefundLine } pageInfo { hasNextPage endCursor } }
  }
}
""" + REFUND_LINE_FRAGMENTS


def version(moment: str) -> str:
    """A GraphQL DateTime (``2026-12-04T10:00:00Z``) -> the Change's version text, UTC."""
    return datetime.fromisoformat(moment).astimezone(UTC).strftime(VERSION_TIME)


class ShopifyOrderChanges(ShopifyClient):
    """ChangeSource of one Shopify channel's orders (``resource`` orders); ``calls`` counts every call."""

    resource = "orders"

    def changed_since(self, since: str) -> Iterator[list[Change]]:
        """Orders changed after ``since`` (UTC ``YYYY-MM-DDTHH:MM:SS``), oldest change first, a page per call."""
        variables = {"first": ORDERS_PAGE, "after": None, "query": f"updated_at:>'{since}Z'",
                     "lines": ORDER_LINES_PAGE}
        while True:
            data = self.execute(CHANGED_ORDERS, variables, "list changed orders")["orders"]
            yield [self._change(node) for node in data["nodes"]]
            if not data["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = data["pageInfo"]["endCursor"]

    def _change(self, node: dict[str, Any]) -> Change:
        self._complete(node)
        body = rest_order(node)
        return Change("orders/updated", f"order:{body['id']}", version(node["updatedAt"]), body,
                      order_id=str(body["id"]), topic_if_new="orders/create")

    def _complete(self, node: dict[str, Any]) -> None:
        """Read on every line-item connection of the order that holds more than the page read with it."""
        self._read_on(node["lineItems"], MORE_ORDER_LINES, node["id"], "order", "lineItems", MORE_LINES_PAGE)
        for f in node["fulfillments"]:
            self._read_on(f["fulfillmentLineItems"], MORE_FULFILLMENT_LINES, f["id"], "fulfillment",
                          "fulfillmentLineItems", MORE_ITEMS_PAGE)
        for r in node["refunds"]:
            self._read_on(r["refundLineItems"], MORE_REFUND_LINES, r["id"], "refund", "refundLineItems",
                          MORE_ITEMS_PAGE)

    def _read_on(self, connection: dict[str, Any], query: str, owner: str, root: str, field: str,
                 page: int) -> None:
        info = connection["pageInfo"]
        while info["hasNextPage"]:
            data = self.execute(query, {"id": owner, "first": page, "after": info["endCursor"]},
                                f"more {field}")[root]
            if data is None:  # deleted since its order was listed: the next backfill reads what is left
                raise Retryable(f"shopify {root} {owner}: gone while its {field} were read")
            connection["nodes"] += data[field]["nodes"]
            info = data[field]["pageInfo"]
        connection["pageInfo"] = info
