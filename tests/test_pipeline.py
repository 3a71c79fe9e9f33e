"""Deliveries through the whole pipeline (receiver -> relay -> RQ worker -> store -> read API),
on the real database and Redis: ordering, duplicates, one customer per person, parked stock
events resuming when their link arrives, exact money."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

from click.testing import CliRunner

from hub.cli import cli

from .support import ORDER_ID, corpus_json, deliver, event_rows, post, run_worker, shopify_order, signed


def history(client, auth, event_id: int) -> list[tuple[str, str | None]]:
    detail = client.get(f"/api/events/{event_id}", headers=auth).json
    return [(h["status"], h["note"]) for h in detail["history"]]


def test_newer_state_wins_whatever_the_arrival_order(app, client, auth):
    created = deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z"), "e-create", 10)
    updated = deliver(client, "shop-eu", "orders/updated", shopify_order("2026-11-20T12:00:00Z", "paid"),
                      "e-paid", 10)
    stale = deliver(client, "shop-eu", "orders/updated", shopify_order("2026-11-20T11:00:00Z", "pending"),
                    "e-stale", 10)
    assert {r["status"] for r in created[1:] + updated[1:] + stale[1:]} == {"duplicate"}
    run_worker(app)
    assert [r.status for r in event_rows(app)] == ["processed"] * 3  # 30 deliveries, 3 events
    orders = client.get("/api/orders?channel=shop-eu", headers=auth).json["orders"]
    assert len(orders) == 1
    assert (orders[0]["status"], orders[0]["updated_at"]) == ("paid", "2026-11-20T12:00:00Z")
    stale_note = history(client, auth, stale[0]["event_id"])[-1][1]
    assert "stale" in stale_note and "not applied" in stale_note
    detail = client.get(f"/api/orders/{orders[0]['id']}", headers=auth).json
    assert [(e["id"], e["effect"]) for e in detail["events"]] == [
        (created[0]["event_id"], "created"), (updated[0]["event_id"], "updated"), (stale[0]["event_id"], "stale")]


def test_stale_first_then_newer_also_converges(app, client, auth):
    deliver(client, "shop-eu", "orders/updated", shopify_order("2026-11-20T12:00:00Z", "paid"), "n")
    run_worker(app)
    deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z"), "o")
    run_worker(app)
    (order,) = client.get("/api/orders", headers=auth).json["orders"]
    assert order["status"] == "paid"


def test_one_customer_across_shopify_and_woocommerce(app, client, auth):
    deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z",
                                                              customer={"id": 55, "email": "ADA@example.com",
                                                                        "first_name": "Ada"}))
    woo = copy.deepcopy(corpus_json("woocommerce/live-11.0.1/004-order.created.body"))
    woo["billing"]["email"] = "ada@example.com"
    deliver(client, "woo", "order.created", woo)
    run_worker(app)
    customers = client.get("/api/customers?email=Ada@Example.com", headers=auth).json["customers"]
    assert len(customers) == 1
    assert customers[0]["email"] == "ada@example.com" and customers[0]["first_name"] == "Ada"
    assert customers[0]["channels"] == [{"channel": "shop-eu", "external_id": "55"}]
    orders = client.get("/api/orders", headers=auth).json["orders"]
    assert {o["channel"] for o in orders} == {"shop-eu", "woo"}
    assert {o["customer_id"] for o in orders} == {customers[0]["id"]}


def import_links(csv, database_url: str, redis_url: str, monkeypatch):
    """`hub links import CSV` with a config file on the test's database and Redis."""
    cfg = csv.with_name("hub.yaml")
    cfg.write_text(json.dumps({"database_url": database_url, "redis_url": redis_url,
                               "channels": {"shop-eu": {"kind": "shopify", "webhook_secrets": ["x"]}}}))
    for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner().invoke(cli, ["--config", str(cfg), "links", "import", str(csv)])


