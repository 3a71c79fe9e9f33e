"""Payments through the whole pipeline (signed webhook -> worker -> store -> API): matched to their
order by the configured reference, kept unmatched until the order arrives, the order paid /
partially paid / refunded, a full refund with restock releasing stock, disputes alerting."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from hub.config import ConfigError, load_config_dict
from sandbox.emitters import payments as pay
from store.models import event_records

from .support import (
    ORDER_ID,
    corpus_json,
    deliver,
    event_rows,
    order_of,
    run_worker,
    shopify_order,
    stripe,
    woo_order,
)


def test_payment_before_its_order_waits_unmatched_then_matches(app, client, auth):
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_early"), times=3)
    run_worker(app)
    (waiting,) = client.get("/api/payments?unmatched=1", headers=auth).json["payments"]
    assert (waiting["external_id"], waiting["order_id"], waiting["amount"]) == (
        "pi_early", None, {"amount": "40.00", "currency": "USD"})

    deliver(client, "woo", "order.created", woo_order())
    run_worker(app)
    assert client.get("/api/payments?unmatched=1", headers=auth).json["payments"] == []
    order = order_of(client, auth, "woo")
    assert order["status"] == "paid"
    assert [(p["external_id"], p["order_id"]) for p in order["payments"]] == [("pi_early", order["id"])]

    deliver(client, "woo", "order.updated", woo_order("pending", "2026-11-22T07:00:00"))  # the shop still says pending
    run_worker(app)
    assert order_of(client, auth, "woo")["status"] == "paid"


def test_partial_then_full_payment(app, client, auth):
    deliver(client, "woo", "order.created", woo_order())
    stripe(client, pay.stripe_payment("114", 1500, "usd", intent_id="pi_1"))
    run_worker(app)
    assert order_of(client, auth, "woo")["status"] == "partially_paid"
    stripe(client, pay.stripe_payment("114", 2500, "usd", intent_id="pi_2"), times=2)
    run_worker(app)
    order = order_of(client, auth, "woo")
    assert order["status"] == "paid" and len(order["payments"]) == 2


def test_a_refund_reported_by_the_shop_and_by_its_gateway_counts_once(app, client, auth):
    """25.00 of a 40.00 Woo order paid by Stripe is refunded in WooCommerce, which refunds it through Stripe:
    the order body lists the refund and Stripe sends its own. Partly refunded (25.00), not refunded (50.00)."""
    deliver(client, "woo", "order.created", woo_order("processing"))
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_twice"))
    run_worker(app)
    body = dict(woo_order("processing", "2026-11-22T07:00:00"), refunds=[{"id": 120, "reason": "", "total": "-25.00"}])
    deliver(client, "woo", "order.updated", body)
    stripe(client, pay.stripe_refund("pi_twice", 2500, "usd"))
    run_worker(app)
    assert order_of(client, auth, "woo")["status"] == "partially_refunded"


def test_a_woo_refund_listed_again_in_each_order_delivery_is_stored_once(app, client, auth):
    """WooCommerce repeats an order's refunds in every order.updated: the second delivery finds the refund as
    stored and redoes nothing (no update, no effect recorded, no settling)."""
    body = dict(woo_order("processing"), refunds=[{"id": 121, "reason": "", "total": "-5.00"}])
    deliver(client, "woo", "order.created", body)
    run_worker(app)
    deliver(client, "woo", "order.updated", dict(body, date_modified_gmt="2026-11-22T07:00:00"))
    run_worker(app)
    with app.extensions["hub"].engine.connect() as conn:
        effects = conn.execute(select(event_records.c.event_id, event_records.c.effect)
                               .where(event_records.c.kind == "refund")).all()
    assert [e for _, e in effects] == ["created"]
    assert "refund 121 unchanged" in event_rows(app)[-1].status_reason


def test_matching_is_scoped_to_the_configured_channel_and_keys(make_app, auth):

    app = make_app(channels={**_channels(), "stripe": {**_channels()["stripe"],
                                                       "match": {"keys": ["shop_order"], "channel": "shop-eu"}}})
    client = app.test_client()
    deliver(client, "woo", "order.created", woo_order())
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_meta"))  # metadata.order_id: not our key
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_scope", key="shop_order"))  # woo's, not shop's
    run_worker(app)
    unmatched = client.get("/api/payments?unmatched=1", headers=auth).json["payments"]
    assert sorted((p["external_id"], p["order_reference"]) for p in unmatched) == [("pi_meta", None),
                                                                                  ("pi_scope", "114")]
    assert order_of(client, auth, "woo")["status"] == "pending"


def _channels() -> dict:
    from .support import PAYPAL_WEBHOOK_ID, SECRETS

    return {"shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"]},
            "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"]},
            "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"]},
            "paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID, "cert_hosts": ["localhost"]}}


def test_match_config_is_validated():
    chans = _channels()
    with pytest.raises(ConfigError, match=r"channels.stripe.match.channel: not a configured"):
        load_config_dict({"channels": {**chans, "stripe": {**chans["stripe"], "match": {"channel": "paypal"}}}})
    with pytest.raises(ConfigError, match=r"match.keys: paypal payments carry custom_id and invoice_id only"):
        load_config_dict({"channels": {**chans, "paypal": {**chans["paypal"], "match": {"keys": ["order"]}}}})
    with pytest.raises(ConfigError, match=r"channels.woo.match"):
        load_config_dict({"channels": {**chans, "woo": {**chans["woo"], "match": {"keys": ["x"]}}}})
    cfg = load_config_dict({"channels": chans, "carrier_sla_days": {"UPS": 2}})
    assert cfg.channels["paypal"].match_keys == ("custom_id", "invoice_id") and cfg.sla_days("ups") == 2
    assert cfg.sla_days("dhl") == 5


def shopify_refund(amount: str, restock: bool = True) -> dict:
    lines = corpus_json("shopify/webhook_orders_docs_2022-10.json")["line_items"]
    return {"id": 880001, "order_id": ORDER_ID, "note": "damaged", "created_at": "2026-11-21T10:00:00Z",
            "refund_line_items": [{"id": 90 + i, "line_item_id": li["id"], "quantity": li["quantity"],
                                   "restock_type": "return" if restock else "no_restock",
                                   "line_item": {"sku": li["sku"], "price": li["price"]}}
                                  for i, li in enumerate(lines)],
            "transactions": [{"kind": "refund", "status": "success", "amount": amount, "currency": "USD"}]}


def stock(client, auth, sku: str) -> tuple[int, int]:
    (level,) = client.get(f"/api/stock?sku={sku}", headers=auth).json["levels"]
    return level["on_hand"], level["committed"]


def test_full_refund_with_restock_releases_stock(app, client, auth):
    deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z", "paid"))
    run_worker(app)
    assert stock(client, auth, "IPOD2008PINK") == (0, 2)
    deliver(client, "shop-eu", "refunds/create", shopify_refund("100.00"), "r-part")  # partial: nothing restocked
    run_worker(app)
    assert order_of(client, auth, "shop-eu")["status"] == "partially_refunded"
    assert stock(client, auth, "IPOD2008PINK") == (0, 2)

    full = shopify_refund("303.00") | {"id": 880002}
    deliver(client, "shop-eu", "refunds/create", full, "r-full", times=3)
    # the shop then says refunded: the order version must not commit the stock again
    deliver(client, "shop-eu", "orders/updated", shopify_order("2026-11-21T11:00:00Z", "refunded"), "o-refunded")
    run_worker(app)
    assert order_of(client, auth, "shop-eu")["status"] == "refunded"
    assert stock(client, auth, "IPOD2008PINK") == (0, 0)


def test_dispute_alerts_and_refund_updates_the_order(app, client, auth):
    deliver(client, "woo", "order.created", woo_order())
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_d"))
    stripe(client, pay.stripe_dispute("pi_d", 4000, "usd"), times=2)
    run_worker(app)
    (alert,) = client.get("/api/alerts?kind=payment_dispute", headers=auth).json["alerts"]
    assert alert["key"] == "stripe:pi_d" and alert["detail"]["order_id"] == order_of(client, auth, "woo")["id"]
    stripe(client, pay.stripe_refund("pi_d", 1000, "usd"))
    run_worker(app)
    assert order_of(client, auth, "woo")["status"] == "partially_refunded"


def test_a_payments_status_does_not_go_back_even_from_a_later_dated_version(app, client, auth):
    """A capture delivered again after the dispute, dated later (a retried event), leaves the payment disputed."""
    from sqlalchemy import select

    from store.models import payments

    deliver(client, "woo", "order.created", woo_order())
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_back"))
    stripe(client, pay.stripe_dispute("pi_back", 4000, "usd"))
    run_worker(app)
    later = pay.stripe_payment("114", 4000, "usd", intent_id="pi_back", created=int(time.time()) + 3600)
    stripe(client, later)
    run_worker(app)
    with app.extensions["hub"].engine.connect() as conn:
        assert conn.execute(select(payments.c.status).where(payments.c.external_id == "pi_back")).scalar_one() \
            == "disputed"
