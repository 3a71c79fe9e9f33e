"""Shipments through the pipeline: carrier webhooks (shuffled, duplicated) moving a shipment forward
only, delivered completing the order, exceptions alerting, the carrier SLA report, and
``push_tracking`` through the real Shopify and Woo clients against their sandboxes."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from jobs.tracking import push_tracking
from sandbox.base import serve
from sandbox.emitters import carriers
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

from .support import (
    SECRETS,
    START,
    TRACKING,
    deliver,
    erp_shipment,
    make_config,
    order_of,
    post,
    run_worker,
    shop_notes,
    shop_order_body,
    signed,
    woo_order,
)


def carrier_posts(client, kind: str, bodies: list[bytes]) -> None:
    for body in bodies:
        assert post(client, kind, signed(kind, body)).status_code == 200


def shipments(client, auth) -> list[dict]:
    return client.get("/api/shipments", headers=auth).json["shipments"]


@pytest.mark.parametrize("kind", ["easypost", "shippo", "aftership"])
def test_shuffled_duplicated_updates_end_delivered_and_complete_the_order(app, client, auth, kind):
    deliver(client, "woo", "order.created", woo_order("processing"))
    run_worker(app)
    erp_shipment(app, carrier="usps" if kind != "aftership" else "usps")
    emitter = carriers.CarrierEmitter("http://unused", {})
    bodies = emitter.bodies(kind, TRACKING, "usps" if kind != "easypost" else "USPS", carriers.journey(START),
                            estimate=START + timedelta(days=4))
    shuffled = bodies * 3
    random.Random(7).shuffle(shuffled)
    carrier_posts(client, kind, shuffled)
    run_worker(app)
    (s,) = shipments(client, auth)
    assert (s["status"], s["carrier"], s["tracking_number"]) == ("delivered", "usps", TRACKING)
    assert [e["status"] for e in s["events"]] == list(carriers.HAPPY_PATH) if kind != "shippo" else \
        ["pre_transit", "in_transit", "in_transit", "delivered"]
    assert s["delivered_at"] == "2026-11-22T21:00:00Z" and s["promised_by"] == "carrier"
    order = order_of(client, auth, "woo")
    assert order["status"] == "delivered" and [x["id"] for x in order["shipments"]] == [s["id"]]


def test_exception_opens_an_alert_closed_by_delivery(app, client, auth):
    emitter = carriers.CarrierEmitter("http://unused", {})
    steps = carriers.journey(START, ("pre_transit", "in_transit", "exception"))
    carrier_posts(client, "easypost", emitter.bodies("easypost", TRACKING, "USPS", steps))
    run_worker(app)
    (alert,) = client.get("/api/alerts?kind=shipment_exception", headers=auth).json["alerts"]
    assert alert["key"] == f"usps:{TRACKING}" and "exception" in alert["message"]
    steps.append(carriers.Step("delivered", START + timedelta(days=3)))
    carrier_posts(client, "easypost", emitter.bodies("easypost", TRACKING, "USPS", steps)[-1:])
    run_worker(app)
    assert client.get("/api/alerts?kind=shipment_exception", headers=auth).json["alerts"] == []
    assert shipments(client, auth)[0]["status"] == "delivered"


def test_late_delivery_appears_in_the_carrier_report(make_app, auth):
    app = make_app(carrier_sla_days={"usps": 2})
    client = app.test_client()
    emitter = carriers.CarrierEmitter("http://unused", {})
    # first scan in transit Nov 21 21:00 -> promised Nov 23 (2 days); delivered Nov 24 21:00: a day late
    slow = carriers.journey(START, every=timedelta(days=1, hours=12))
    carrier_posts(client, "easypost", emitter.bodies("easypost", "LATE1", "USPS", slow))
    fast = carriers.journey(START, every=timedelta(hours=10))
    carrier_posts(client, "easypost", emitter.bodies("easypost", "ONTIME1", "USPS", fast))
    promised = carriers.journey(START, every=timedelta(days=2))  # 6 days, but UPS promised 7
    carrier_posts(client, "aftership", emitter.bodies("aftership", "1ZLATEOK", "ups", promised,
                                                      estimate=START + timedelta(days=7)))
    run_worker(app)
    report = {c["carrier"]: c for c in client.get("/api/reports/carriers", headers=auth).json["carriers"]}
    usps = report["usps"]
    assert (usps["shipments"], usps["delivered"], usps["on_time"], usps["late"], usps["on_time_rate"]) == (
        2, 2, 1, 1, 0.5)
    (late,) = usps["late_shipments"]
    assert (late["tracking_number"], late["promised_by"], late["days_late"]) == ("LATE1", "sla", 1)
    assert (report["ups"]["on_time"], report["ups"]["late"], report["ups"]["on_time_rate"]) == (1, 0, 1.0)
    assert client.get("/api/reports/carriers").status_code == 401


# ---- push_tracking through the real clients ------------------------------------------------------

def test_push_tracking_to_shopify_once(make_app, database_url, redis_url, auth):
    shop = ShopifySandbox()
    shop.seed(locations=[{"name": "Main"}], products=[{"title": "Tee", "variants": [
        {"sku": "TEE-S", "price": "20.00", "title": "S", "available": {"Main": 5}}]}])
    with serve(shop.app) as base:
        channels = make_config(database_url, redis_url)["channels"]
        channels["shop-eu"] |= {"shop": shop.shop, "access_token": shop.access_token, "api_url": base}
        app = make_app(channels=channels)
        client = app.test_client()
        placed = shop.place_order([{"sku": "TEE-S", "quantity": 2}])
        deliver(client, "shop-eu", "orders/create", shop.order(placed["id"]))
        run_worker(app)
        sid = erp_shipment(app, "1Z999AA10123456784", "ups")
        run_worker(app)  # the job queued after the ERP delivery's commit, on orders-shop-eu
        with app.app_context():
            again = [push_tracking(sid) for _ in range(3)]
        assert all("already on shop-eu" in a for a in again)
        assert shop.stats["by_root_field"]["fulfillmentCreate"] == 1
        (f,) = shop.order(placed["id"])["fulfillments"]
        assert (f["tracking_number"], f["tracking_company"]) == ("1Z999AA10123456784", "UPS")
        (s,) = shipments(client, auth)
        assert s["pushed_at"] and s["push_ref"] == str(f["id"])
    shop.close()


def test_push_tracking_to_woo_once_and_completes(make_app, database_url, redis_url, auth):
    shop = WooSandbox(consumer_key="ck_t", consumer_secret="cs_t")
    shop.seed([{"name": "Mug", "sku": "MUG", "price": "8.00", "stock_quantity": 10}])
    with serve(shop.app) as base:
        shop.configure(base_url=base)
        channels = make_config(database_url, redis_url)["channels"]
        channels["woo"] |= {"url": base, "consumer_key": "ck_t", "consumer_secret": "cs_t"}
        app = make_app(channels=channels)
        client = app.test_client()
        placed = shop.place_order([{"sku": "MUG", "quantity": 1}], set_paid=True)
        woo = json.loads(json.dumps(shop_order_body(shop, placed["id"])))
        deliver(client, "woo", "order.created", woo)
        run_worker(app)
        sid = erp_shipment(app, "9400TRACKWOO", "usps")
        for _ in range(3):
            run_worker(app)
            with app.app_context():
                push_tracking(sid)
        notes = [n for n in shop_notes(shop, placed["id"]) if n["customer_note"]]
        assert len(notes) == 1 and "9400TRACKWOO" in notes[0]["note"] and "USPS" in notes[0]["note"]
        assert shop.stats["calls"]["POST orders/<id>/notes"] == 1 and shop.stats["calls"]["PUT orders/<id>"] == 1
    shop.close()


assert SECRETS  # the signed() builders use the test secrets
