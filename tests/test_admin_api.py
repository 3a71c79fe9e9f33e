"""The admin read API, its auth, processing through a real RQ worker, and the ops endpoints."""

from __future__ import annotations

import pytest

from .support import ADMIN_TOKEN, event_rows, post, relay, run_worker, signed


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN},
                                     {"Authorization": f"Basic {ADMIN_TOKEN}"},
                                     {"Authorization": f"Bearer {ADMIN_TOKEN}x"}])
@pytest.mark.parametrize("path", ["/api/events", "/api/events/1", "/api/events?status=failed"])
def test_api_refuses_without_the_token(client, headers, path):
    post(client, "stripe", signed("stripe"))
    resp = client.get(path, headers=headers)
    assert resp.status_code == 401
    assert resp.json == {"error": "unauthorized"}


def test_api_is_closed_when_no_token_is_configured(make_app):
    client = make_app(admin_token="").test_client()
    assert client.get("/api/events", headers={"Authorization": "Bearer "}).status_code == 401


def test_list_newest_first_with_filters_and_cursor(client, auth):
    ids = [post(client, ch, signed(ch)).json["event_id"] for ch in ("shop-eu", "woo", "stripe", "easypost")]
    listed = client.get("/api/events", headers=auth).json
    assert [e["id"] for e in listed["events"]] == ids[::-1]
    assert client.get("/api/events?channel=woo", headers=auth).json["events"][0]["topic"] == "order.created"
    assert [e["id"] for e in client.get("/api/events?topic=orders/create", headers=auth).json["events"]] == [ids[0]]
    page = client.get("/api/events?limit=2", headers=auth).json
    assert [e["id"] for e in page["events"]] == ids[:1:-1] and page["next_before"] == ids[2]
    rest = client.get(f"/api/events?limit=2&before={page['next_before']}", headers=auth).json
    assert [e["id"] for e in rest["events"]] == ids[1::-1]
    assert client.get("/api/events?status=received", headers=auth).json["events"][0]["status"] == "received"
    assert client.get("/api/events?status=bogus", headers=auth).status_code == 400
    assert client.get("/api/events?limit=x", headers=auth).status_code == 400


def test_event_detail_after_processing(app, client, auth):
    event_id = post(client, "shop-eu", signed("shop-eu")).json["event_id"]
    run_worker(app)
    detail = client.get(f"/api/events/{event_id}", headers=auth).json
    assert detail["status"] == "processed"
    assert [h["status"] for h in detail["history"]] == ["received", "processed"]
    assert detail["headers"]["X-Shopify-Topic"] == "orders/create"
    assert detail["headers"]["X-Shopify-Hmac-Sha256"] == "[redacted]"
    assert '"line_items"' in detail["body"]
    assert detail["received_at"].endswith("Z")
    assert client.get("/api/events/999999", headers=auth).status_code == 404


def test_process_event_is_idempotent(app, client):
    event_id = post(client, "stripe", signed("stripe")).json["event_id"]
    run_worker(app)
    from jobs.events import process_event

    with app.app_context():
        assert process_event(event_id) == "ignored"  # plan.created: not a topic the hub handles
        assert process_event(event_id) == "ignored"  # a second run changes nothing
        assert process_event(123456789) == "missing"
    assert [r.status for r in event_rows(app)] == ["ignored"]
    hist = app.test_client().get(f"/api/events/{event_id}",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["history"]
    assert len(hist) == 2


def test_healthz_and_metrics(app, client):
    assert client.get("/healthz").json == {"status": "ok"}
    post(client, "stripe", signed("stripe"))
    post(client, "stripe", signed("stripe"))  # same event id -> duplicate
    post(client, "stripe", signed("stripe", secret="bad"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'hub_webhook_deliveries_total{channel="stripe",outcome="accepted"} 1.0' in text
    assert 'hub_webhook_deliveries_total{channel="stripe",outcome="duplicate"} 1.0' in text
    assert 'hub_webhook_verification_failures_total{channel="stripe"} 1.0' in text
    assert 'hub_webhook_ingest_seconds_count{channel="stripe"} 2.0' in text
    assert 'hub_events{channel="stripe",status="received"} 1.0' in text
    assert 'hub_queue_depth{queue="inbox"} 1.0' in text
    relay(app)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'hub_queue_depth{queue="events"} 1.0' in text and 'hub_queue_depth{queue="inbox"} 0.0' in text
