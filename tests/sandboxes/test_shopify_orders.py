"""The Shopify sandbox's ``orders`` query, read as the hub's backfill reads it: Shopify's search syntax on
``updated_at``, the sort keys, keyset cursors, and order fields that say what the order's webhook body says.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from sandbox.base import serve
from sandbox.shopify import ShopifySandbox

API_VERSION = "2026-07"

ORDERS = """
query Orders($first: Int!, $after: String, $query: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
  orders(first: $first, after: $after, query: $query, sortKey: $sortKey, reverse: $reverse) {
    edges { cursor node { id createdAt updatedAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""

ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id name number email updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus paymentGatewayNames
    currencyCode
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    subtotalPriceSet { shopMoney { amount } }
    totalTaxSet { shopMoney { amount } }
    customer { id firstName lastName defaultEmailAddress { emailAddress } defaultAddress { city countryCodeV2 } }
    shippingAddress { name address1 city zip provinceCode countryCodeV2 phone }
    billingAddress { name city }
    lineItems(first: 5) {
      nodes {
        id sku quantity originalUnitPriceSet { shopMoney { amount } } totalDiscountSet { shopMoney { amount } }
        taxLines { title } variant { id } product { id }
      }
    }
    fulfillments { id status fulfillmentLineItems(first: 5) { nodes { quantity lineItem { id } } } }
    refunds { id createdAt refundLineItems(first: 5) { nodes { quantity restockType lineItem { id } } } }
  }
}"""

REFUND = """
query Refund($id: ID!) {
  refund(id: $id) { id refundLineItems(first: 5) { nodes { quantity restockType restocked lineItem { sku } } } }
}"""

ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
ADA_ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 St James's Square", "city": "London",
               "zip": "SW1Y 4JH", "country": "United Kingdom", "country_code": "GB", "province": "England",
               "province_code": "ENG", "phone": "+44 20 7946 0000"}


class Shop:
    def __init__(self, sandbox: ShopifySandbox, base: str) -> None:
        self.sandbox, self.url = sandbox, f"{base}/admin/api/{API_VERSION}/graphql.json"

    def gql(self, query: str, variables: dict | None = None) -> dict:
        resp = requests.post(self.url, json={"query": query, "variables": variables or {}}, timeout=10,
                             headers={"X-Shopify-Access-Token": self.sandbox.access_token})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def orders(self, **variables: object) -> dict:
        return self.gql(ORDERS, {"first": 10, **variables})["data"]["orders"]


@pytest.fixture
def shop():
    sandbox = ShopifySandbox()
    sandbox.seed(locations=[{"name": "Main"}], products=[{"title": "Tee", "variants": [
        {"sku": "TEE-S", "price": "20.00", "title": "S", "available": {"Main": 20}},
        {"sku": "TEE-M", "price": "21.50", "title": "M", "available": {"Main": 20}}]}])
    with serve(sandbox.app) as base:
        yield Shop(sandbox, base)
    sandbox.close()


def next_second() -> None:
    """Shopify keeps an order's times in whole seconds: a change in the next one is seen as later."""
    time.sleep(1.02 - time.time() % 1)


def ids(connection: dict) -> list[int]:
    return [int(e["node"]["id"].rsplit("/", 1)[1]) for e in connection["edges"]]


def test_orders_by_the_time_they_changed_with_keyset_cursors(shop):
    next_second()  # the three orders are placed within one second
    one, two, three = (shop.sandbox.place_order([{"sku": "TEE-S", "quantity": 1}])["id"] for _ in range(3))
    placed = shop.orders()["edges"][0]["node"]["updatedAt"]
    next_second()
    shop.sandbox.cancel_order(one)  # a change moves updatedAt: the order sorts after the others now
    assert ids(shop.orders(sortKey="UPDATED_AT")) == [two, three, one]
    assert ids(shop.orders(sortKey="UPDATED_AT", reverse=True)) == [one, three, two]
    assert ids(shop.orders(sortKey="CREATED_AT")) == ids(shop.orders(sortKey="ID")) == ids(shop.orders()) == [
        one, two, three]
    assert ids(shop.orders(query=f"updated_at:>'{placed}'")) == [one]  # whole seconds: not the others
    assert ids(shop.orders(query=f"updated_at:>='{placed}'", sortKey="UPDATED_AT")) == [two, three, one]
    assert ids(shop.orders(query=f"updated_at:<='{placed}' OR id:{one}")) == [one, two, three]

    first = shop.orders(first=1, sortKey="UPDATED_AT")
    assert ids(first) == [two] and first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    next_second()
    shop.sandbox.fulfill(two)  # changed while a reader pages: read again behind the cursor, nothing skipped
    rest = shop.orders(first=10, sortKey="UPDATED_AT", after=first["pageInfo"]["endCursor"])
    assert ids(rest) == [three, one, two] and not rest["pageInfo"]["hasNextPage"]
    times = [datetime.fromisoformat(e["node"]["updatedAt"]) for e in rest["edges"]]
    assert times == sorted(times) and times[0] < times[1] < times[2]


def test_order_search_and_sorts_the_sandbox_does_not_simulate_say_so(shop):
    shop.sandbox.place_order([{"sku": "TEE-S", "quantity": 1}])
    for variables in ({"sortKey": "TOTAL_PRICE"}, {"query": "updated_at:>'2026-12-04T10:00:00'"},
                      {"query": "financial_status:paid"}, {"query": "name:>#1001"}):
        answer = shop.gql(ORDERS, {"first": 1, **variables})
        assert answer["errors"][0]["extensions"]["code"] == "SANDBOX_NOT_SIMULATED", variables
    bad = shop.gql(ORDERS, {"first": 1, "after": "not-a-cursor"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_an_order_says_what_its_webhook_body_says_and_every_change_moves_updated_at(shop):
    order = shop.sandbox.place_order([{"sku": "TEE-S", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}],
                                     customer=ADA, shipping_address=ADA_ADDRESS)
    seen = [shop.gql(ORDER, {"id": order["admin_graphql_api_id"]})["data"]["order"]["updatedAt"]]
    for change in (lambda: shop.sandbox.fulfill(order["id"], "1Z999AA10123456784", "UPS"),
                   lambda: shop.sandbox.refund(order["id"], [{"sku": "TEE-S", "quantity": 1}], "return")):
        next_second()
        change()
        seen.append(shop.gql(ORDER, {"id": order["admin_graphql_api_id"]})["data"]["order"]["updatedAt"])
    assert seen == sorted(set(seen))  # fulfilled, then refunded: each a later updatedAt

    got = shop.gql(ORDER, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    rest = shop.sandbox.order(order["id"])
    assert datetime.fromisoformat(got["updatedAt"]) == datetime.fromisoformat(rest["updated_at"])
    assert (got["name"], got["number"], got["email"], got["currencyCode"], got["paymentGatewayNames"]) == (
        rest["name"], rest["order_number"], rest["email"], rest["currency"], rest["payment_gateway_names"])
    assert (got["displayFinancialStatus"], got["displayFulfillmentStatus"]) == ("PARTIALLY_REFUNDED", "FULFILLED")
    assert (rest["financial_status"], rest["fulfillment_status"]) == ("partially_refunded", "fulfilled")
    assert got["totalPriceSet"]["shopMoney"] == {"amount": rest["total_price"], "currencyCode": "USD"}
    assert got["totalPriceSet"]["presentmentMoney"]["amount"] == rest["total_price_set"]["presentment_money"][
        "amount"] == "61.50"
    assert got["subtotalPriceSet"]["shopMoney"]["amount"] == rest["subtotal_price"]
    assert got["totalTaxSet"]["shopMoney"]["amount"] == rest["total_tax"] == "0.00"
    customer = got["customer"]
    assert int(customer["id"].rsplit("/", 1)[1]) == rest["customer"]["id"]
    assert (customer["firstName"], customer["lastName"], customer["defaultEmailAddress"]["emailAddress"]) == (
        "Ada", "Lovelace", "ada@example.com")
    assert customer["defaultAddress"] == {"city": "London", "countryCodeV2": "GB"}
    ship = rest["shipping_address"]
    assert got["shippingAddress"] == {"name": ship["name"], "address1": ship["address1"], "city": ship["city"],
                                      "zip": ship["zip"], "provinceCode": ship["province_code"],
                                      "countryCodeV2": ship["country_code"], "phone": ship["phone"]}
    assert got["billingAddress"] == {"name": "Ada Lovelace", "city": "London"}  # billing defaults to shipping
    lines = got["lineItems"]["nodes"]
    for line, rest_line in zip(lines, rest["line_items"], strict=True):
        assert int(line["id"].rsplit("/", 1)[1]) == rest_line["id"] and line["sku"] == rest_line["sku"]
        assert line["originalUnitPriceSet"]["shopMoney"]["amount"] == rest_line["price"]
        assert line["totalDiscountSet"]["shopMoney"]["amount"] == rest_line["total_discount"]
        assert int(line["variant"]["id"].rsplit("/", 1)[1]) == rest_line["variant_id"]
        assert int(line["product"]["id"].rsplit("/", 1)[1]) == rest_line["product_id"]
        assert line["taxLines"] == rest_line["tax_lines"] == []
    (fulfillment,) = got["fulfillments"]
    assert fulfillment["status"] == "SUCCESS" == rest["fulfillments"][0]["status"].upper()
    assert [(n["lineItem"]["id"], n["quantity"]) for n in fulfillment["fulfillmentLineItems"]["nodes"]] == [
        (lines[0]["id"], 2), (lines[1]["id"], 1)]
    (refund,) = got["refunds"]
    assert int(refund["id"].rsplit("/", 1)[1]) == rest["refunds"][0]["id"]
    assert refund["refundLineItems"]["nodes"] == [{"quantity": 1, "restockType": "RETURN",
                                                   "lineItem": {"id": lines[0]["id"]}}]
    by_id = shop.gql(REFUND, {"id": refund["id"]})["data"]["refund"]
    assert by_id["refundLineItems"]["nodes"] == [{"quantity": 1, "restockType": "RETURN", "restocked": True,
                                                  "lineItem": {"sku": "TEE-S"}}]
