"""The receiver, per platform: signatures, rotation, tolerance, vectors, dedupe, limits."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from sandbox import signing

from .support import (
    SECRETS,
    corpus_bytes,
    corpus_json,
    event_rows,
    live_server,
    post,
    queued_job_ids,
    sample_body,
    signed,
)

SIGNED_CHANNELS = ["shop-eu", "woo", "stripe", "easypost", "aftership", "shippo"]


@pytest.mark.parametrize("channel", SIGNED_CHANNELS)
def test_valid_delivery_is_stored_and_queued(app, client, channel):
    resp = post(client, channel, signed(channel))
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "accepted"
    rows = event_rows(app)
    assert [(r.id, r.channel, r.status) for r in rows] == [(resp.json["event_id"], channel, "received")]
    assert bytes(rows[0].body) == sample_body(channel)
    assert rows[0].received_at.tzinfo is not None
    assert queued_job_ids(app) == [f"event-{resp.json['event_id']}"]


@pytest.mark.parametrize("channel", SIGNED_CHANNELS)
def test_wrong_signature_is_401_and_nothing_stored(app, client, channel):
    resp = post(client, channel, signed(channel, secret="not-the-secret"))
    assert resp.status_code == 401
    assert resp.json == {"error": "invalid signature"}
    assert event_rows(app) == [] and queued_job_ids(app) == []


@pytest.mark.parametrize("channel", SIGNED_CHANNELS)
def test_missing_signature_is_401(app, client, channel):
    req = signed(channel)
    req.headers = {k: v for k, v in req.headers.items()
                   if k.lower() not in ("x-shopify-hmac-sha256", "x-wc-webhook-signature", "stripe-signature",
                                        "x-hmac-signature", "aftership-hmac-sha256")}
    req.query = {}
    assert post(client, channel, req).status_code == 401
    assert event_rows(app) == []


@pytest.mark.parametrize("channel", [c for c in SIGNED_CHANNELS if c != "shippo"])  # shippo: URL token
def test_tampered_body_is_401(app, client, channel):
    req = signed(channel)
    req.body = req.body.replace(b"}", b" }", 1)
    assert post(client, channel, req).status_code == 401


@pytest.mark.parametrize("channel", ["shop-eu", "stripe", "shippo"])
def test_every_configured_secret_is_accepted_for_rotation(app, client, channel):
    old = SECRETS[channel][1]
    assert post(client, channel, signed(channel, secret=old)).status_code == 200


def test_stripe_timestamp_tolerance(app, client):
    body = sample_body("stripe")
    stale = signing.stripe(SECRETS["stripe"][0], body, timestamp=int(time.time()) - 301)
    resp = post(client, "stripe", stale)
    assert resp.status_code == 401
    fresh = signing.stripe(SECRETS["stripe"][0], body, timestamp=int(time.time()) - 290)
    assert post(client, "stripe", fresh).status_code == 200


def test_stripe_header_with_several_v1_signatures(app, client):
    body = sample_body("stripe")
    good = signing.stripe(SECRETS["stripe"][1], body)
    t, v1 = good.headers["Stripe-Signature"].split(",")
    good.headers["Stripe-Signature"] = f"{t},v1={'0' * 64},{v1}"
    assert post(client, "stripe", good).status_code == 200


def test_stripe_event_identity(app, client):
    resp = post(client, "stripe", signed("stripe"))
    row = event_rows(app)[0]
    assert (row.topic, row.dedupe_key) == ("plan.created", "evt_1Pgc76B7WZ01zgkWwyRHS12y")
    assert row.occurred_at.isoformat() == "2009-02-13T23:31:30+00:00"
    assert resp.status_code == 200


def test_shopify_corpus_vector(make_app):
    vec = corpus_json("signatures/shopify_webhook_hmac_vector.json")
    app = make_app(channels={"shop": {"kind": "shopify", "webhook_secrets": [vec["secret"]]}})
    headers = dict(vec["headers_in_test"], **{"X-Shopify-Hmac-Sha256": vec["expected_x_shopify_hmac_sha256"]})
    resp = app.test_client().post("/webhooks/shop", data=vec["raw_body"].encode(), headers=headers)
    assert resp.status_code == 200 and resp.json["status"] == "accepted"
    row = event_rows(app)[0]
    assert (row.topic, row.dedupe_key) == ("products/create", "products/create:123456789")


def test_easypost_corpus_vector_needs_nfkd(make_app):
    vec = corpus_json("signatures/easypost_webhook_hmac_vector.json")
    body = corpus_bytes("carriers/easypost_event_tracker_updated.json", strip_newline=False)
    app = make_app(channels={"ep": {"kind": "easypost", "webhook_secrets": [vec["secret"]]}})
    resp = app.test_client().post("/webhooks/ep", data=body,
                                  headers={"X-Hmac-Signature": vec["expected_x_hmac_signature"]})
    assert resp.status_code == 200
    row = event_rows(app)[0]
    assert (row.topic, row.dedupe_key) == ("tracker.updated", "evt_1")
    # the same secret typed in its NFC form is still the same secret to EasyPost
    import unicodedata

    nfc_secret = unicodedata.normalize("NFC", vec["secret"])
    nfc = make_app(channels={"ep": {"kind": "easypost", "webhook_secrets": [nfc_secret]}})
    assert nfc.test_client().post("/webhooks/ep", data=body,
                                  headers={"X-Hmac-Signature": vec["expected_x_hmac_signature"]}).status_code == 200


def test_woocommerce_corpus_vector():
    from connectors.base import Unauthorized, check_base64_hmac

    vec = corpus_json("signatures/woocommerce_webhook_signature_vector.json")
    check_base64_hmac([vec["secret"]], vec["payload"].encode(), vec["expected_signature"], "X-WC-Webhook-Signature")
    with pytest.raises(Unauthorized):
        check_base64_hmac(["other"], vec["payload"].encode(), vec["expected_signature"], "X-WC-Webhook-Signature")


@pytest.mark.parametrize("name", ["003-product.updated", "004-order.created", "005-product.updated",
                                  "006-product.updated"])
def test_real_woocommerce_deliveries_verify(app, client, name):
    body = corpus_bytes(f"woocommerce/live-11.0.1/{name}.body", strip_newline=False)
    headers = corpus_json(f"woocommerce/live-11.0.1/{name}.headers.json")["headers"]
    headers = {k: v for k, v in headers.items() if k not in ("Host", "Content-Length", "Connection")}
    resp = client.post("/webhooks/woo", data=body, headers=headers)
    assert resp.status_code == 200, resp.json
    row = event_rows(app)[0]
    assert row.topic == headers["X-WC-Webhook-Topic"]
    assert row.dedupe_key.startswith(f"{row.topic}:{json.loads(body)['id']}:")


def test_woocommerce_ping_is_acknowledged_and_starts_nothing(app, client):
    body = corpus_bytes("woocommerce/live-11.0.1/001-ping.body", strip_newline=False)
    headers = corpus_json("woocommerce/live-11.0.1/001-ping.headers.json")["headers"]
    resp = client.post("/webhooks/woo", data=body, headers={"Content-Type": headers["Content-Type"]})
    assert resp.status_code == 200 and resp.json == {"status": "ignored"}
    assert event_rows(app) == [] and queued_job_ids(app) == []


def test_woocommerce_same_second_deliveries_both_count_and_redelivery_once(app, client):
    # 005 and 006 share X-WC-Webhook-Delivery-ID (same second) but are different changes
    for name in ("005-product.updated", "006-product.updated", "005-product.updated"):
        body = corpus_bytes(f"woocommerce/live-11.0.1/{name}.body", strip_newline=False)
        headers = corpus_json(f"woocommerce/live-11.0.1/{name}.headers.json")["headers"]
        client.post("/webhooks/woo", data=body, headers={k: v for k, v in headers.items() if k.startswith("X-WC")})
    assert len(event_rows(app)) == 2
    assert len(queued_job_ids(app)) == 2


def test_shippo_token_in_query(app, client):
    req = signed("shippo")
    assert post(client, "shippo", req).status_code == 200
    req.query = {"token": "shippo-token-1x"}
    assert post(client, "shippo", req).status_code == 401


def test_sequential_duplicates_are_one_row_one_job(app, client):
    req = signed("shop-eu", event_id="evt-fixed-1")
    first = post(client, "shop-eu", req)
    again = [post(client, "shop-eu", req) for _ in range(3)]
    assert first.json["status"] == "accepted"
    assert {(r.status_code, r.json["status"], r.json["event_id"]) for r in again} == {
        (200, "duplicate", first.json["event_id"])}
    assert len(event_rows(app)) == 1
    assert queued_job_ids(app) == [f"event-{first.json['event_id']}"]


def test_twenty_concurrent_copies_are_one_row_one_job(app):
    req = signed("stripe")
    barrier = threading.Barrier(20)
    results = []

    def send(url: str) -> None:
        barrier.wait()
        r = requests.post(f"{url}/webhooks/stripe", data=req.body, headers=req.headers, timeout=30)
        results.append((r.status_code, r.json()["status"], r.json()["event_id"]))

    with live_server(app) as url:
        threads = [threading.Thread(target=send, args=(url,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 20
    assert {code for code, _, _ in results} == {200}
    assert sorted(s for _, s, _ in results) == ["accepted"] + ["duplicate"] * 19
    assert len({eid for _, _, eid in results}) == 1
    assert len(event_rows(app)) == 1
    assert len(queued_job_ids(app)) == 1


def test_body_over_limit_is_413_and_not_stored(make_app):
    app = make_app(max_body_bytes=1024)
    body = json.dumps({"id": "evt_big", "type": "x", "pad": "a" * 2000}).encode()
    resp = post(app.test_client(), "stripe", signed("stripe", body=body))
    assert resp.status_code == 413
    assert "error" in resp.json
    assert event_rows(app) == []


@pytest.mark.parametrize("channel", ["stripe", "shippo"])
def test_a_chunked_body_over_the_limit_is_413_and_one_under_it_arrives_whole(make_app, channel):
    """Transfer-Encoding: chunked carries no length: the body was cut at the limit, then refused as a bad
    signature (Stripe) or, with Shippo's URL token, stored and rejected as broken JSON."""
    import requests

    app = make_app(max_body_bytes=1024)
    big = json.dumps({"id": "evt_big", "type": "x", "event": "track_updated", "pad": "a" * 2000}).encode()
    small = json.dumps({"id": "evt_small", "type": "x", "event": "track_updated", "pad": "a" * 600}).encode()
    with live_server(app) as base:
        answers = []
        for body in (big, small):
            req = signed(channel, body=body)
            pieces = iter([body[:700], body[700:]])  # a generator body: requests sends it chunked
            answers.append(requests.post(f"{base}/webhooks/{channel}", data=pieces, headers=req.headers,
                                         params=req.query, timeout=10))
    assert [a.status_code for a in answers] == [413, 200], [a.text for a in answers]
    assert answers[0].json()["error"]
    [row] = event_rows(app)
    assert bytes(row.body) == small and row.status == "received"


