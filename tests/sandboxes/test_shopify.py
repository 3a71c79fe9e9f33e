"""The Shopify sandbox, driven the way the hub drives Shopify: ShopifyAPI's session and version
handling, GraphQL over HTTP, webhooks to a live receiver. The documents below are the shapes the
hub's connector sends; the expected figures (costs, error shapes) are Shopify's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import jsonschema
import pytest
import requests
import shopify
from flask import Flask, request
from werkzeug.datastructures import Headers

from sandbox.base import serve
from sandbox.shopify import ShopifySandbox

from ..support import ManualClock, corpus_json

API_VERSION = "2026-07"
SECRET = "shpss_sandbox_secret"
SCHEMAS = "schemas/shopify/webhooks-2026-07/{topic}.schema.json"

# ShopifyAPI 12.7 knows versions up to 2024-10; 2026-07 is defined through its public API.
shopify.ApiVersion.define_version(shopify.Release(API_VERSION))

LOCATIONS = """
query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    nodes { id name }
    pageInfo { hasNextPage endCursor }
  }
}"""

VARIANTS_BY_SKU = """
query VariantsBySku($first: Int!, $query: String!, $locationId: ID!) {
  productVariants(first: $first, query: $query) {
    nodes {
      id
      sku
      inventoryItem {
        id
        sku
        inventoryLevels(first: 10) {
          nodes { location { id } quantities(names: ["available", "on_hand"]) { name quantity } }
        }
        inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

ITEMS_BY_SKU = """
query ItemsBySku($first: Int!, $query: String!) {
  inventoryItems(first: $first, query: $query) {
    nodes {
      id
      sku
      inventoryLevels(first: 10) { nodes { location { id } quantities(names: ["available"]) { name quantity } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

SET_QUANTITIES = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id reason changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { code field message }
  }
}"""


class SandboxSession(shopify.Session):
    """ShopifyAPI's session, aimed at the sandbox: ShopifyAPI always builds https://<shop>/admin/api/<v>."""

    def __init__(self, base_url: str, shop: str, version: str, token: str) -> None:
        super().__init__(shop, version, token)
        self.base_url = base_url

    @property
    def site(self) -> str:
        return self.version.api_path(self.base_url)


@dataclass
class Shop:
    sandbox: ShopifySandbox
    session: SandboxSession
    ids: dict
    hooks: list

    def post(self, query: str, variables: dict | None = None, token: str | None = None) -> requests.Response:
        # ShopifyAPI's own GraphQL.execute has no timeout, so the hub posts with requests
        return requests.post(self.session.site + "/graphql.json", json={"query": query, "variables": variables or {}},
                             headers={"X-Shopify-Access-Token": token or self.session.token}, timeout=10)

    def gql(self, query: str, variables: dict | None = None) -> dict:
        resp = self.post(query, variables)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def item(self, sku: str) -> str:
        return self.ids["variants"][sku]["inventory_item_gid"]

    def loc(self, name: str) -> str:
        return self.ids["locations"][name]

    def delivered(self) -> list[tuple[str, Headers, dict, bytes]]:
        """(topic, headers, body, raw body) of every webhook received so far, in order."""
        self.sandbox.wait_idle(10)
        return [(h["X-Shopify-Topic"], h, json.loads(raw), raw) for h, raw in self.hooks]


@pytest.fixture(scope="module")
def receiver():
    got: list[tuple[Headers, bytes]] = []
    app = Flask("receiver")

    @app.post("/webhooks/shop")
    def webhook():
        got.append((Headers(request.headers), request.get_data()))  # case-insensitive, as HTTP headers are
        return "", 200

    with serve(app) as url:
        yield url + "/webhooks/shop", got


def make_shop(receiver, **kw) -> tuple[ShopifySandbox, dict]:
    url, got = receiver
    got.clear()
    sandbox = ShopifySandbox(webhook_url=url, webhook_secret=SECRET, **kw)
    ids = sandbox.seed(
        locations=[{"name": "Main"}, {"name": "Backup"}],
        products=[{"title": "Tee", "variants": [
                      {"sku": "SKU-1", "price": "10.00", "title": "Small", "available": {"Main": 5, "Backup": 2}},
                      {"sku": "SKU-2", "price": "12.50", "title": "Large", "available": {"Main": 1}}]},
                  {"title": "Mug", "variants": [{"sku": "SKU 3", "price": "8.00", "available": {"Main": 4}}]}])
    return sandbox, ids


@pytest.fixture
def shop(receiver):
    sandbox, ids = make_shop(receiver)
    with serve(sandbox.app) as base:
        yield Shop(sandbox, SandboxSession(base, sandbox.shop, API_VERSION, sandbox.access_token), ids, receiver[1])
    sandbox.close()


def set_input(*quantities: dict, name: str = "available") -> dict:
    return {"name": name, "reason": "correction", "referenceDocumentUri": "gid://hub/StockPush/1",
            "quantities": list(quantities)}


def test_auth_and_api_versions_answer_as_shopify_does(shop):
    resp = shop.post(LOCATIONS, {"first": 1}, token="shpat_wrong")
    assert resp.status_code == 401
    assert resp.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}

    bad = requests.post(shop.session.base_url + "/admin/api/latest-please/graphql.json", json={"query": "{shop{id}}"},
                        headers={"X-Shopify-Access-Token": shop.session.token}, timeout=10)
    assert (bad.status_code, bad.json()) == (404, {"errors": "Not Found"})

    # a version the sandbox does not hold falls forward to 2026-07 and says so, as Shopify does
    old = SandboxSession(shop.session.base_url, shop.sandbox.shop, "2024-10", shop.session.token)
    resp = requests.post(old.site + "/graphql.json", json={"query": LOCATIONS, "variables": {"first": 1}},
                         headers={"X-Shopify-Access-Token": old.token}, timeout=10)
    assert resp.status_code == 200 and resp.headers["X-Shopify-API-Version"] == API_VERSION
    assert shop.sandbox.stats["auth_failures"] == 1


def test_invalid_documents_fail_with_shopifys_error_shapes(shop):
    misspelt = shop.gql("query Q { locations(first: 1) { nodes { id nmae } } }")
    assert misspelt == {"errors": [{
        "message": "Field 'nmae' doesn't exist on type 'Location'", "locations": [{"line": 1, "column": 44}],
        "path": ["query Q", "locations", "nodes", "nmae"],
        "extensions": {"code": "undefinedField", "typeName": "Location", "fieldName": "nmae"}}]}

    missing_var = shop.gql(VARIANTS_BY_SKU, {"first": 1, "locationId": shop.loc("Main")})
    assert missing_var["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert missing_var["errors"][0]["message"] == "Variable $query of type String! was provided invalid value"

    legacy = shop.gql(SET_QUANTITIES, {"idempotencyKey": "k", "input": {**set_input(), "ignoreCompareQuantity": True}})
    assert legacy["errors"][0]["message"] == ("Variable $input of type InventorySetQuantitiesInput! was provided "
                                              "invalid value for ignoreCompareQuantity (Field is not defined on "
                                              "InventorySetQuantitiesInput)")

    broken = shop.gql("query { locations(first: 1) { nodes { id }")
    assert broken["errors"][0]["extensions"] == {"code": "PARSE_ERROR"}
    assert "data" not in broken and "extensions" not in broken  # Shopify prices nothing it cannot parse


def test_locations_and_variants_by_sku(shop):
    page1 = shop.gql(LOCATIONS, {"first": 1})
    assert page1["data"]["locations"]["nodes"] == [{"id": shop.loc("Main"), "name": "Main"}]
    assert page1["data"]["locations"]["pageInfo"]["hasNextPage"] is True
    # Shopify's own figure for locations(first: 1) { nodes { id name } }: 2 + 1 x 1
    assert page1["extensions"]["cost"]["requestedQueryCost"] == page1["extensions"]["cost"]["actualQueryCost"] == 3
    cursor = page1["data"]["locations"]["pageInfo"]["endCursor"]
    page2 = shop.gql(LOCATIONS, {"first": 1, "after": cursor})["data"]["locations"]
    assert [n["name"] for n in page2["nodes"]] == ["Backup"] and page2["pageInfo"]["hasNextPage"] is False

    found = shop.gql(VARIANTS_BY_SKU, {"first": 10, "query": 'sku:SKU-1 OR sku:"SKU 3"',
                                       "locationId": shop.loc("Main")})
    nodes = found["data"]["productVariants"]["nodes"]
    assert [n["sku"] for n in nodes] == ["SKU-1", "SKU 3"]
    sku1 = nodes[0]["inventoryItem"]
    assert sku1["id"] == shop.item("SKU-1")
    assert {lv["location"]["id"]: lv["quantities"] for lv in sku1["inventoryLevels"]["nodes"]} == {
        shop.loc("Main"): [{"name": "available", "quantity": 5}, {"name": "on_hand", "quantity": 5}],
        shop.loc("Backup"): [{"name": "available", "quantity": 2}, {"name": "on_hand", "quantity": 2}]}
    assert sku1["inventoryLevel"]["quantities"] == [{"name": "available", "quantity": 5}]
    cost = found["extensions"]["cost"]
    # 2 + 10 x (variant 1 + inventoryItem 1 + inventoryLevels (2 + 10 x 3) + inventoryLevel 2), refunded to what came
    assert cost["requestedQueryCost"] == 362 and cost["actualQueryCost"] < cost["requestedQueryCost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 1000 and cost["throttleStatus"]["restoreRate"] == 50

    items = shop.gql(ITEMS_BY_SKU, {"first": 5, "query": "sku:SKU-2"})["data"]["inventoryItems"]["nodes"]
    assert [(i["sku"], i["inventoryLevels"]["nodes"][0]["quantities"][0]["quantity"]) for i in items] == [("SKU-2", 1)]


def test_set_quantities_compare_and_set(shop):
    ok = shop.gql(SET_QUANTITIES, {"idempotencyKey": "push-1", "input": set_input(
        {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 8, "changeFromQuantity": 5},
        {"inventoryItemId": shop.item("SKU-2"), "locationId": shop.loc("Main"), "quantity": 0,
         "changeFromQuantity": None})})
    group = ok["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]
    assert ok["data"]["inventorySetQuantities"]["userErrors"] == []
    assert [(c["name"], c["delta"], c["item"]["id"]) for c in group["changes"]] == [
        ("available", 3, shop.item("SKU-1")), ("on_hand", 3, shop.item("SKU-1")),
        ("available", -1, shop.item("SKU-2")), ("on_hand", -1, shop.item("SKU-2"))]
    assert ok["extensions"]["cost"]["requestedQueryCost"] == ok["extensions"]["cost"]["actualQueryCost"] == 13

    stale = shop.gql(SET_QUANTITIES, {"idempotencyKey": "push-2", "input": set_input(
        {"inventoryItemId": shop.item("SKU 3"), "locationId": shop.loc("Main"), "quantity": 1, "changeFromQuantity": 4},
        {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 1,
         "changeFromQuantity": 5})})
    assert stale["data"]["inventorySetQuantities"] == {"inventoryAdjustmentGroup": None, "userErrors": [{
        "code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "1", "changeFromQuantity"],
        "message": "The changeFromQuantity value does not match persisted value."}]}
    assert stale["extensions"]["cost"]["actualQueryCost"] == 10
    assert shop.sandbox.levels() == {"SKU-1": {"Main": 8, "Backup": 2}, "SKU-2": {"Main": 0}, "SKU 3": {"Main": 4}}

    unknown = shop.gql(SET_QUANTITIES, {"idempotencyKey": "push-3", "input": set_input(
        {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": shop.loc("Main"), "quantity": 1,
         "changeFromQuantity": None},
        {"inventoryItemId": shop.item("SKU-2"), "locationId": shop.loc("Backup"), "quantity": 1,
         "changeFromQuantity": None})})
    assert [e["code"] for e in unknown["data"]["inventorySetQuantities"]["userErrors"]] == [
        "INVALID_INVENTORY_ITEM", "ITEM_NOT_STOCKED_AT_LOCATION"]

    no_change_from = shop.gql(SET_QUANTITIES, {"idempotencyKey": "push-4", "input": set_input(
        {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 1})})
    assert no_change_from["data"] == {"inventorySetQuantities": None}
    assert no_change_from["errors"][0]["extensions"] == {"code": "INVALID_FIELD_ARGUMENTS"}

    no_key = shop.gql(SET_QUANTITIES.replace(" @idempotent(key: $idempotencyKey)", "").replace(
        ", $idempotencyKey: String!", ""), {"input": set_input()})
    assert no_key["errors"][0]["message"] == ("The @idempotent directive is required for this mutation but was "
                                              "not provided.")
    assert no_key["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_idempotency_key_replays_the_first_answer_and_applies_once(shop):
    push = {"idempotencyKey": "push-7f3a", "input": set_input(
        {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 9,
         "changeFromQuantity": None})}
    first = shop.gql(SET_QUANTITIES, push)["data"]["inventorySetQuantities"]
    shop.sandbox.set_available("SKU-1", 4, "Main")  # the merchant edits in between
    again = shop.gql(SET_QUANTITIES, push)["data"]["inventorySetQuantities"]
    assert again == first  # same adjustment group id, nothing written again
    assert shop.sandbox.levels()["SKU-1"]["Main"] == 4

    other = {**push, "input": set_input({**push["input"]["quantities"][0], "quantity": 11})}
    mismatch = shop.gql(SET_QUANTITIES, other)["data"]["inventorySetQuantities"]
    assert mismatch == {"inventoryAdjustmentGroup": None, "userErrors": [{
        "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", "field": None,
        "message": "The same idempotency key cannot be used with different operation parameters."}]}
    assert shop.sandbox.levels()["SKU-1"]["Main"] == 4
    assert [body["available"] for _, _, body, _ in shop.delivered()] == [9, 4]
    assert shop.sandbox.stats["by_root_field"]["inventorySetQuantities"] == 3


def test_more_than_250_quantities_is_rejected_whole(shop):
    quantity = {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 1,
                "changeFromQuantity": None}
    body = shop.gql(SET_QUANTITIES, {"idempotencyKey": "big", "input": set_input(*[quantity] * 251)})
    assert body["errors"] == [{
        "message": "The input array size of 251 is greater than the maximum allowed of 250.",
        "locations": [{"line": 3, "column": 3}], "path": ["inventorySetQuantities", "input", "quantities"],
        "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"}}]
    assert "data" not in body and body["extensions"]["cost"]["actualQueryCost"] is None
    assert shop.sandbox.levels()["SKU-1"]["Main"] == 5


def test_throttling_with_a_tiny_bucket(receiver):
    sandbox, ids = make_shop(receiver, bucket_size=10, restore_rate=5)
    clock = ManualClock()  # the bucket refills only when the test waits, however slow the machine
    sandbox.configure(clock=clock)
    with serve(sandbox.app) as base:
        shop = Shop(sandbox, SandboxSession(base, sandbox.shop, API_VERSION, sandbox.access_token), ids, [])
        two = {"first": 2}  # 2 + 2 x 1 = 4 points, all of them used
        assert "errors" not in shop.gql(LOCATIONS, two) and "errors" not in shop.gql(LOCATIONS, two)
        throttled = shop.gql(LOCATIONS, two)
        assert throttled["errors"] == [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
        cost = throttled["extensions"]["cost"]
        assert "data" not in throttled and cost["requestedQueryCost"] == 4 and cost["actualQueryCost"] is None
        status = cost["throttleStatus"]
        assert status["maximumAvailable"] == 10 and status["currentlyAvailable"] < 4
        # wait as the throttle status says, then the same call goes through
        clock.sleep((cost["requestedQueryCost"] - status["currentlyAvailable"]) / status["restoreRate"])
        assert shop.gql(LOCATIONS, two)["data"]["locations"]["nodes"][1]["name"] == "Backup"

        too_big = shop.gql(VARIANTS_BY_SKU, {"first": 250, "query": "sku:SKU-1",
                                             "locationId": ids["locations"]["Main"]})
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        assert too_big["errors"][0]["message"].startswith(
            "Query cost is 9002, which exceeds the single query max cost limit (1000).")
        stats = sandbox.stats
        assert (stats["throttled"], stats["max_cost_exceeded"], stats["over_limit"]) == (1, 1, 0)
        assert stats["by_operation"]["Locations"] == 4 and stats["max_requested_cost"] == 9002
    sandbox.close()


def test_webhooks_for_orders_merchant_edits_and_hub_writes(shop):
    assert shop.delivered() == []  # seeding is silent
    order = shop.sandbox.place_order([{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU 3", "quantity": 1}])
    assert order["name"] == "#1001"
    with pytest.raises(ValueError, match="not enough stock"):
        shop.sandbox.place_order([{"sku": "SKU-2", "quantity": 2}])
    shop.sandbox.set_available("SKU-2", 6)
    shop.gql(SET_QUANTITIES, {"idempotencyKey": "hub-1", "input": set_input(
        {"inventoryItemId": shop.item("SKU-1"), "locationId": shop.loc("Main"), "quantity": 10,
         "changeFromQuantity": 3})})
    shop.sandbox.cancel_order(order["id"])

    delivered = shop.delivered()
    assert [(t, b.get("available")) for t, _, b, _ in delivered] == [
        ("orders/create", None), ("inventory_levels/update", 3), ("inventory_levels/update", 3),
        ("inventory_levels/update", 6), ("inventory_levels/update", 10),
        ("orders/cancelled", None), ("inventory_levels/update", 12), ("inventory_levels/update", 4)]
    for topic, headers, body, raw in delivered:
        jsonschema.validate(body, corpus_json(SCHEMAS.format(topic=topic.replace("/", "."))))
        digest = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], digest)
        assert (headers["X-Shopify-Shop-Domain"], headers["X-Shopify-API-Version"]) == (shop.sandbox.shop, API_VERSION)
    assert len({h["X-Shopify-Event-Id"] for _, h, _, _ in delivered}) == len(delivered)

    created, cancelled = delivered[0][2], delivered[5][2]
    sku1 = shop.ids["variants"]["SKU-1"]
    line = created["line_items"][0]
    assert (line["sku"], line["quantity"], line["variant_id"], line["product_id"], line["price"]) == (
        "SKU-1", 2, sku1["variant_id"], sku1["product_id"], "10.00")
    assert (created["financial_status"], created["total_price"], created["order_number"]) == ("paid", "28.00", 1001)
    assert created["cancelled_at"] is None and cancelled["cancelled_at"] and cancelled["cancel_reason"] == "customer"
    level = delivered[1][2]
    assert level["inventory_item_id"] == sku1["inventory_item_id"]
    assert datetime.fromisoformat(level["updated_at"]).utcoffset() == timedelta(hours=-5)  # the shop's zone
    assert level["admin_graphql_api_id"].endswith(f"?inventory_item_id={sku1['inventory_item_id']}")
    assert shop.sandbox.stats["webhooks"]["by_topic"]["inventory_levels/update"] == 6


def test_control_api_over_http(shop):
    base = shop.session.base_url + "/_sandbox"
    seeded = requests.post(base + "/seed", json={"products": [{"title": "Cap", "variants": [
        {"sku": "CAP-1", "price": "5.00", "available": {"Backup": 3}}]}]}, timeout=10).json()
    assert seeded["variants"]["CAP-1"]["inventory_item_gid"].startswith("gid://shopify/InventoryItem/")
    short = requests.post(base + "/orders", json={"lines": [{"sku": "CAP-1", "quantity": 4}], "location": "Backup"},
                          timeout=10)
    assert short.status_code == 422
    order = requests.post(base + "/orders", json={"lines": [{"sku": "CAP-1", "quantity": 3}], "location": "Backup"},
                          timeout=10).json()
    assert requests.get(base + "/stock", timeout=10).json()["CAP-1"] == {"Backup": 0}
    assert requests.post(f"{base}/orders/{order['id']}/cancel", json={}, timeout=10).json()["cancelled_at"]
    assert requests.post(base + "/orders/1/cancel", json={}, timeout=10).status_code == 404
    edit = requests.post(base + "/stock", json={"sku": "CAP-1", "available": 7}, timeout=10).json()
    assert edit == {"sku": "CAP-1", "location": "Backup", "available": 7, "changed": True}
    config = requests.post(base + "/config", json={"bucket_size": 2000, "restore_rate": 100}, timeout=10).json()
    assert (config["bucket_size"], config["restore_rate"]) == (2000, 100)
    stats = requests.get(base + "/stats", timeout=10).json()
    assert stats["throttle_status"]["maximumAvailable"] == 2000 and stats["over_limit"] == 0
    assert requests.post(base + "/stats/reset", json={}, timeout=10).json()["requests"] == 0


ORDER_STATE = """
query OrderState($id: ID!) {
  order(id: $id) {
    id
    name
    displayFinancialStatus
    displayFulfillmentStatus
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 10) { nodes { id remainingQuantity lineItem { sku } } } }
    }
    fulfillments(first: 5) { id name status trackingInfo(first: 5) { number company url } }
  }
}"""

FULFILLMENT_CREATE = """
mutation Ship($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id name status trackingInfo(first: 5) { number company url } }
    userErrors { field message }
  }
}"""

TRACKING_UPDATE = """
mutation Retrack($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: false) {
    fulfillment { id trackingInfo(first: 5) { number company url } }
    userErrors { field message }
  }
}"""


def ship(shop, fo_id, lines=None, number="9400100000000000000000", company="USPS"):
    group = {"fulfillmentOrderId": fo_id}
    if lines is not None:
        group["fulfillmentOrderLineItems"] = lines
    return shop.gql(FULFILLMENT_CREATE, {"message": "packed", "fulfillment": {
        "lineItemsByFulfillmentOrder": [group], "notifyCustomer": True,
        "trackingInfo": {"number": number, "company": company}}})["data"]["fulfillmentCreate"]


def test_fulfillment_orders_partial_then_full_shipment_and_tracking_update(shop):
    order = shop.sandbox.place_order([{"sku": "SKU-1", "quantity": 3}, {"sku": "SKU 3", "quantity": 1}],
                                     financial_status="pending", customer={"email": "ada@example.com",
                                                                           "first_name": "Ada", "last_name": "L"})
    state = shop.gql(ORDER_STATE, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    assert (state["displayFinancialStatus"], state["displayFulfillmentStatus"], state["fulfillments"]) == (
        "PENDING", "UNFULFILLED", [])
    (fo,) = state["fulfillmentOrders"]["nodes"]
    tee, mug = fo["lineItems"]["nodes"]
    assert (fo["status"], tee["remainingQuantity"], tee["lineItem"]["sku"], mug["lineItem"]["sku"]) == (
        "OPEN", 3, "SKU-1", "SKU 3")

    too_many = ship(shop, fo["id"], [{"id": tee["id"], "quantity": 4}])
    assert too_many == {"fulfillment": None, "userErrors": [
        {"field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested."}]}
    first = ship(shop, fo["id"], [{"id": tee["id"], "quantity": 2}])
    assert first["userErrors"] == [] and first["fulfillment"]["name"] == "#1001-F1"
    assert first["fulfillment"]["trackingInfo"] == [{"number": "9400100000000000000000", "company": "USPS",
                                                     "url": "https://tools.usps.com/go/TrackConfirmAction?tLabels="
                                                            "9400100000000000000000"}]
    middle = shop.gql(ORDER_STATE, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    assert middle["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    assert middle["fulfillmentOrders"]["nodes"][0]["status"] == "IN_PROGRESS"
    assert [n["remainingQuantity"] for n in middle["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"]] == [1, 1]

    rest = ship(shop, fo["id"], number="1Z999AA10123456784", company="UPS")  # no lines: all that remains
    assert rest["fulfillment"]["name"] == "#1001-F2"
    closed = ship(shop, fo["id"])
    assert closed["userErrors"][0]["message"] == (f"Fulfillment order {fo['id'].rsplit('/', 1)[1]} has an "
                                                  "unfulfillable status= closed.")
    retracked = shop.gql(TRACKING_UPDATE, {"id": rest["fulfillment"]["id"], "tracking": {
        "number": "1Z999AA10123456785", "company": "UPS", "url": "https://example.com/t/85"}})
    assert retracked["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"]["trackingInfo"] == [
        {"number": "1Z999AA10123456785", "company": "UPS", "url": "https://example.com/t/85"}]
    final = shop.gql(ORDER_STATE, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    assert final["displayFulfillmentStatus"] == "FULFILLED"
    assert final["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    assert [f["name"] for f in final["fulfillments"]] == ["#1001-F1", "#1001-F2"]
    with pytest.raises(ValueError, match="outstanding fulfillments"):
        shop.sandbox.cancel_order(order["id"])

    delivered = [(t, b) for t, _, b, _ in shop.delivered() if t != "inventory_levels/update"]
    assert [t for t, _ in delivered] == [
        "orders/create", "fulfillments/create", "orders/partially_fulfilled", "orders/updated",
        "fulfillments/create", "orders/fulfilled", "orders/updated", "fulfillments/update"]
    for topic, body in delivered:
        jsonschema.validate(body, corpus_json(SCHEMAS.format(topic=topic.replace("/", "."))))
    created = delivered[0][1]
    assert (created["financial_status"], created["total_outstanding"], created["email"]) == (
        "pending", "38.00", "ada@example.com")
    partial = delivered[2][1]
    assert partial["fulfillment_status"] == "partial"
    assert [(li["sku"], li["fulfillable_quantity"], li["fulfillment_status"]) for li in partial["line_items"]] == [
        ("SKU-1", 1, "partial"), ("SKU 3", 1, None)]
    assert delivered[7][1]["tracking_numbers"] == ["1Z999AA10123456785"]
    # shipped units leave committed and on_hand; available, what channels sell from, stays put
    assert shop.sandbox.levels()["SKU-1"]["Main"] == 2


def test_a_cancelled_orders_fulfillment_order_is_closed(shop):
    order = shop.sandbox.place_order([{"sku": "SKU-2", "quantity": 1}])
    fo = shop.gql(ORDER_STATE, {"id": order["admin_graphql_api_id"]})["data"]["order"]["fulfillmentOrders"]
    shop.sandbox.cancel_order(order["id"])
    state = shop.gql(ORDER_STATE, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    assert (state["displayFinancialStatus"], state["fulfillmentOrders"]["nodes"][0]["status"]) == (
        "REFUNDED", "CLOSED")
    refused = ship(shop, fo["nodes"][0]["id"])
    assert refused["fulfillment"] is None and "unfulfillable status= closed" in refused["userErrors"][0]["message"]
    with pytest.raises(ValueError, match="unfulfillable status= closed"):
        shop.sandbox.fulfill(order["id"], "1Z1", "UPS")
    assert shop.gql(ORDER_STATE, {"id": "gid://shopify/Order/1"})["data"] == {"order": None}


def test_order_controls_over_http(shop):
    base = shop.session.base_url + "/_sandbox"
    order = requests.post(base + "/orders", timeout=10, json={
        "lines": [{"sku": "SKU-1", "quantity": 1}], "financial_status": "paid",
        "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
        "shipping_address": {"first_name": "Grace", "last_name": "Hopper", "city": "Arlington"}}).json()
    assert order["shipping_address"]["name"] == "Grace Hopper" and order["billing_address"]["city"] == "Arlington"
    bad = requests.post(base + "/orders", timeout=10, json={"lines": [{"sku": "SKU-1", "quantity": 1}],
                                                            "financial_status": "refunded"})
    assert bad.status_code == 422
    shipped = requests.post(f"{base}/orders/{order['id']}/fulfill", timeout=10,
                            json={"tracking_number": "1Z999AA10123456784", "company": "UPS"}).json()
    assert shipped["tracking_urls"] == ["https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums="
                                        "1Z999AA10123456784"]
    again = requests.post(f"{base}/orders/{order['id']}/fulfill", timeout=10, json={"tracking_number": "X"})
    assert again.status_code == 422 and "unfulfillable status= closed" in again.json()["error"]
    seen = requests.get(f"{base}/orders/{order['id']}", timeout=10).json()
    assert (seen["fulfillment_status"], seen["fulfillments"][0]["name"]) == ("fulfilled", "#1001.1")
    assert requests.get(f"{base}/orders/1", timeout=10).status_code == 404


SUBSCRIPTIONS = """
query Subs($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {
    nodes { id topic uri format endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

SUBSCRIBE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $input: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $input) {
    webhookSubscription { id topic uri createdAt updatedAt }
    userErrors { field message }
  }
}"""

REPOINT = """
mutation Repoint($id: ID!, $input: WebhookSubscriptionInput!) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $input) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""

UNSUBSCRIBE = """
mutation Unsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""


def subscribe(shop, topic, uri):
    return shop.gql(SUBSCRIBE, {"topic": topic, "input": {"uri": uri}})["data"]["webhookSubscriptionCreate"]


def address_error(message):
    return [{"field": ["webhookSubscription", "callbackUrl"], "message": message}]


def test_webhook_subscriptions_created_listed_repointed_and_deleted(shop, receiver):
    hook = receiver[0]
    # configure(webhook_url=) subscribed the receiver to the fifteen topics the sandbox sends
    assert sorted(s["topic"] for s in shop.sandbox.subscriptions()) == sorted([
        "orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled", "orders/partially_fulfilled",
        "fulfillments/create", "fulfillments/update", "refunds/create", "inventory_levels/update",
        "returns/request", "returns/approve", "returns/decline", "returns/close", "returns/cancel", "returns/reopen"])
    made = subscribe(shop, "ORDERS_PAID", "https://hub.example.com/webhooks/shop")
    assert made["userErrors"] == [] and made["webhookSubscription"]["topic"] == "ORDERS_PAID"
    paid = made["webhookSubscription"]["id"]
    assert paid.startswith("gid://shopify/WebhookSubscription/")

    # Shopify's answers (2026-04 captures of a live shop)
    assert subscribe(shop, "ORDERS_PAID", "https://hub.example.com/webhooks/shop")["userErrors"] == address_error(
        "Address for this topic has already been taken")
    assert subscribe(shop, "ORDERS_PAID", " ")["userErrors"] == address_error("Address can't be blank")
    assert subscribe(shop, "ORDERS_PAID", "ftp://hub.example.com/x")["userErrors"] == address_error(
        "Address protocol ftp:// is not supported")
    assert subscribe(shop, "ORDERS_PAID", "https://admin.shopify.com/x")["userErrors"] == address_error(
        "Address cannot be a Shopify or an internal domain")
    shop.sandbox.configure(strict_addresses=True)  # Shopify's own rule; the sandbox relaxes it for local hubs
    assert subscribe(shop, "ORDERS_PAID", "http://hub.example.com/x")["userErrors"] == address_error(
        "Address protocol http:// is not supported")
    assert subscribe(shop, "ORDERS_PAID", "https://127.0.0.1/x")["userErrors"] == address_error(
        "Address cannot be a Shopify or an internal domain")
    shop.sandbox.configure(strict_addresses=False)
    bad_topic = shop.gql(SUBSCRIBE, {"topic": "ORDERS_PAYED", "input": {"uri": hook}})
    assert bad_topic["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"

    pages, after = [], None
    while True:  # 16 subscriptions, 4 a page: 2 + 4 x (subscription 1 + endpoint 1) points each
        got = shop.gql(SUBSCRIPTIONS, {"first": 4, "after": after})
        assert got["extensions"]["cost"]["requestedQueryCost"] == 10
        page = got["data"]["webhookSubscriptions"]
        pages.append([n["topic"] for n in page["nodes"]])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(p) for p in pages] == [4, 4, 4, 4] and pages[-1][-1] == "ORDERS_PAID"
    (node,) = shop.gql(SUBSCRIPTIONS, {"first": 5, "topics": ["ORDERS_PAID"]})["data"]["webhookSubscriptions"]["nodes"]
    assert node == {"id": paid, "topic": "ORDERS_PAID", "uri": "https://hub.example.com/webhooks/shop",
                    "format": "JSON", "endpoint": {"__typename": "WebhookHttpEndpoint",
                                                   "callbackUrl": "https://hub.example.com/webhooks/shop"}}

    moved = shop.gql(REPOINT, {"id": paid, "input": {"uri": "https://new-hub.example.com/webhooks/shop"}})
    assert moved["data"]["webhookSubscriptionUpdate"] == {"webhookSubscription": {
        "id": paid, "topic": "ORDERS_PAID", "uri": "https://new-hub.example.com/webhooks/shop"}, "userErrors": []}
    unknown = "gid://shopify/WebhookSubscription/1"
    no_such = [{"field": ["id"], "message": "Webhook subscription does not exist"}]
    assert shop.gql(REPOINT, {"id": unknown, "input": {"uri": hook}})["data"]["webhookSubscriptionUpdate"] == {
        "webhookSubscription": None, "userErrors": no_such}
    assert shop.gql(UNSUBSCRIBE, {"id": paid})["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": paid, "userErrors": []}
    assert shop.gql(UNSUBSCRIBE, {"id": paid})["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": None, "userErrors": no_such}
    assert shop.gql("query N($id: ID!) { node(id: $id) { id } }", {"id": paid})["data"] == {"node": None}

    shop.sandbox.configure(webhook_url="")  # the merchant removes the hub's subscriptions
    assert shop.sandbox.subscriptions() == []


def test_one_delivery_per_subscription_each_to_its_address(shop):
    copy = shop.sandbox.subscriptions()[0]["uri"] + "?copy=1"
    assert subscribe(shop, "ORDERS_CREATE", copy)["userErrors"] == []
    shop.sandbox.place_order([{"sku": "SKU-2", "quantity": 1}])
    orders = [(t, h) for t, h, _, _ in shop.delivered() if t == "orders/create"]
    assert len(orders) == 2  # the merchant's subscription and the second one
    assert len({h["X-Shopify-Event-Id"] for _, h in orders}) == 1  # one event,
    assert len({h["X-Shopify-Webhook-Id"] for _, h in orders}) == 2  # two deliveries
    for _, headers, _, raw in shop.delivered():  # all signed with the app's secret: no secret per subscription
        digest = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], digest)


@pytest.fixture
def flaky():
    """A receiver answering what ``state["status"]`` says; counts what it is sent."""
    state = {"status": 503, "hits": 0}
    app = Flask("flaky")

    @app.post("/hook")
    def hook():
        state["hits"] += 1
        return "", state["status"]

    with serve(app) as url:
        yield url + "/hook", state


def test_a_subscription_whose_deliveries_keep_failing_is_removed(shop, flaky):
    url, state = flaky
    assert shop.sandbox.configure()["remove_after_failures"] == 1  # default: one delivery failing after its retries
    base = shop.session.base_url + "/_sandbox"
    config = requests.post(base + "/config", json={"remove_after_failures": 2, "delivery_attempts": 1}, timeout=10)
    assert (config.json()["remove_after_failures"], config.json()["delivery_attempts"]) == (2, 1)
    assert requests.post(base + "/config", json={"remove_after_failures": 0}, timeout=10).status_code == 422
    sub = subscribe(shop, "ORDERS_CREATE", url)["webhookSubscription"]["id"]

    def order_placed() -> dict:
        shop.sandbox.place_order([{"sku": "SKU-1", "quantity": 1}])
        shop.sandbox.wait_idle(10)
        return {s["id"]: s["failures"] for s in requests.get(base + "/subscriptions", timeout=10).json()}

    assert order_placed()[sub] == 1  # a 503: one failed delivery
    state["status"] = 200
    assert order_placed()[sub] == 0  # a success resets the count
    state["status"] = 500
    assert order_placed()[sub] == 1
    assert sub not in order_placed()  # the second failed delivery in a row: removed
    hits = state["hits"]
    order_placed()
    assert state["hits"] == hits  # nothing sent to it any more
    assert len(shop.sandbox.subscriptions()) == 15  # the receiver's own subscriptions answer 200: kept


def test_returns_are_requested_of_fulfilled_items_and_their_steps_sent_as_shopify_sends_them(shop):
    order = shop.sandbox.place_order([{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU 3", "quantity": 1}])
    with pytest.raises(ValueError, match="SKU-1: 1 not fulfilled, cannot be returned"):
        shop.sandbox.request_return(order["id"], [{"sku": "SKU-1", "quantity": 1}])
    shop.sandbox.fulfill(order["id"], "1Z999", "UPS")
    shop.delivered()  # what the order and its fulfillment sent, out of the way
    shop.hooks.clear()
    asked = shop.sandbox.request_return(order["id"], [{"sku": "SKU-1", "quantity": 1}], reason="defective",
                                        note="cracked")
    line = next(li for li in order["line_items"] if li["sku"] == "SKU-1")
    assert asked["name"] == f"{order['name']}-R1" and asked["status"] == "requested"
    assert asked["order"] == {"id": order["id"], "admin_graphql_api_id": f"gid://shopify/Order/{order['id']}"}
    [item] = asked["return_line_items"]
    assert (item["fulfillment_line_item"]["line_item"]["id"], item["quantity"], item["return_reason"],
            item["customer_note"]) == (line["id"], 1, "defective", "cracked")
    for status in ("open", "closed", "open", "canceled"):
        shop.sandbox.set_return_status(asked["id"], status)
    sent = [(topic, body) for topic, _, body, _ in shop.delivered()]
    assert [topic for topic, _ in sent] == ["returns/request", "returns/approve", "returns/close", "returns/reopen",
                                            "returns/cancel"]
    assert sent[1][1]["return_line_items"] == asked["return_line_items"]  # approve lists the lines again
    assert sent[2][1] == {"id": asked["id"], "admin_graphql_api_id": asked["admin_graphql_api_id"],
                          "order_id": order["id"], "status": "closed"}  # the others: id, order_id, status only
