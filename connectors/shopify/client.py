"""Shopify Admin GraphQL, one function per call the hub makes.

The URL and version come from ShopifyAPI's ``Session`` and ``ApiVersion`` (the library knows
versions up to 2024-10, so the pinned one is defined through its ``ApiVersion`` API). The request
itself goes through ``requests``: ``shopify.GraphQL.execute`` has no timeout and prints error
bodies to stdout, and the hub needs a timeout on every call and the status and headers of every
answer for its retry table. ``api_url`` (a sandbox) replaces ``https://<shop>`` when set.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
import shopify

from connectors.base import ChannelSettings
from connectors.outbound import (
    LevelWrite,
    Listing,
    Permanent,
    PushResult,
    Retryable,
    Throttled,
    call_failed,
    error_for_status,
    json_answer,
)

from .consts import (
    API_VERSION,
    FULFILLABLE_STATUSES,
    FULFILLMENT_ORDER_LINES_PAGE,
    FULFILLMENT_ORDERS_PAGE,
    FULFILLMENTS_PAGE,
    MAX_INPUT_ITEMS,
    MAX_THROTTLE_WAITS,
    NODE_COST,
    STALE_CODE,
    TRACKING_PAGE,
    VARIANTS_PAGE,
)

logger = logging.getLogger(__name__)

FIND_VARIANTS = """
query HubFindVariants($query: String!, $first: Int!, $after: String, $location: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      id
      sku
      product { id }
      inventoryItem {
        id
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

READ_LEVELS = """
query HubReadLevels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
    }
  }
}
"""

SET_QUANTITIES = """
mutation HubSetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

MARK_PAID = """
mutation MarkPaid($input: OrderMarkAsPaidInput!) {
  orderMarkAsPaid(input: $input) { order { id displayFinancialStatus } userErrors { field message } }
}"""
PAID_FINANCIAL = ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")  # displayFinancialStatus once the money was taken

ORDER_STATE = """
query HubOrderState($id: ID!, $fulfillmentOrders: Int!, $fulfillments: Int!, $tracking: Int!) {
  order(id: $id) {
    id
    name
    cancelledAt
    displayFinancialStatus
    displayFulfillmentStatus
    fulfillmentOrders(first: $fulfillmentOrders) { nodes { id status } }
    fulfillments(first: $fulfillments) { id name status trackingInfo(first: $tracking) { number company url } }
  }
}
"""

FULFILLMENT_ORDER_LINES = """
query HubFulfillmentOrderLines($id: ID!, $lines: Int!) {
  fulfillmentOrder(id: $id) { id status lineItems(first: $lines) { nodes { id sku remainingQuantity } } }
}
"""

FULFILLMENT_CREATE = """
mutation HubFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo(first: 1) { number company url } }
    userErrors { field message }
  }
}
"""


def gid(kind: str, numeric: str) -> str:
    return numeric if numeric.startswith("gid://") else f"gid://shopify/{kind}/{numeric}"


def numeric_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]


class ApiSession(shopify.Session):
    """ShopifyAPI's session; ``base_url`` points it at another host (a sandbox) when given."""

    def __init__(self, shop: str, version: str, token: str, base_url: str | None = None) -> None:
        if version not in shopify.ApiVersion.versions:
            shopify.ApiVersion.define_version(shopify.Release(version))
        super().__init__(shop, version, token)
        self.base_url = base_url.rstrip("/") if base_url else None

    @property
    def site(self) -> str:
        return self.version.api_path(self.base_url) if self.base_url else super().site