def test_verified_but_broken_body_is_kept_as_rejected(app, client):
    body = b'{"id": 820982911946154508, "email": "jon@example.com", '  # cut short
    resp = post(client, "shop-eu", signed("shop-eu", body=body))
    assert resp.status_code == 400
    assert resp.json["status"] == "rejected" and "not valid JSON" in resp.json["reason"]
    rows = event_rows(app)
    assert len(rows) == 1 and rows[0].status == "rejected" and bytes(rows[0].body) == body
    assert "not valid JSON" in rows[0].status_reason
    assert queued_job_ids(app) == []


def test_missing_identity_is_rejected_not_lost(app, client):
    body = json.dumps({"object": "event", "type": "charge.succeeded"}).encode()  # no id
    resp = post(client, "stripe", signed("stripe", body=body))
    assert resp.status_code == 400 and "'id'" in resp.json["reason"]
    assert event_rows(app)[0].status == "rejected"


@pytest.mark.parametrize(("channel", "body", "topic", "why"), [
    ("stripe", b'{"id":1.5,"type":7}', None, "topic is not text"),  # Stripe retries a 5xx for days
    ("stripe", b'{"id":"evt_1","type":"charge.succeeded","created":1e300}', None, "not a time"),
    ("woo", b'{"id":"\\u0000"}', "order.created", "NUL character"),  # PostgreSQL cannot keep it in text
])
def test_a_value_no_store_could_keep_is_rejected_and_kept_not_a_5xx(app, client, channel, body, topic, why):
    """Validly signed bodies whose identity no store could keep answered 500 (a topic that is not text) or
    503 for ever (a NUL in the event id, on PostgreSQL): now 400 rejected, the raw bytes kept."""
    resp = post(client, channel, signed(channel, body=body, **({"topic": topic} if topic else {})))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.json["status"] == "rejected" and why in resp.json["reason"]
    [row] = event_rows(app)
    assert row.status == "rejected" and bytes(row.body) == body and why in row.status_reason
    assert queued_job_ids(app) == []


def test_unknown_channel_is_404(client):
    assert client.post("/webhooks/nope", data=b"{}").status_code == 404


def test_credentials_are_redacted_and_never_logged(app, client, caplog):
    req = signed("shop-eu")
    req.headers["Authorization"] = "Basic c2VjcmV0OnNlY3JldA=="
    post(client, "shop-eu", req)
    stored = event_rows(app)[0].headers
    assert stored["X-Shopify-Hmac-Sha256"] == "[redacted]" and stored["Authorization"] == "[redacted]"
    assert stored["X-Shopify-Topic"] == "orders/create"
    bad = signed("shop-eu", secret="wrong")
    with caplog.at_level("DEBUG"):
        post(client, "shop-eu", bad)
        post(client, "shippo", signed("shippo", secret="leaky-token"))
    text = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for secret in SECRETS["shop-eu"] + ["leaky-token", bad.headers["X-Shopify-Hmac-Sha256"]]:
        assert secret not in text
    assert "webhook refused" in caplog.text
