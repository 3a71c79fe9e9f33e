"""Debounced stock pushes fall due to the millisecond: the relay queues them, woken when one is scheduled."""

from __future__ import annotations

import threading
import time

from jobs.queueing import EVENTS_DUE_KEY, INBOX_KEY, PUSH_DUE_KEY


def push_jobs(hub, channel: str) -> list[tuple]:
    return [job.args for job in hub.queues.stock_queue(channel).get_jobs()]


def test_a_debounced_push_is_queued_when_it_falls_due_not_before(hub):
    assert hub.queues.schedule_push("woo", delay_s=0.3) is True
    assert hub.queues.schedule_push("woo", delay_s=0.3) is False  # one pending push takes every change
    wait = hub.queues.release_due_pushes()
    assert 0.15 < wait <= 0.3
    assert push_jobs(hub, "woo") == []
    time.sleep(wait + 0.01)
    assert hub.queues.release_due_pushes() is None  # nothing else waits
    assert push_jobs(hub, "woo") == [("woo", 1)]
    assert hub.redis.client.zcard(PUSH_DUE_KEY) == 0


def test_a_held_event_goes_back_to_the_inbox_when_its_hold_is_over(hub):
    hub.queues.hold_event(7, 0.3)
    hub.queues.schedule_push("woo", delay_s=0.1)
    wait = hub.queues.release_due()
    assert 0.05 < wait <= 0.1  # the sooner of the two
    assert hub.redis.client.llen(INBOX_KEY) == 0
    time.sleep(0.35)
    assert hub.queues.release_due() is None  # both fell due: nothing else waits
    assert hub.redis.client.lrange(INBOX_KEY, 0, -1) == [b"7"] and push_jobs(hub, "woo") == [("woo", 1)]
    assert hub.redis.client.zcard(EVENTS_DUE_KEY) == 0


def test_a_retry_backoff_still_goes_through_rqs_scheduler(hub):
    assert hub.queues.schedule_push("woo", delay_s=30, attempt=2, force=True)
    assert hub.redis.client.zcard(PUSH_DUE_KEY) == 0
    assert hub.queues.stock_queue("woo").scheduled_job_registry.get_job_ids() != []


def test_the_relay_wakes_when_a_push_is_scheduled_while_it_waits(hub):
    done = threading.Event()
    started = time.monotonic()

    def relay() -> None:
        while not done.is_set():
            hub.queues.relay_step(block_s=3.0)

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    time.sleep(0.2)  # the relay is now waiting up to 3 s for a delivery
    hub.queues.schedule_push("woo", delay_s=0.2)
    deadline = time.monotonic() + 4
    while not push_jobs(hub, "woo") and time.monotonic() < deadline:
        time.sleep(0.01)
    queued_after = time.monotonic() - started
    done.set()
    hub.queues.schedule_push("shop-eu", delay_s=0.01)  # a wake-up ends the relay's last wait
    thread.join(4)
    assert not thread.is_alive()
    assert push_jobs(hub, "woo") == [("woo", 1)]
    assert 0.4 <= queued_after < 2.0  # due at 0.4 s; without the wake-up, 3 s


def test_without_a_relay_the_stock_sweeper_queues_pushes_that_fell_due(app):
    from jobs.outbox import sweep_stock

    hub = app.extensions["hub"]
    hub.queues.schedule_push("woo", delay_s=0.05)
    time.sleep(0.1)
    with app.app_context():
        sweep_stock()
    assert push_jobs(hub, "woo") == [("woo", 1)]


WOO_OUT = {"kind": "woocommerce", "webhook_secrets": ["s"], "url": "http://127.0.0.1:9", "consumer_key": "ck_x",
           "consumer_secret": "cs_x", "locations": {"default": "main"}}


def test_with_a_debounce_a_due_push_goes_before_waiting_deliveries(make_app):
    names = make_app(channels={"woo": WOO_OUT}).extensions["hub"].queues.queue_names()
    assert names.index("stock-woo") < names.index("events")
    # with none, the deliveries queued before a push go first, so it takes all their changes at once
    names = make_app(channels={"woo": WOO_OUT}, stock_push_debounce_s=0).extensions["hub"].queues.queue_names()
    assert names.index("events") < names.index("stock-woo")
