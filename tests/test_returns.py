"""Shopify's returns/* topics become one return per return on its order: lines (their SKUs from the order),
status, a CRM note per step, the order's timeline. Bodies as Shopify sends them (its documented webhook
examples: returns/request and returns/approve carry ``order: {id}`` and ``return_line_items`` naming order lines
through ``fulfillment_line_item.line_item``; close, decline, cancel and reopen carry ``id``, ``order_id``,
``status``). The 2026-07 webhook corpus has no returns example; the topics are in its WebhookSubscriptionTopic."""

from __future__ import annotations

import json

from sqlalchemy import select

from hub.timeline import order_timeline
from store.models import crm_notes, events

from .support import ADMIN_TOKEN, post, run_worker, sample_body, signed

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ORDER = json.loads(sample_body("shop-eu"))  # #9999, five lines of one unit
LENS = next(li for li in ORDER["line_items"] if li["sku"] == "LENS-PROTECT-2YR")


def requested(return_id: int = 3547267221, status: str = "requested", quantity: int = 1) -> dict:
    return {"id": return_id, "admin_graphql_api_id": f"gid://shopify/Return/{return_id}", "status": status,
            "order": {"id": ORDER["id"], "admin_graphql_api_id": f"gid://shopify/Order/{ORDER['id']}"},
            "total_return_line_items": 1, "name": "#9999-R1",
            "return_line_items": [{
                "id": 6200524949, "admin_graphql_api_id": "gid://shopify/ReturnLineItem/6200524949",
                "fulfillment_line_item": {"id": 10736341352597,
                                          "admin_graphql_api_id": "gid://shopify/FulfillmentLineItem/10736341352597",
                                          "line_item": {"id": LENS["id"],
                                                        "admin_graphql_api_id": f"gid://shopify/LineItem/{LENS['id']}"}},
                "quantity": quantity, "return_reason": "unwanted", "return_reason_note": "",
                "customer_note": "Bought two by mistake"}],
            "return_shipping_fees": [], "exchange_line_items": [], "total_exchange_line_items": 0}


def status_body(status: str, return_id: int = 3547267221) -> dict:
    return {"id": return_id, "admin_graphql_api_id": f"gid://shopify/Return/{return_id}", "order_id": ORDER["id"],
            "status": status}


def send(client, topic: str, body: dict) -> int:  # noqa: ANN001
    resp = post(client, "shop-eu", signed("shop-eu", body=json.dumps(body).encode(), topic=topic))
    assert resp.status_code == 200, resp.data
    return resp.json["event_id"]


def order_of(client) -> dict:  # noqa: ANN001
    [summary] = client.get("/api/orders", headers=AUTH).json["orders"]
    return client.get(f"/api/orders/{summary['id']}", headers=AUTH).json


def test_a_return_is_requested_approved_and_closed_on_its_order_and_never_goes_back(app, client):
    send(client, "orders/create", ORDER)
    send(client, "returns/request", requested())
    run_worker(app)
    [ret] = order_of(client)["returns"]
    assert (ret["name"], ret["status"], ret["closed_at"]) == ("#9999-R1", "requested", None)
    assert ret["lines"] == [{"line_id": str(LENS["id"]), "sku": "LENS-PROTECT-2YR", "quantity": 1,
                             "reason": "unwanted", "note": "Bought two by mistake"}]

    send(client, "returns/approve", requested(status="open"))
    send(client, "returns/close", status_body("closed"))  # no lines: the lines stay
    run_worker(app)
    [ret] = order_of(client)["returns"]
    assert ret["status"] == "closed" and ret["closed_at"] and ret["lines"][0]["sku"] == "LENS-PROTECT-2YR"

    late = send(client, "returns/request", requested(quantity=1))  # a retried request after the close
    run_worker(app)
    assert order_of(client)["returns"][0]["status"] == "closed"
    assert client.get(f"/api/events/{late}", headers=AUTH).json["status"] == "processed"

    send(client, "returns/reopen", status_body("open"))  # the shop reopened it: it goes back, as Shopify says
    run_worker(app)
    assert order_of(client)["returns"][0]["status"] == "open" and order_of(client)["returns"][0]["closed_at"] is None

    with app.extensions["hub"].engine.connect() as conn:
        steps = [s.what for s in order_timeline(conn, order_of(client)) if s.what.startswith("return")]
    assert steps == ["return #9999-R1 asked for: 1 x LENS-PROTECT-2YR", "return #9999-R1 open"]
    with app.extensions["hub"].engine.connect() as conn:
        notes = conn.execute(select(crm_notes.c.body).where(crm_notes.c.kind == "return")
                             .order_by(crm_notes.c.id)).scalars().all()
    assert notes == ["Return #9999-R1 requested: 1 x LENS-PROTECT-2YR", "Return #9999-R1 open: 1 x LENS-PROTECT-2YR",
                     "Return #9999-R1 closed: 1 x LENS-PROTECT-2YR"]  # reopened: "open" was noted already


def test_a_return_before_its_order_is_shown_on_it_and_a_return_without_order_is_kept_unmappable(app, client):
    send(client, "returns/request", requested())
    run_worker(app)
    send(client, "orders/create", ORDER)
    run_worker(app)
    [ret] = order_of(client)["returns"]
    assert ret["status"] == "requested" and ret["lines"][0]["quantity"] == 1

    broken = {k: v for k, v in requested(return_id=7).items() if k != "order"}
    bad = send(client, "returns/request", broken)
    run_worker(app)
    with app.extensions["hub"].engine.connect() as conn:
        status, note = conn.execute(select(events.c.status, events.c.status_reason).where(events.c.id == bad)).one()
    assert status == "failed" and "names no order" in note, note  # kept, for a person to look at
    assert len(order_of(client)["returns"]) == 1
