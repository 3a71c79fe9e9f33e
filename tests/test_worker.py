"""The hub's RQ workers stop within a second of being asked, whatever their command thread was doing."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from rq import Queue

from jobs.worker import LISTEN_WAKE_S, HubForkWorker, HubWorker


@pytest.mark.parametrize("worker_class", [HubWorker, HubForkWorker])
def test_a_worker_stops_at_once_when_its_command_thread_already_saw_the_unsubscribe(worker_class, redis_url, clean):
    """The interleaving that cost RQ's own workers up to 60 s (redis-py 8.2 joins the thread without a
    timeout): the command thread reads the unsubscribe reply before it is told to stop, then waits to be
    subscribed again."""
    connection = redis.Redis.from_url(redis_url)
    worker = worker_class([Queue("q", connection=connection)], connection=connection)
    worker.subscribe()
    deadline = time.monotonic() + 5
    while not worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.pubsub.unsubscribe()  # what RQ's unsubscribe() sends first; the thread reads the reply ...
    while worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not worker.pubsub.subscribed  # ... and now waits to be subscribed again
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    started = time.monotonic()
    stopping.start()
    stopping.join(2)
    assert not stopping.is_alive(), "the worker's command thread held its stop for over 2 s"
    assert time.monotonic() - started < LISTEN_WAKE_S + 0.8
    connection.close()

