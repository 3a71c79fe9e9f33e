"""Every webhook body in ../shared/corpus maps without error or is explicitly ignored, and the
Shopify / WooCommerce mappers give the right fields (the other platforms: test_map_*.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from connectors import mapper
from mappings import MapContext, NoLinks, Unmappable
from mappings.canonical import (
    SCHEMA_FOR,
    ChannelStockReport,
    EventType,
    OrderStatus,
    Product,
    Refund,
    validate_record,
)

from .support import CORPUS

SHOPIFY_DOC_TOPICS = {  # SOURCES.md: one docs body per resource, used for all its topics
    "orders": ["orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
               "orders/partially_fulfilled"],
    "refunds": ["refunds/create"], "fulfillments": ["fulfillments/create", "fulfillments/update"],
    "inventory_levels": ["inventory_levels/update"], "inventory_items": ["inventory_items/update"],
    "products": ["products/create", "products/update"], "customers": ["customers/create", "customers/update"],
}
STRIPE_OBJECT_TOPICS = {
    "payment_intent": ["payment_intent.succeeded", "payment_intent.payment_failed"],
    "charge": ["charge.succeeded", "charge.refunded"], "dispute": ["charge.dispute.created"],
    "refund": ["refund.created", "refund.updated"], "checkout_session": ["checkout.session.completed"],
}


def _json(path: Path) -> object:
    return json.loads(path.read_bytes(), parse_float=Decimal)


def corpus_deliveries() -> list[tuple[str, str, str, object]]:
    """(id, kind, topic, payload) for every webhook body the corpus holds."""
    out = []
    for p in sorted((CORPUS / "shopify" / "webhook-examples-2026-07").glob("*.json")):
        resource, event, _ = p.name.split(".")
        out.append((p.name, "shopify", f"{resource}/{event}", _json(p)))
    for p in sorted((CORPUS / "shopify").glob("webhook_*_docs_*.json")):
        resource = p.name.removeprefix("webhook_").rsplit("_docs_", 1)[0]
        for topic in SHOPIFY_DOC_TOPICS.get(resource, [f"{resource}/create"]):
            out.append((f"{p.name}:{topic}", "shopify", topic, _json(p)))
    for p in sorted((CORPUS / "woocommerce" / "live-11.0.1").glob("*.body"))[1:]:  # 001 is the ping
        topic = json.loads((p.with_suffix(".headers.json")).read_text())["headers"]["X-WC-Webhook-Topic"]
        out.append((p.name, "woocommerce", topic, _json(p)))
    for p in sorted((CORPUS / "woocommerce").glob("rest_v3_*.json")):
        resource = p.name.split("__")[0].removeprefix("rest_v3_")
        topic = {"orders": "order.updated", "products": "product.updated", "product_variations": "product.updated",
                 "customers": "customer.updated"}.get(resource)
        if topic is None or "downloads" in p.name:
            continue  # webhooks, notes, refunds, downloads: REST resources that are not webhook bodies
        body = _json(p)
        items = body if isinstance(body, list) else [v for k in ("create", "update") for v in body.get(k, [])] \
            if isinstance(body, dict) and ("create" in body or "update" in body) else [body]
        out += [(f"{p.name}[{i}]", "woocommerce", topic, item) for i, item in enumerate(items)]
    for p in sorted((CORPUS / "woocommerce").glob("webhook_delivery_log_*.json")):
        body = _json(p)
        if isinstance(body, dict):
            body = body.get("webhook_deliveries") or [body.get("webhook_delivery", body)]
        for i, d in enumerate(body):
            topic = d["request_headers"]["X-WC-Webhook-Topic"]
            out.append((f"{p.name}[{i}]", "woocommerce", topic, json.loads(d["request_body"], parse_float=Decimal)))
    legacy = CORPUS / "woocommerce" / "webhook_order_updated_body_legacy_v3_format.json"
    out.append((legacy.name, "woocommerce", "order.updated", _json(legacy)))
    for p in sorted((CORPUS / "stripe").glob("object_*.json")):
        obj_name = p.name.removeprefix("object_").rsplit("_", 1)[0]
        for topic in STRIPE_OBJECT_TOPICS.get(obj_name, [f"{obj_name}.updated"]):
            event = {"id": f"evt_{obj_name}", "type": topic, "created": 1700000000, "data": {"object": _json(p)}}
            out.append((f"{p.name}:{topic}", "stripe", topic, event))
    for p in sorted((CORPUS / "stripe").glob("event_*.json")):
        body = _json(p)
        out.append((p.name, "stripe", body["type"], body))
    for p in sorted((CORPUS / "paypal").glob("webhook_event_*.json")):
        body = _json(p)
        out.append((p.name, "paypal", body["event_type"], body))
    for p in sorted((CORPUS / "paypal").glob("webhooks_api_test*Event*.json")):
        response = _json(p).get("response", {})
        for i, ev in enumerate(response.get("events", [response]) if isinstance(response, dict) else []):
            if isinstance(ev, dict) and ev.get("event_type"):
                out.append((f"{p.name}[{i}]", "paypal", ev["event_type"], ev))
    ep = CORPUS / "carriers" / "easypost_event_tracker_updated.json"
    out.append((ep.name, "easypost", "tracker.updated", _json(ep)))
    return out


DELIVERIES = corpus_deliveries()


def test_the_corpus_is_all_there():
    kinds = {kind for _, kind, _, _ in DELIVERIES}
    assert kinds == {"shopify", "woocommerce", "stripe", "paypal", "easypost"}
    assert len(DELIVERIES) > 120


@pytest.mark.parametrize(("kind", "topic", "payload"), [d[1:] for d in DELIVERIES], ids=[d[0] for d in DELIVERIES])
def test_every_corpus_body_maps_or_is_ignored(kind, topic, payload):
    handler = mapper(kind).TOPICS.get(topic)
    if handler is None:
        return  # the hub records it as ignored, with its topic (see test_pipeline)
    mapped = handler(payload, MapContext("c1", links=NoLinks()))
    assert isinstance(mapped.event_type, EventType)
    for record in mapped.records:  # every record fits its canonical schema (unknown keys raise there)
        assert validate_record(SCHEMA_FOR[type(record)](), record) == record


def _shopify(name: str) -> dict:
    return _json(CORPUS / "shopify" / name)  # type: ignore[return-value]


def test_shopify_order_fields():
    body = _shopify("webhook_orders_docs_2022-10.json")
    (order,) = mapper("shopify").TOPICS["orders/create"](body, MapContext("shop-eu")).records
    assert order.origin.external_id == str(body["id"]) and order.number == body["name"]
    assert order.currency == "USD"
    assert (order.subtotal.amount, order.total.amount) == (Decimal(body["subtotal_price"]),
                                                           Decimal(body["total_price"]))
    assert order.tax.amount == Decimal(body["total_tax"]) and order.discount.amount == Decimal(body["total_discounts"])
    assert [(li.sku, li.quantity) for li in order.lines] == [(li["sku"] or None, li["quantity"])
                                                             for li in body["line_items"]]
    assert order.email == body["email"].lower()
    assert order.customer.email == body["customer"]["email"] and order.customer.first_name == "John"
    assert order.shipping_address.city == body["shipping_address"]["city"]
    assert order.shipping_address.country == body["shipping_address"]["country_code"]
    assert order.billing_address.postal_code == body["billing_address"]["zip"]
    assert order.status is OrderStatus.CANCELLED  # the docs example is a cancelled order
    assert order.placed_at.tzinfo is not None and order.source_updated_at.tzinfo is not None


@pytest.mark.parametrize(("financial", "fulfillment", "cancelled", "status"), [
    ("pending", None, None, OrderStatus.PENDING), ("authorized", None, None, OrderStatus.PENDING),
    ("paid", None, None, OrderStatus.PAID), ("partially_paid", None, None, OrderStatus.PARTIALLY_PAID),
    ("paid", "partial", None, OrderStatus.PARTIALLY_FULFILLED), ("paid", "fulfilled", None, OrderStatus.FULFILLED),
    ("partially_refunded", "fulfilled", None, OrderStatus.PARTIALLY_REFUNDED),
    ("refunded", None, None, OrderStatus.REFUNDED), ("paid", None, "2026-01-01T00:00:00Z", OrderStatus.CANCELLED),
    ("voided", None, None, OrderStatus.CANCELLED),
])
def test_shopify_status_table(financial, fulfillment, cancelled, status):
    body = dict(_shopify("webhook_orders_docs_2022-10.json"), financial_status=financial,
                fulfillment_status=fulfillment, cancelled_at=cancelled)
    assert mapper("shopify").TOPICS["orders/updated"](body, MapContext("s")).records[0].status is status


def test_shopify_inventory_product_customer_fulfillment():
    ctx = MapContext("shop-eu")
    (report,) = mapper("shopify").TOPICS["inventory_levels/update"](
        _shopify("webhook-examples-2026-07/inventory_levels.update.json"), ctx).records
    assert isinstance(report, ChannelStockReport)
    # the example's JSON number lost its last digits to a float upstream ("...015" in its gid); kept as sent
    assert (report.origin.external_id, report.location_id, report.available) == ("271878346596884000", "24826418", 10)
    (product,) = mapper("shopify").TOPICS["products/update"](_shopify("webhook_products_docs_2022-10.json"),
                                                              ctx).records
    assert isinstance(product, Product) and all(v.sku for v in product.variants)
    (customer,) = mapper("shopify").TOPICS["customers/update"](
        _shopify("webhook-examples-2026-07/customers.update.json"), ctx).records
    assert (customer.email, customer.first_name, customer.addresses[0].city) == ("bob@biller.com", "Bob", "Ottawa")
    (shipment,) = mapper("shopify").TOPICS["fulfillments/create"](
        _shopify("webhook_fulfillments_docs_2022-10.json"), ctx).records
    body = _shopify("webhook_fulfillments_docs_2022-10.json")
    assert (shipment.carrier, shipment.tracking_number) == (body["tracking_company"].lower(), body["tracking_number"])
    assert shipment.order_reference == str(body["order_id"])


def test_woocommerce_live_order_fields():
    body = _json(CORPUS / "woocommerce" / "live-11.0.1" / "004-order.created.body")
    (order,) = mapper("woocommerce").TOPICS["order.created"](body, MapContext("woo")).records
    assert (order.origin.external_id, order.number, order.status, order.currency) == ("114", "114", OrderStatus.PAID,
                                                                                      "USD")
    assert str(order.total.amount) == "40.00" and str(order.subtotal.amount) == "40.00"
    assert [(li.sku, li.quantity, str(li.unit_price.amount)) for li in order.lines] == [
        ("PW-000", 2, "10.00"), ("PT-M", 1, "20.00")]
    assert order.lines[1].variant_id == "112" and order.lines[1].product_id == "110"
    assert order.email == "ada@example.com" and order.customer.first_name == "Ada"
    assert order.payment_method == "cod"


def test_woocommerce_lines_say_what_woo_took_off_its_stock():
    """``_reduced_stock`` (line meta) is what WooCommerce took; a pending order has taken nothing yet and
    will take its lines when paid; a cancelled one took nothing and will not."""
    body = _json(CORPUS / "woocommerce" / "live-11.0.1" / "004-order.created.body")
    taken = [(li.sku, li.channel_taken, li.channel_to_take) for li in
             mapper("woocommerce").TOPICS["order.created"](body, MapContext("woo")).records[0].lines]
    assert taken == [("PW-000", 2, 0), ("PT-M", 1, 0)]
    bare = [dict(li, meta_data=[m for m in li["meta_data"] if m["key"] != "_reduced_stock"])
            for li in body["line_items"]]
    for status, expected in (("pending", [2, 1]), ("failed", [2, 1]), ("cancelled", [0, 0])):
        (order,) = mapper("woocommerce").TOPICS["order.updated"](dict(body, status=status, line_items=bare),
                                                                 MapContext("woo")).records
        assert [(li.channel_taken, li.channel_to_take) for li in order.lines] == [(0, n) for n in expected]
    odd = [dict(li, meta_data=[{"key": "_reduced_stock", "value": "1.5"}]) for li in body["line_items"]]
    with pytest.raises(Unmappable, match="_reduced_stock: not a unit count"):
        mapper("woocommerce").TOPICS["order.updated"](dict(body, line_items=odd), MapContext("woo"))


def test_woocommerce_rest_order_with_tax_and_shipping_sums_to_total():
    body = _json(CORPUS / "woocommerce" / "rest_v3_orders__create_an_order.json")
    (order,) = mapper("woocommerce").TOPICS["order.created"](body, MapContext("woo")).records
    assert order.subtotal.amount - order.discount.amount + order.shipping.amount + order.tax.amount == \
        order.total.amount == Decimal("29.35")
    assert order.shipping_address.city == "San Francisco" and order.billing_address.country == "US"


@pytest.mark.parametrize(("woo", "status"), [
    ("pending", OrderStatus.PENDING), ("processing", OrderStatus.PAID), ("on-hold", OrderStatus.PENDING),
    ("completed", OrderStatus.FULFILLED), ("cancelled", OrderStatus.CANCELLED), ("refunded", OrderStatus.REFUNDED),
    ("failed", OrderStatus.PENDING),
])
def test_woocommerce_status_table(woo, status):
    body = dict(_json(CORPUS / "woocommerce" / "live-11.0.1" / "004-order.created.body"), status=woo)
    assert mapper("woocommerce").TOPICS["order.updated"](body, MapContext("woo")).records[0].status is status


def test_woocommerce_products_simple_and_variation():
    live = CORPUS / "woocommerce" / "live-11.0.1"
    simple = mapper("woocommerce").TOPICS["product.updated"](_json(live / "005-product.updated.body"),
                                                              MapContext("woo")).records
    variation = mapper("woocommerce").TOPICS["product.updated"](_json(live / "006-product.updated.body"),
                                                                 MapContext("woo")).records
    assert [(v.sku, v.product_id, v.variant_id) for v in simple[0].variants] == [("PW-000", "10", None)]
    assert (simple[1].available, simple[1].location_id) == (40, "default")
    assert [(v.sku, v.product_id, v.variant_id) for v in variation[0].variants] == [("PT-M", "110", "112")]
    assert variation[1].available == 4


def test_woocommerce_customer():
    body = _json(CORPUS / "woocommerce" / "rest_v3_customers__create_a_customer.json")
    (c,) = mapper("woocommerce").TOPICS["customer.created"](body, MapContext("woo")).records
    assert (c.email, c.first_name, c.last_name, c.origin.external_id) == ("john.doe@example.com", "John", "Doe", "25")
    assert c.addresses[0].line1 == "969 Market" and c.addresses[0].region == "CA"


def test_shopify_refund_fields():
    body = _shopify("webhook-examples-2026-07/refunds.create.json")
    (refund,) = mapper("shopify").TOPICS["refunds/create"](body, MapContext("shop-eu")).records
    assert isinstance(refund, Refund)
    assert (refund.origin.external_id, refund.order_reference) == (str(body["id"]), str(body["order_id"]))
    paid_back = [t for t in body.get("transactions", []) if t.get("kind") == "refund"]
    expected = sum(Decimal(str(t["amount"])) for t in paid_back) if paid_back else sum(
        Decimal(i["subtotal_set"]["shop_money"]["amount"]) + Decimal(i["total_tax_set"]["shop_money"]["amount"])
        for i in body["refund_line_items"])
    assert refund.amount.amount == expected and refund.amount.currency == "USD"
    assert refund.reason == body["note"]


def test_woocommerce_order_deleted_cancels():
    body = _json(CORPUS / "woocommerce" / "live-11.0.1" / "004-order.created.body")
    mapped = mapper("woocommerce").TOPICS["order.deleted"](body, MapContext("woo"))
    assert mapped.event_type is EventType.ORDER_CANCELLED and mapped.records[0].status is OrderStatus.CANCELLED
    from mappings import Unmappable

    with pytest.raises(Unmappable, match="only the id"):
        mapper("woocommerce").TOPICS["order.deleted"]({"id": 114}, MapContext("woo"))
