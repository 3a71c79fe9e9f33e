"""Task records: every attempt of every sync task is a row in the store with the right status and error
class, through the real jobs against the Odoo / HubSpot / WooCommerce / Shopify sandboxes (real DB + Redis)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jobs.outbox import sweep_outbox
from jobs.tasks import get_task, list_tasks, task_stats
from sandbox import signing
from store.deliveries import utcnow
from store.models import events, tasks

from .support import SECRETS, corpus_json, post, run_worker, task_rows
from .support.erp_crm import erp_crm_env
from .support.erp_crm import erp_woo_order as woo_order
from .support.stock import stock_env


@pytest.fixture
def env(make_app):
    with erp_crm_env(make_app) as e:
        yield e


def attempts(env, kind: str) -> list[tuple]:
    return [(r.attempt, r.status, r.error_class) for r in task_rows(env, kind=kind)]


def test_an_export_that_succeeds_is_one_ok_attempt_with_its_key(env):
    env.deliver(woo_order())
    env.run()
    [erp] = task_rows(env, kind="export_order")
    [crm] = task_rows(env, kind="sync_crm")
    order_id = erp.args["order_id"]
    assert (erp.channel, erp.entity, erp.status, erp.attempt, erp.error_class) == ("erp", f"order:{order_id}", "ok",
                                                                                   1, None)
    assert erp.idempotency_key == "woo:114" and erp.detail["sale_order"] == env.sale_orders()[0]["name"]
    assert erp.job_id == f"erp-order-{order_id}" and erp.finished_at >= erp.started_at
    assert (crm.channel, crm.status, crm.idempotency_key) == ("crm", "ok", "woo:114")


def test_a_timeout_is_retrying_then_ok(env):
    env.erp.configure(fail_next=[{"model": "sale.order", "method": "create", "error": "timeout"}])
    env.deliver(woo_order("processing", "stripe"))
    env.run()
    assert attempts(env, "export_order") == [(1, "retrying", None), (2, "ok", None)]
    first = task_rows(env, kind="export_order")[0]
    assert "timed out" in first.error.lower() or "timeout" in first.error.lower()


def test_retryable_out_of_attempts_is_failed_retryable(env):
    env.erp.configure(fail_next=[{"service": "object", "error": "server_error"}] * 20)
    env.deliver(woo_order())
    env.run()
    assert attempts(env, "export_order") == [(n, "retrying", None) for n in range(1, 5)] + [(5, "failed",
                                                                                            "retryable")]
    last = task_rows(env, kind="export_order")[-1]
    assert last.error.startswith("erp order ") and "gave up after 5 attempts" in last.error
    assert "Traceback" in last.traceback and "ExportFailed" in last.traceback


def test_an_unknown_sku_in_the_erp_needs_mapping_and_no_email_is_permanent(env):
    body = woo_order(skus=("PW-000", "GHOST-9"))
    env.deliver(body)
    env.run()
    [erp] = task_rows(env, kind="export_order")
    assert (erp.status, erp.error_class) == ("failed", "needs_mapping")
    assert "SKU GHOST-9 is not a product in Odoo" in erp.error
    no_email = woo_order(modified="2026-11-22T06:49:00")
    no_email.update(id=115, number="115", order_key="wc_order_x115")
    no_email["billing"] = {**no_email["billing"], "email": ""}
    env.deliver(no_email)
    env.run()
    crm = task_rows(env, kind="sync_crm")[-1]
    assert (crm.status, crm.error_class) == ("failed", "permanent") and "has no email" in crm.error
    stats = task_stats_of(env)
    assert stats["open_failures_by_class"]["needs_mapping"] == 1
    assert stats["open_failures_by_class"]["permanent"] >= 1


def task_stats_of(env) -> dict:
    with env.hub.engine.connect() as conn:
        return task_stats(conn)


def test_list_and_get_tasks(env):
    env.erp.configure(fail_next=[{"model": "sale.order", "method": "create", "error": "timeout"}])
    env.deliver(woo_order())
    env.run()
    with env.hub.engine.connect() as conn:
        newest = list_tasks(conn, kind="export_order")
        assert [t["status"] for t in newest] == ["ok", "retrying"]
        assert newest[1]["resolved_by"] == newest[0]["id"] and newest[0]["resolved_by"] is None
        page = list_tasks(conn, limit=1, kind="export_order")
        assert list_tasks(conn, kind="export_order", before=page[0]["id"]) == newest[1:]
        assert list_tasks(conn, status="retrying", channel="erp")[0]["attempt"] == 1
        assert list_tasks(conn, since=utcnow() + timedelta(minutes=1)) == []
        one = get_task(conn, newest[1]["id"])
        assert [a["attempt"] for a in one["attempts"]] == [1, 2] and one["args"]["order_id"] > 0
        assert get_task(conn, 10**9) is None


# ---- events: a row only for what fails, is parked, or resumes ------------------------------------------

def test_events_record_failures_and_parking_but_not_successes(make_app):
    app = make_app()
    with app.test_client() as c:
        ok = signing.woocommerce(SECRETS["woo"][0], json.dumps(woo_order()).encode(), "order.created")
        assert post(c, "woo", ok).status_code == 200
        bad = copy.deepcopy(corpus_json("woocommerce/live-11.0.1/004-order.created.body"))
        bad["id"], bad["line_items"][0]["quantity"] = 999, "lots"
        assert post(c, "woo", signing.woocommerce(SECRETS["woo"][0], json.dumps(bad).encode(),
                                                  "order.created")).status_code == 200
        level = {"inventory_item_id": 4242, "location_id": 24826418, "available": 3,
                 "updated_at": "2026-11-22T10:00:00-05:00", "admin_graphql_api_id": "gid://x"}
        assert post(c, "shop-eu", signing.shopify(SECRETS["shop-eu"][0], json.dumps(level).encode(),
                                                  "inventory_levels/update")).status_code == 200
    run_worker(app)
    hub = app.extensions["hub"]
    with hub.engine.connect() as conn:
        statuses = dict(conn.execute(select(events.c.id, events.c.status)).all())
        recorded = conn.execute(select(tasks).order_by(tasks.c.id)).all()
    assert sorted(statuses.values()) == ["failed", "needs_mapping", "processed"]
    by_event = {r.args["event_id"]: r for r in recorded}
    assert set(by_event) == {i for i, s in statuses.items() if s != "processed"}  # nothing for the success
    failed = next(r for r in recorded if statuses[r.args["event_id"]] == "failed")
    parked = next(r for r in recorded if statuses[r.args["event_id"]] == "needs_mapping")
    assert (failed.kind, failed.status, failed.error_class, failed.channel) == ("process_event", "failed",
                                                                                "permanent", "woo")
    assert "line_items.0.quantity" in failed.error
    assert (parked.status, parked.error_class) == ("failed", "needs_mapping") and "4242" in parked.error
    with app.test_client() as c:  # the link arrives: the parked event resumes, and says so
        r = c.post("/api/links", json=[{"channel": "shop-eu", "sku": "PW-000", "inventory_item_id": "4242"},
                                       {"channel": "shop-eu", "location_id": "24826418", "warehouse": "main"}],
                   headers={"Authorization": f"Bearer {app_token(app)}"})
        assert r.status_code == 201, r.json
    run_worker(app)
    with hub.engine.connect() as conn:
        history = [(t["attempt"], t["status"]) for t in list_tasks(conn, entity=parked.entity)]
        assert history == [(2, "ok"), (1, "failed")]
        assert list_tasks(conn, status="failed", unresolved=True, kind="process_event")[0]["id"] == failed.id


def app_token(app) -> str:
    return app.extensions["hub"].config.admin_token


# ---- stock pushes and tracking --------------------------------------------------------------------------

def test_stock_push_attempts_are_recorded_per_channel(make_app):
    with stock_env(make_app, ["SKU-1", "SKU-2"], 10) as env:
        env.woo.configure(consumer_secret="cs_rotated")  # the shop manager revoked the hub's key
        with env.app.test_client() as c:
            r = c.post("/api/stock/snapshot", data='{"sku": "SKU-1", "on_hand": 7}',
                       headers={"Authorization": f"Bearer {app_token(env.app)}"})
            assert r.status_code == 200
        run_worker(env.app)
        with env.hub.engine.connect() as conn:
            shop = list_tasks(conn, kind="push_stock", channel="shop-eu", since=utcnow() - timedelta(seconds=30))[0]
            woo = list_tasks(conn, kind="push_stock", channel="woo", since=utcnow() - timedelta(seconds=30))[0]
            woo_full = get_task(conn, woo["id"])
        assert (shop["status"], shop["entity"]) == ("ok", "stock:shop-eu")
        assert shop["idempotency_key"].startswith("hub-")
        assert (woo["status"], woo["error_class"], woo["entity"]) == ("failed", "permanent", "stock:woo")
        assert "401" in woo["error"]
        assert woo_full["detail"]["skus"] == ["SKU-1"] and woo_full["detail"]["quantities"] == {"SKU-1": 7}


def test_running_rows_age_in_the_stats(env):
    env.deliver(woo_order())
    env.run()
    with env.hub.engine.begin() as conn:
        conn.execute(update(tasks).where(tasks.c.kind == "export_order").values(
            status="running", finished_at=None, started_at=utcnow() - timedelta(minutes=5)))
        stats = task_stats(conn)
    assert 299 <= stats["oldest_pending_task_age_s"] < 320


def test_an_event_whose_processing_raises_is_recorded_with_its_traceback(make_app):
    # a Shopify orders/create whose body is a JSON array is kept as rejected; replayed anyway, its mapper
    # raises TypeError (a bug's shape, not an input refusal): the replay's attempt says so, with the traceback
    app = make_app()
    auth = {"Authorization": f"Bearer {app_token(app)}"}
    with app.test_client() as c:
        r = post(c, "shop-eu", signing.shopify(SECRETS["shop-eu"][0], b"[]", "orders/create"))
        assert r.status_code == 400
        event_id = r.json["event_id"]
        assert c.post(f"/api/events/{event_id}/replay", json={}, headers=auth).status_code == 202
    run_worker(app)
    hub = app.extensions["hub"]
    with hub.engine.connect() as conn:
        [attempt] = list_tasks(conn, kind="process_event")
        full = get_task(conn, attempt["id"])
    assert (attempt["status"], attempt["error_class"], attempt["entity"]) == ("failed", "permanent",
                                                                              f"event:{event_id}")
    assert "not a mapping" in attempt["error"] and "TypeError" in full["traceback"]
    assert attempt["replay_id"] is not None
    with app.test_client() as c:
        notes = [h["note"] or "" for h in c.get(f"/api/events/{event_id}", headers=auth).json["history"]]
    assert any(n.startswith("replay: re-processing the stored delivery (was rejected)") for n in notes)
    assert any(n.startswith("processing raised TypeError") for n in notes)
    # a failure that would recur every time leaves the event failed, for a replay once fixed; the
    # outbox sweeper does not run it again (it did, every outbox_interval_s, for ever)
    with hub.engine.connect() as conn:
        assert conn.execute(select(events.c.status).where(events.c.id == event_id)).scalar() == "failed"
    with app.app_context():
        assert sweep_outbox(grace_s=0) == 0


def test_an_event_that_keeps_failing_for_a_retryable_reason_is_failed_after_ten_tries(make_app):
    from connectors.outbound import Retryable
    from jobs.events import EVENT_MAX_CRASHES, _record_crash

    app = make_app()
    with app.test_client() as c:
        event_id = post(c, "shop-eu", signing.shopify(SECRETS["shop-eu"][0], b"{}", "orders/create")).json["event_id"]
    hub = app.extensions["hub"]

    def status() -> str:
        with hub.engine.connect() as conn:
            return conn.execute(select(events.c.status).where(events.c.id == event_id)).scalar()

    with app.app_context():
        for _ in range(EVENT_MAX_CRASHES - 1):  # e.g. a lock held elsewhere: the outbox sweeper tries again
            _record_crash(hub, event_id, Retryable("lock busy"))
            assert status() == "received"
        _record_crash(hub, event_id, Retryable("lock busy"))
        assert status() == "failed"
        assert sweep_outbox(grace_s=0) == 0


def test_an_attempt_whose_worker_was_lost_ends_failed(env):
    from jobs.tasks import sweep_tasks

    env.deliver(woo_order())
    env.run()
    with env.hub.engine.begin() as conn:  # as if the worker had died mid-attempt an hour and a half ago
        conn.execute(update(tasks).where(tasks.c.kind == "export_order").values(
            status="running", finished_at=None, started_at=utcnow() - timedelta(minutes=90)))
        conn.execute(update(tasks).where(tasks.c.kind == "sync_crm").values(
            status="running", finished_at=None, started_at=utcnow() - timedelta(minutes=5)))
    with env.app.app_context():
        assert sweep_tasks() == 1
    [erp], [crm] = task_rows(env, kind="export_order"), task_rows(env, kind="sync_crm")
    assert (erp.status, erp.error_class) == ("failed", "retryable") and "worker was lost" in erp.error
    assert crm.status == "running"  # recent: it may still be running