class ShopifyClient:
    """One Shopify channel's GraphQL transport: session, timeout, and THROTTLED answers waited out."""

    def __init__(self, channel: ChannelSettings, http: requests.Session | None = None) -> None:
        x = channel.extra
        self.channel = channel.id
        self.session = ApiSession(x["shop"], x.get("api_version") or API_VERSION, x["access_token"], x.get("api_url"))
        self.timeout_s = channel.timeout_s
        self.http = http or requests.Session()
        self.calls = 0
        self.bucket_size: float | None = None  # the shop's maximumAvailable, learnt from the first answer
        # the version Shopify answered with (X-Shopify-API-Version): one it retired is answered with the oldest
        # it still serves, so this differs from the session's when the pinned version is too old
        self.served_version: str | None = None

    def execute(self, query: str, variables: dict[str, Any], what: str) -> dict[str, Any]:
        """One GraphQL call; waits out THROTTLED answers as the cost extension says."""
        for _ in range(MAX_THROTTLE_WAITS):
            self.calls += 1
            try:
                r = self.http.post(self.session.site + "/graphql.json", timeout=self.timeout_s,
                                   json={"query": query, "variables": variables},
                                   headers={"X-Shopify-Access-Token": self.session.token,
                                            "Content-Type": "application/json", "Accept": "application/json"})
            except requests.RequestException as exc:
                raise call_failed(exc, f"shopify {what}") from exc
            self.served_version = r.headers.get("X-Shopify-API-Version") or self.served_version
            if (err := error_for_status(r.status_code, r.text, r.headers, f"shopify {what}")) is not None:
                if isinstance(err, Throttled):
                    time.sleep(err.seconds or 1.0)
                    continue
                raise err
            body = json_answer(r, f"shopify {what}")
            status = ((body.get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
            if status.get("maximumAvailable"):
                self.bucket_size = float(status["maximumAvailable"])
            wait = throttled_wait(body)
            if wait is not None and _over_bucket(body):
                raise Permanent(f"shopify {what}: the query costs more than the shop's bucket holds: {_cost(body)}")
            if wait is not None:
                logger.info("shopify throttled: waiting %.2fs", wait, extra={"channel": self.channel})
                time.sleep(wait)
                continue
            if body.get("errors"):
                raise Permanent(f"shopify {what}: {body['errors']}")
            return body["data"]
        raise Retryable(f"shopify {what}: still throttled after {MAX_THROTTLE_WAITS} waits")


class ShopifyStock(ShopifyClient):
    """StockTarget for one Shopify channel: writes ``available`` at the channel's first location."""

    batch_size = MAX_INPUT_ITEMS
    cheap_reads = False  # a level read costs ~3 points per SKU; a 250-SKU write costs 10
    compare_and_set = True  # inventorySetQuantities' changeFromQuantity

    def __init__(self, channel: ChannelSettings, http: requests.Session | None = None) -> None:
        super().__init__(channel, http)
        self.location = gid("Location", next(iter(channel.locations)))

    @property
    def page(self) -> int:
        """SKUs per lookup: as many as one query may cost within the shop's bucket."""
        if self.bucket_size is None:
            return VARIANTS_PAGE
        return max(1, min(VARIANTS_PAGE, int((self.bucket_size - 2) // NODE_COST)))

    # -- StockTarget ---------------------------------------------------------------------------
    def find(self, skus: list[str]) -> dict[str, Listing]:
        found: dict[str, Listing] = {}
        page = self.page
        for i in range(0, len(skus), page):
            chunk = skus[i:i + page]
            query = " OR ".join(f'sku:"{s}"' for s in chunk)
            after = None
            while True:
                data = self.execute(FIND_VARIANTS, {"query": query, "first": page, "after": after,
                                                    "location": self.location}, "find variants")["productVariants"]
                for node in data["nodes"]:
                    if node["sku"] in chunk and node["sku"] not in found:
                        item = node["inventoryItem"]
                        found[node["sku"]] = Listing(
                            sku=node["sku"], item_id=numeric_id(item["id"]),
                            product_id=numeric_id(node["product"]["id"]), variant_id=numeric_id(node["id"]),
                            quantity=_available(item.get("inventoryLevel")))
                if not data["pageInfo"]["hasNextPage"]:
                    break
                after = data["pageInfo"]["endCursor"]
        return found

    def read(self, listings: list[Listing]) -> dict[str, int]:
        out: dict[str, int] = {}
        page = self.page
        for i in range(0, len(listings), page):
            chunk = listings[i:i + page]
            by_item = {gid("InventoryItem", li.item_id): li.sku for li in chunk}
            nodes = self.execute(READ_LEVELS, {"ids": list(by_item), "location": self.location}, "read levels")["nodes"]
            for node in nodes:
                if node and node.get("id") in by_item:
                    q = _available(node.get("inventoryLevel"))
                    if q is not None:
                        out[by_item[node["id"]]] = q
        return out

    def push_levels(self, writes: list[LevelWrite], key: str) -> PushResult:
        result = PushResult()
        for n, i in enumerate(range(0, len(writes), self.batch_size)):
            chunk = writes[i:i + self.batch_size]
            self._set_chunk(chunk, f"{key}-{n}", result)
        return result

    def _set_chunk(self, chunk: list[LevelWrite], key: str, result: PushResult) -> None:
        quantities = [{"inventoryItemId": gid("InventoryItem", w.listing.item_id), "locationId": self.location,
                       "quantity": w.quantity, "changeFromQuantity": w.expected} for w in chunk]
        variables = {"key": key, "input": {"name": "available", "reason": "correction",
                                           "referenceDocumentUri": f"gid://hub/StockPush/{key}",
                                           "quantities": quantities}}
        calls = self.calls
        payload = self.execute(SET_QUANTITIES, variables, "inventorySetQuantities")["inventorySetQuantities"]
        result.calls += self.calls - calls
        errors = payload.get("userErrors") or []
        if not errors:
            result.written.update({w.listing.sku: w.quantity for w in chunk})
            return
        if any(e.get("code") != STALE_CODE for e in errors):
            raise Permanent(f"shopify inventorySetQuantities refused: {errors}")
        # a compare-and-set went stale: nothing in the call was applied; the errors name which quantities
        result.stale.update(chunk[i].listing.sku for i in _stale_indices(errors, len(chunk)))


def _stale_indices(errors: list[dict[str, Any]], size: int) -> list[int]:
    """Which quantities the CHANGE_FROM_QUANTITY_STALE errors point at (``field``: input, quantities, i,
    changeFromQuantity); all of them when a path does not say."""
    out: set[int] = set()
    for e in errors:
        path = e.get("field") or []
        if len(path) < 3 or path[:2] != ["input", "quantities"] or not str(path[2]).isdigit() \
                or int(path[2]) >= size:
            return list(range(size))
        out.add(int(path[2]))
    return sorted(out)


def _available(level: dict[str, Any] | None) -> int | None:
    for q in (level or {}).get("quantities") or []:
        if q.get("name") == "available":
            return int(q["quantity"])
    return None


def _cost(body: dict[str, Any]) -> dict[str, Any]:
    return (body.get("extensions") or {}).get("cost") or {}


def _over_bucket(body: dict[str, Any]) -> bool:
    """THROTTLED for a cost the bucket cannot hold even when full: no wait makes it pass."""
    cost = _cost(body)
    bucket = (cost.get("throttleStatus") or {}).get("maximumAvailable")
    return bucket is not None and float(cost.get("requestedQueryCost") or 0) > float(bucket)


def throttled_wait(body: dict[str, Any]) -> float | None:
    """Seconds to wait when Shopify answered THROTTLED: until the bucket holds the request's cost."""
    errors = body.get("errors")
    if not isinstance(errors, list) or not any((e.get("extensions") or {}).get("code") == "THROTTLED"
                                               for e in errors):
        return None
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    need = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 50.0)
    return max(0.05, need / rate)


class ShopifyOrders(ShopifyClient):
    """Shipments back to the shopper on one Shopify channel: fulfil an order with its tracking."""

    def order_status(self, order_id: str | int) -> dict[str, Any]:
        """The order's payment and fulfilment state, its fulfillments with tracking, its open fulfillment
        orders; Permanent if the shop has no such order."""
        variables = {"id": gid("Order", str(order_id)), "fulfillmentOrders": FULFILLMENT_ORDERS_PAGE,
                     "fulfillments": FULFILLMENTS_PAGE, "tracking": TRACKING_PAGE}
        data = self.execute(ORDER_STATE, variables, "order state")["order"]
        if data is None:
            raise Permanent(f"shopify order {order_id}: no such order")
        return {"id": numeric_id(data["id"]), "name": data["name"], "cancelled": data["cancelledAt"] is not None,
                "financial_status": data["displayFinancialStatus"],
                "fulfillment_status": data["displayFulfillmentStatus"],
                "open_fulfillment_orders": [fo["id"] for fo in data["fulfillmentOrders"]["nodes"]
                                            if fo["status"] in FULFILLABLE_STATUSES],
                "fulfillments": [{"id": numeric_id(f["id"]), "name": f["name"], "status": f["status"],
                                  "tracking": f["trackingInfo"]} for f in data["fulfillments"]]}

    def mark_paid(self, order_id: str, reference: str) -> str:
        """OrderTarget: ``orderMarkAsPaid`` (a payment for what the order still owes), unless it shows paid."""
        status = self.order_status(order_id)
        if status["financial_status"] in PAID_FINANCIAL:
            return f"already {status['financial_status'].lower()}"
        if status["cancelled"]:
            raise Permanent(f"shopify order {status['name']} is cancelled: not marking it paid")
        data = self.execute(MARK_PAID, {"input": {"id": gid("Order", str(order_id))}}, "mark order paid")
        result = data["orderMarkAsPaid"]
        if result["userErrors"]:
            raise Permanent(f"shopify order {status['name']}: " + "; ".join(e["message"] for e in result["userErrors"]))
        return f"{status['financial_status'].lower()} -> {result['order']['displayFinancialStatus'].lower()}"

    def refund_lines(self, order_id: str) -> dict[str, dict[str, int]]:
        """OrderTarget: refunds/create carries its refund_line_items: nothing to read."""
        return {}

    def tell_customer(self, order_id: str, text: str, key: str) -> str:
        """OrderTarget: Shopify's order note is the staff's, not the shopper's: nothing to leave them there."""
        raise Permanent("shopify has no order note the shopper sees")

    def send_tracking(self, order_id: str, tracking_number: str, carrier: str,
                      lines: dict[str, int] | None = None) -> str:
        """OrderTarget: one fulfillment with the tracking (``fulfill``)."""
        return self.fulfill(order_id, tracking_number, carrier, lines=lines)

    def fulfill(self, order_id: str | int, tracking_number: str, company: str, url: str | None = None,
                notify: bool = True, lines: dict[str, int] | None = None) -> str:
        """Ship in one fulfillment carrying the tracking everything still open on the order, or only
        ``lines`` ({sku: units}: a partial delivery; units the shop shows shipped already are not asked
        for twice); returns the fulfillment's id. Idempotent: a fulfillment already carrying
        ``tracking_number`` is returned as is (a retry after a lost answer finds it); nothing left to ship
        under another number is Permanent."""
        state = self.order_status(order_id)
        for f in state["fulfillments"]:
            if f["status"] != "CANCELLED" and any(t["number"] == tracking_number for t in f["tracking"]):
                logger.info("shopify order already shipped with this tracking",
                            extra={"channel": self.channel, "order": state["id"], "fulfillment": f["id"]})
                return f["id"]
        if state["cancelled"]:
            raise Permanent(f"shopify order {state['name']}: cancelled, nothing to fulfil")
        if not state["open_fulfillment_orders"]:
            raise Permanent(f"shopify order {state['name']}: nothing left to fulfil "
                            f"({state['fulfillment_status']})")
        tracking = {"number": tracking_number, "company": company}
        if url:
            tracking["url"] = url
        if lines is None:  # no fulfillmentOrderLineItems: Shopify ships every remaining line of each one
            groups = [{"fulfillmentOrderId": fo} for fo in state["open_fulfillment_orders"]]
        else:
            groups = self._line_groups(state, lines)
        variables = {"fulfillment": {"notifyCustomer": notify, "trackingInfo": tracking,
                                     "lineItemsByFulfillmentOrder": groups}}
        payload = self.execute(FULFILLMENT_CREATE, variables, "fulfillmentCreate")["fulfillmentCreate"]
        errors = payload.get("userErrors") or []
        if errors or not payload.get("fulfillment"):
            raise Permanent("shopify fulfillmentCreate refused: " + "; ".join(
                f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors))
        return numeric_id(payload["fulfillment"]["id"])

    def _line_groups(self, state: dict[str, Any], lines: dict[str, int]) -> list[dict[str, Any]]:
        """``lines`` as fulfillment order line items: the open fulfillment orders' remaining units, by SKU."""
        owed, groups = {sku: n for sku, n in lines.items() if n > 0}, []
        for fo in state["open_fulfillment_orders"]:
            data = self.execute(FULFILLMENT_ORDER_LINES, {"id": fo, "lines": FULFILLMENT_ORDER_LINES_PAGE},
                                "fulfillment order lines")["fulfillmentOrder"]
            items = []
            for item in (data or {}).get("lineItems", {}).get("nodes", []):
                n = min(owed.get(item["sku"] or "", 0), item["remainingQuantity"])
                if n > 0:
                    items.append({"id": item["id"], "quantity": n})
                    owed[item["sku"]] -= n
            if items:
                groups.append({"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items})
        if not groups:
            raise Permanent(f"shopify order {state['name']}: none of {sorted(lines)} is left to fulfil")
        return groups