def test_unlinked_inventory_item_parks_then_resumes_on_csv_import(app, client, auth, tmp_path, database_url,
                                                                   redis_url, monkeypatch):
    body = corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json")
    (resp,) = deliver(client, "shop-eu", "inventory_levels/update", body)
    run_worker(app)
    (row,) = event_rows(app)
    assert row.status == "needs_mapping"
    assert "inventory_item_id 271878346596884000" in row.status_reason and "location_id 24826418" in row.status_reason
    assert client.get("/api/stock?sku=SKU-AVIATOR", headers=auth).json["levels"] == []

    csv = tmp_path / "links.csv"
    csv.write_text("sku,channel,product_id,variant_id,inventory_item_id,location_id,warehouse\n"
                   "SKU-AVIATOR,shop-eu,632910392,808950810,271878346596884000,,\n"
                   ",shop-eu,,,,24826418,main\n")
    res = import_links(csv, database_url, redis_url, monkeypatch)
    assert res.exit_code == 0, res.output
    assert "imported 2 link(s)" in res.output and "1 parked event(s) resumed" in res.output
    run_worker(app)
    assert event_rows(app)[0].status == "processed"
    stock = client.get("/api/stock?sku=SKU-AVIATOR", headers=auth).json
    assert stock["levels"] == [{"sku": "SKU-AVIATOR", "warehouse": "main", "on_hand": 10, "committed": 0,
                                "available": 10, "updated_at": stock["levels"][0]["updated_at"]}]
    assert [(m["delta"], m["reason"], m["channel"], m["event_id"]) for m in stock["movements"]] == [
        (10, "channel_edit", "shop-eu", resp["event_id"])]


def test_bad_csv_is_reported_by_line_and_nothing_applied(app, client, auth, tmp_path, database_url, redis_url,
                                                         monkeypatch):
    csv = tmp_path / "links.csv"
    csv.write_text("sku,channel,product_id,variant_id,inventory_item_id,location_id,warehouse\n"
                   "SKU-1,shop-eu,1,,,,\n"
                   "SKU-2,nowhere,2,,,,\n"
                   ",shop-eu,,,,99,\n")
    res = import_links(csv, database_url, redis_url, monkeypatch)
    assert res.exit_code == 1
    assert "line 3: unknown channel 'nowhere'" in res.output and "line 4: a location link needs both" in res.output
    assert "nothing was imported" in res.output
    assert client.get("/api/links", headers=auth).json == {"skus": [], "locations": []}


def test_links_api_resumes_woocommerce_stock_and_product_webhooks_create_links(app, client, auth):
    live = "woocommerce/live-11.0.1/"
    body = corpus_json(live + "005-product.updated.body")
    deliver(client, "woo", "product.updated", body)
    run_worker(app)
    (row,) = event_rows(app)
    assert row.status == "needs_mapping" and "location_id default" in row.status_reason
    links = client.get("/api/links?channel=woo", headers=auth).json
    assert links["skus"] == [{"channel": "woo", "sku": "PW-000", "product_id": "10", "variant_id": None,
                              "inventory_item_id": None, "title": "Peer Widget 000"}]  # from the product body
    resp = client.post("/api/links", headers=auth, json={"channel": "woo", "location_id": "default",
                                                         "warehouse": "main"})
    assert resp.status_code == 201 and resp.json["resumed_events"] == [row.id]
    run_worker(app)
    assert event_rows(app)[0].status == "processed"
    assert client.get("/api/stock?sku=PW-000", headers=auth).json["levels"][0]["on_hand"] == 40
    assert client.post("/api/links", headers=auth, json={"channel": "woo", "sku": "X"}).status_code == 400
    assert client.post("/api/links", headers=auth, json={"channel": "nope", "location_id": "a",
                                                         "warehouse": "b"}).status_code == 400


