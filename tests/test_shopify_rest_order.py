"""A Shopify order read back through GraphQL (``ShopifyOrderChanges``, the backfill's read) maps to the same
canonical order as the body its ``orders/updated`` webhook delivers, in every state an order goes through:
paid or pending, with a customer and addresses or without, cancelled, partly and fully shipped, partly
refunded with its units restocked before shipping (``cancel``) or after (``return``), refunded in full."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.shopify.client import ShopifyOrders
from connectors.shopify.consts import ORDER_LINES_PAGE, ORDERS_PAGE
from connectors.shopify.orders import ShopifyOrderChanges
from connectors.shopify.rest_order import legacy_id, rest_order
from hub.config import ChannelConfig
from mappings import MapContext
from mappings.canonical import Order, OrderStatus
from mappings.shopify import TOPICS
from sandbox.base import serve
from sandbox.shopify import ShopifySandbox

SKUS = [f"SKU-{n}" for n in range(ORDER_LINES_PAGE + 2)]  # one order holds more lines than a page
ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
ADA_ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 St James's Square", "city": "London",
               "zip": "SW1Y 4JH", "country": "United Kingdom", "country_code": "GB", "province": "England",
               "province_code": "ENG", "phone": "+44 20 7946 0000"}
BILLING = {**ADA_ADDRESS, "address1": "1 Bank Street", "company": "Analytical Engines Ltd"}


@pytest.fixture
def shop():
    sandbox = ShopifySandbox(bucket_size=5000)  # never THROTTLED: each call counted here is one read
    sandbox.seed(locations=[{"name": "Main"}], products=[
        {"title": "Tee", "variants": [{"sku": "TEE-S", "price": "20.00", "title": "S", "available": {"Main": 50}},
                                      {"sku": "TEE-M", "price": "21.50", "title": "M", "available": {"Main": 50}}]},
        *({"title": f"Part {sku}", "variants": [{"sku": sku, "price": "3.25", "available": {"Main": 50}}]}
          for sku in SKUS)])
    with serve(sandbox.app) as base:
        channel = ChannelConfig(id="shop-eu", kind="shopify", timeout_s=5.0, extra={
            "shop": sandbox.shop, "access_token": sandbox.access_token, "api_url": base})
        yield sandbox, channel
    sandbox.close()


def canonical(body: dict) -> Order:
    """What the hub makes of an ``orders/updated`` body, parsed as the pipeline parses a delivery."""
    payload = json.loads(json.dumps(body), parse_float=Decimal)
    (order,) = TOPICS["orders/updated"](payload, MapContext("shop-eu")).records
    return order


def place_orders(sandbox: ShopifySandbox, channel: ChannelConfig) -> dict[str, int]:
    tee = [{"sku": "TEE-S", "quantity": 3}, {"sku": "TEE-M", "quantity": 2}]
    ids = {name: sandbox.place_order(tee, financial_status=status, **buyer)["id"] for name, status, buyer in (
        ("paid", "paid", {}),
        ("pending", "pending", {"customer": ADA, "shipping_address": ADA_ADDRESS, "billing_address": BILLING}),
        ("authorized", "authorized", {"customer": ADA, "shipping_address": ADA_ADDRESS}),
        ("cancelled", "paid", {}), ("voided", "pending", {}), ("partly_shipped", "paid", {"customer": ADA}),
        ("shipped", "paid", {}), ("restocked_unshipped", "paid", {}), ("returned", "paid", {}),
        ("refunded", "paid", {}))}
    ids["many_lines"] = sandbox.place_order([{"sku": sku, "quantity": 2} for sku in SKUS], customer=ADA)["id"]
    sandbox.cancel_order(ids["cancelled"])
    sandbox.cancel_order(ids["voided"], reason="inventory")
    ShopifyOrders(channel).fulfill(ids["partly_shipped"], "1Z999AA10123456784", "UPS", lines={"TEE-S": 2})
    sandbox.fulfill(ids["shipped"], "9400100000000000000000", "USPS")
    sandbox.refund(ids["restocked_unshipped"], [{"sku": "TEE-M", "quantity": 1}], restock_type="cancel")
    sandbox.fulfill(ids["returned"], "1Z999AA10123456785", "UPS")
    sandbox.refund(ids["returned"], [{"sku": "TEE-S", "quantity": 2}], restock_type="return", note="too small")
    sandbox.refund(ids["refunded"], [{"sku": "TEE-S", "quantity": 3}, {"sku": "TEE-M", "quantity": 2}],
                   restock_type="cancel")
    sandbox.fulfill(ids["many_lines"], "1Z999AA10123456786", "UPS")
    sandbox.refund(ids["many_lines"], [{"sku": sku, "quantity": 1} for sku in SKUS], restock_type="return")
    return ids


def test_every_order_read_through_graphql_maps_as_its_webhook_body_does(shop):
    sandbox, channel = shop
    ids = place_orders(sandbox, channel)
    sandbox.reset_stats()
    source = ShopifyOrderChanges(channel)
    changes = [c for page in source.changed_since("2000-01-01T00:00:00") for c in page]
    assert sorted(c.order_id for c in changes) == sorted(str(i) for i in ids.values())
    assert [c.version for c in changes] == sorted(c.version for c in changes)  # oldest change first
    by_id = {int(c.order_id): c for c in changes}
    for name, order_id in ids.items():
        change, webhook = by_id[order_id], sandbox.order(order_id)  # order_body, as orders/updated sends it
        assert (change.topic, change.topic_if_new, change.resource) == (
            "orders/updated", "orders/create", f"order:{order_id}")
        from_graphql, from_webhook = canonical(change.body), canonical(webhook)
        assert from_graphql == from_webhook, name
        assert from_graphql.source_updated_at.strftime("%Y-%m-%dT%H:%M:%S") == change.version
    statuses = {name: canonical(by_id[i].body).status for name, i in ids.items()}
    assert statuses == {
        "paid": OrderStatus.PAID, "pending": OrderStatus.PENDING, "authorized": OrderStatus.PENDING,
        "cancelled": OrderStatus.CANCELLED, "voided": OrderStatus.CANCELLED,
        "partly_shipped": OrderStatus.PARTIALLY_FULFILLED, "shipped": OrderStatus.FULFILLED,
        "restocked_unshipped": OrderStatus.PARTIALLY_REFUNDED, "returned": OrderStatus.PARTIALLY_REFUNDED,
        "refunded": OrderStatus.REFUNDED, "many_lines": OrderStatus.PARTIALLY_REFUNDED}
    returned = canonical(by_id[ids["returned"]].body).lines[0]
    assert (returned.sku, returned.shipped, returned.returned, returned.restocked) == ("TEE-S", 3, 2, 2)
    unshipped = canonical(by_id[ids["restocked_unshipped"]].body).lines[1]
    assert (unshipped.sku, unshipped.shipped, unshipped.returned, unshipped.restocked) == ("TEE-M", 0, 0, 1)
    pending = canonical(by_id[ids["pending"]].body)
    assert (pending.customer.email, pending.shipping_address.city, pending.billing_address.company) == (
        "ada@example.com", "London", "Analytical Engines Ltd")
    many = canonical(by_id[ids["many_lines"]].body)
    assert [(li.sku, li.shipped, li.returned) for li in many.lines] == [(sku, 2, 1) for sku in SKUS]
    # the lines past the first page were read on: the order's, its fulfillment's and its refund's
    assert {k: sandbox.stats["by_root_field"].get(k) for k in ("orders", "order", "fulfillment", "refund")} == {
        "orders": -(-len(ids) // ORDERS_PAGE), "order": 1, "fulfillment": 1, "refund": 1}


def test_the_rest_body_carries_what_the_mapper_reads(shop):
    """Ids numeric as in REST, statuses in REST words, money bags in both currencies on the order."""
    sandbox, channel = shop
    order = sandbox.place_order([{"sku": "TEE-S", "quantity": 2}], customer=ADA, shipping_address=ADA_ADDRESS)
    sandbox.fulfill(order["id"], "1Z999AA10123456784", "UPS")
    sandbox.refund(order["id"], [{"sku": "TEE-S", "quantity": 1}], restock_type="return")
    ((change,),) = list(ShopifyOrderChanges(channel).changed_since("2000-01-01T00:00:00"))
    body, webhook = change.body, sandbox.order(order["id"])
    for key in ("id", "name", "order_number", "email", "currency", "financial_status", "fulfillment_status",
                "cancelled_at", "payment_gateway_names", "total_price_set", "subtotal_price_set",
                "total_shipping_price_set", "total_tax_set", "total_discounts_set"):
        assert body[key] == webhook[key], key
    (line,), (hook_line,) = body["line_items"], webhook["line_items"]
    for key in ("id", "sku", "quantity", "product_id", "variant_id", "tax_lines", "title"):
        assert line[key] == hook_line[key], key
    assert line["price_set"]["shop_money"] == hook_line["price_set"]["shop_money"]
    assert body["customer"]["id"] == webhook["customer"]["id"] and body["customer"]["email"] == ADA["email"]
    assert {k: body["shipping_address"][k] for k in ADA_ADDRESS} == ADA_ADDRESS
    assert body["fulfillments"] == [{"id": webhook["fulfillments"][0]["id"], "order_id": order["id"],
                                     "status": "success", "admin_graphql_api_id": webhook["fulfillments"][0][
                                         "admin_graphql_api_id"], "line_items": [{"id": line["id"], "quantity": 2}]}]
    (refund,) = body["refunds"]
    assert refund["refund_line_items"] == [{"line_item_id": line["id"], "quantity": 1, "restock_type": "return"}]
    assert legacy_id(refund["admin_graphql_api_id"]) == webhook["refunds"][0]["id"] == refund["id"]


def test_an_order_with_the_schemas_nullable_parts_null_maps():
    """A guest order (no customer, no addresses), a custom line (no variant, no product) and the money bags
    the schema may leave null: the REST body carries null there, and maps."""
    money = {"shopMoney": {"amount": "5.0", "currencyCode": "EUR"}}
    node = {"id": "gid://shopify/Order/42", "name": "#1042", "number": 1042, "email": None, "currencyCode": "EUR",
            "presentmentCurrencyCode": "EUR", "createdAt": "2026-12-04T10:00:00Z", "processedAt": None,
            "updatedAt": "2026-12-04T10:05:00Z", "cancelledAt": None, "cancelReason": None,
            "displayFinancialStatus": None, "displayFulfillmentStatus": "IN_PROGRESS", "paymentGatewayNames": [],
            "totalPriceSet": money, "subtotalPriceSet": None, "totalShippingPriceSet": money, "totalTaxSet": None,
            "totalDiscountsSet": None, "customer": None, "shippingAddress": None, "billingAddress": None,
            "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/7", "sku": None, "title": "Gift wrap",
                                     "name": "Gift wrap", "variantTitle": None, "quantity": 1, "currentQuantity": 1,
                                     "originalUnitPriceSet": money, "totalDiscountSet": money,
                                     "taxLines": [{"title": "VAT", "rate": 0.2, "priceSet": {
                                         "shopMoney": {"amount": "1.0", "currencyCode": "EUR"}}}],
                                     "variant": None, "product": None}],
                          "pageInfo": {"hasNextPage": False, "endCursor": None}},
            "fulfillments": [], "refunds": []}
    body = rest_order(node)
    assert (body["id"], body["financial_status"], body["fulfillment_status"], body["customer"]) == (
        42, None, None, None)
    assert (body["subtotal_price_set"], body["total_tax"], body["total_price_set"]) == (
        None, None, {"shop_money": {"amount": "5.0", "currency_code": "EUR"}})
    order = canonical(body)
    assert (order.status, order.total.amount, order.subtotal.amount, order.tax.amount) == (
        OrderStatus.PENDING, Decimal(5), Decimal(0), Decimal(0))
    (line,) = order.lines
    assert (line.sku, line.product_id, line.variant_id, line.tax.amount, line.shipped) == (None, None, None, 1, 0)
