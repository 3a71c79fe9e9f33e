"""Nothing is lost when the database or Redis is down."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine

from hub.db import normalise_url

from .support import event_rows, post, queued_job_ids, run_worker, signed


def test_database_down_is_503_nothing_stored_nothing_queued(make_app, database_url):
    if database_url.startswith("sqlite"):
        # SQLite is "down" for writers while another process holds the write lock.
        app = make_app(db_busy_timeout_s=0.2)
        blocker = create_engine(database_url, connect_args={"isolation_level": None})
        conn = blocker.raw_connection()
        conn.execute("BEGIN EXCLUSIVE")
        try:
            resp = post(app.test_client(), "shop-eu", signed("shop-eu"))
        finally:
            conn.execute("ROLLBACK")
            conn.close()
            blocker.dispose()
    else:
        # PostgreSQL that does not answer: the same server address with nothing listening.
        down = make_url_port(database_url, 1)
        app = make_app(database_url=down)
        resp = post(app.test_client(), "shop-eu", signed("shop-eu"))
    assert resp.status_code == 503
    assert resp.json == {"error": "store unavailable, retry later"}
    ok_app = make_app()
    assert event_rows(ok_app) == []
    assert queued_job_ids(ok_app) == []
    # and once it is back, the platform's retry goes through
    assert post(ok_app.test_client(), "shop-eu", signed("shop-eu")).status_code == 200


def make_url_port(url: str, port: int) -> str:
    from sqlalchemy.engine import make_url

    return make_url(normalise_url(url)).set(port=port).render_as_string(hide_password=False)


def test_redis_down_keeps_the_row_and_the_sweeper_requeues_it(make_app):
    down = make_app(redis_url="redis://127.0.0.1:1/0")
    started = time.perf_counter()
    resp = post(down.test_client(), "stripe", signed("stripe"))
    assert time.perf_counter() - started < 3  # bounded, not a hang
    assert resp.status_code == 200 and resp.json["status"] == "accepted"
    event_id = resp.json["event_id"]

    app = make_app()
    assert [r.status for r in event_rows(app)] == ["received"]
    assert queued_job_ids(app) == []

    from jobs.outbox import sweep_outbox

    with app.app_context():
        assert sweep_outbox(grace_s=60) == 0  # too young: its own job may still be on the way
        assert sweep_outbox(grace_s=0) == 1
        assert sweep_outbox(grace_s=0) == 0  # already queued: not queued twice
    assert queued_job_ids(app) == [f"event-{event_id}"]
    run_worker(app)
    assert [r.status for r in event_rows(app)] == ["ignored"]  # processed: plan.created is not handled


def test_sweeper_runs_as_a_queued_job(make_app):
    down = make_app(redis_url="redis://127.0.0.1:1/0")
    post(down.test_client(), "woo", signed("woo"))
    app = make_app(outbox_grace_s=0)
    app.extensions["hub"].events_queue.enqueue("jobs.outbox.sweep_outbox")
    run_worker(app)  # runs the sweep, then the event job it queued
    assert [r.status for r in event_rows(app)] == ["processed"]


@pytest.mark.parametrize("path", ["/readyz"])
def test_readyz_reports_each_dependency(make_app, path):
    ok = make_app().test_client().get(path)
    assert ok.status_code == 200 and ok.json["checks"] == {"database": "ok", "redis": "ok"}
    bad = make_app(redis_url="redis://127.0.0.1:1/0").test_client().get(path)
    assert bad.status_code == 503
    assert bad.json["checks"]["database"] == "ok" and bad.json["checks"]["redis"].startswith("unavailable")




def test_relay_batches_announced_deliveries_into_jobs(app):
    ids = [post(app.test_client(), ch, signed(ch)).json["event_id"] for ch in ("shop-eu", "woo", "stripe")]
    hub = app.extensions["hub"]
    assert hub.events_queue.get_job_ids() == []  # announced only: the receiver built no job
    assert hub.relay_inbox(batch=2) == 2 and hub.relay_inbox(batch=2) == 1 and hub.relay_inbox() == 0
    jobs = hub.events_queue.get_jobs()
    assert [j.args for j in jobs] == [(ids[:2],), (ids[2:],)]  # what waited together goes in one job
    run_worker(app)
    with app.app_context():
        assert [sum(j.return_value().values()) for j in jobs] == [2, 1]


def test_a_live_relay_woken_by_one_id_takes_those_that_follow_it_into_the_same_job(app):
    hub = app.extensions["hub"]
    hub.announce_event(101)
    later = threading.Timer(0.01, lambda: [hub.announce_event(i) for i in (102, 103, 104)])
    later.start()
    try:
        assert hub.relay_inbox(block_s=1, gather_s=0.5) == 4  # (the live relay gathers RELAY_GATHER_S)
    finally:
        later.join()
    assert [j.args for j in hub.events_queue.get_jobs()] == [([101, 102, 103, 104],)]


def test_ids_lost_by_a_crashed_relay_are_swept(app):
    post(app.test_client(), "stripe", signed("stripe"))
    hub = app.extensions["hub"]
    from hub.redis import INBOX_KEY

    hub.redis.client.delete(INBOX_KEY)  # the relay popped them, then died before enqueueing
    assert queued_job_ids(app) == []
    from jobs.outbox import sweep_outbox

    with app.app_context():
        assert sweep_outbox(grace_s=0) == 1
    run_worker(app)
    assert [r.status for r in event_rows(app)] == ["ignored"]  # processed: plan.created is not handled