def test_money_is_exact_three_lines_with_discounts_and_tax(app, client, auth):
    body = shopify_order("2026-11-20T10:00:00Z", "paid")
    usd = lambda v: {"shop_money": {"amount": v, "currency_code": "USD"},  # noqa: E731
                     "presentment_money": {"amount": v, "currency_code": "USD"}}
    lines = [("A-1", 3, "19.99", "1.20", "4.50"), ("B-2", 1, "0.10", "0.00", "0.01"),
             ("C-3", 2, "33.33", "2.00", "5.33")]
    body["line_items"] = [{"id": i + 1, "sku": sku, "quantity": q, "price": p, "price_set": usd(p),
                           "total_discount": d, "total_discount_set": usd(d), "title": sku,
                           "tax_lines": [{"price": t, "price_set": usd(t), "rate": "0.08", "title": "VAT"}]}
                          for i, (sku, q, p, d, t) in enumerate(lines)]
    items = sum(Decimal(p) * q for _, q, p, _, _ in lines)  # 126.73
    discounts = sum(Decimal(d) for *_, d, _ in lines)  # 3.20
    tax = sum(Decimal(t) for *_, t in lines)  # 9.84
    shipping = Decimal("7.05")
    total = items - discounts + tax + shipping
    body.update(subtotal_price_set=usd(str(items)), total_discounts_set=usd(str(discounts)),
                total_tax_set=usd(str(tax)), total_shipping_price_set=usd(str(shipping)),
                total_price_set=usd(str(total)), taxes_included=False)
    deliver(client, "shop-eu", "orders/create", body)
    run_worker(app)
    (order,) = client.get("/api/orders", headers=auth).json["orders"]
    detail = client.get(f"/api/orders/{order['id']}", headers=auth).json
    assert order["total"] == {"amount": "140.42", "currency": "USD"} == {"amount": str(total), "currency": "USD"}
    got = {k: Decimal(order[k]["amount"]) for k in ("subtotal", "discount", "tax", "shipping", "total")}
    assert got["subtotal"] - got["discount"] + got["tax"] + got["shipping"] == got["total"]
    assert sum(Decimal(li["unit_price"]["amount"]) * li["quantity"] for li in detail["lines"]) == items
    assert sum(Decimal(li["tax"]["amount"]) for li in detail["lines"]) == tax
    assert [li["unit_price"]["amount"] for li in detail["lines"]] == ["19.99", "0.10", "33.33"]


def test_stripe_minor_units_and_unmatched_payments(app, client, auth):
    pi = corpus_json("stripe/object_payment_intent_fixtures3.json")
    for currency, amount in (("jpy", 1000), ("eur", 1000)):
        obj = dict(pi, id=f"pi_{currency}", currency=currency, amount=amount, amount_received=amount,
                   metadata={"order_id": "no-such-order"})
        event = {"id": f"evt_{currency}", "type": "payment_intent.succeeded", "created": 1763630000,
                 "data": {"object": obj}}
        assert post(client, "stripe", signed("stripe", body=json.dumps(event).encode())).status_code == 200
    run_worker(app)
    payments = client.get("/api/payments?unmatched=1", headers=auth).json["payments"]
    assert sorted((p["external_id"], p["amount"]["amount"], p["amount"]["currency"]) for p in payments) == [
        ("pi_eur", "10.00", "EUR"), ("pi_jpy", "1000", "JPY")]
    assert {p["order_id"] for p in payments} == {None} and {p["status"] for p in payments} == {"captured"}


def test_unknown_topic_is_ignored_and_bad_payload_fails_readably(app, client, auth):
    ignored = deliver(client, "shop-eu", "carts/update", {"id": 1})[0]
    broken = shopify_order("2026-11-20T10:00:00Z")
    broken["line_items"][0]["quantity"] = "lots"
    failed = deliver(client, "shop-eu", "orders/create", broken)[0]
    run_worker(app)
    assert history(client, auth, ignored["event_id"])[-1] == ("ignored",
                                                              "topic 'carts/update' is not handled by the hub")
    status, note = history(client, auth, failed["event_id"])[-1]
    assert status == "failed" and "quantity: Not a valid integer." in note
    detail = client.get(f"/api/events/{failed['event_id']}", headers=auth).json
    assert '"lots"' in detail["body"]  # the raw delivery stays for inspection
    assert client.get("/api/orders", headers=auth).json["orders"] == []


def test_carrier_and_shopify_fulfillment_become_shipments(app, client, auth):
    deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z", "paid"))
    fulfillment = dict(corpus_json("shopify/webhook_fulfillments_docs_2022-10.json"), order_id=ORDER_ID)
    deliver(client, "shop-eu", "fulfillments/create", fulfillment)
    body = json.dumps(corpus_json("carriers/easypost_event_tracker_updated.json")).encode()
    assert post(client, "easypost", signed("easypost", body=body)).status_code == 200
    run_worker(app)
    shipments = client.get("/api/shipments", headers=auth).json["shipments"]
    assert {(s["carrier"], s["status"]) for s in shipments} >= {("fedex", "in_transit")}
    (order,) = client.get("/api/orders", headers=auth).json["orders"]
    detail = client.get(f"/api/orders/{order['id']}", headers=auth).json
    assert [s["tracking_number"] for s in detail["shipments"]] == [fulfillment["tracking_number"]]
    assert client.get("/api/shipments?status=in_transit", headers=auth).json["shipments"][0]["carrier"] == "fedex"
