"""Operations endpoints: liveness, readiness (database and Redis) and Prometheus metrics."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.redis import WORKER_ALIVE_TTL_S
from jobs.queueing import INBOX_KEY, alive_workers
from store.deliveries import counts_by_channel_status

from .metrics import gauge
from .state import Hub, current_hub

logger = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():  # noqa: ANN201
    hub = current_hub()
    checks = {"database": "ok", "redis": "ok"}
    try:
        with hub.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    workers = None
    try:
        hub.redis.client.ping()
        workers = alive_workers(hub.redis.client, WORKER_ALIVE_TTL_S)
    except RedisError as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    # the worker count is told, not judged: with no worker the receiver still takes every delivery (it
    # waits in Redis), so a load balancer must not take this server out for it
    return {"status": "ready" if ready else "unavailable", "checks": checks, "workers": workers}, 200 if ready else 503


class _Live:
    """Gauges read at scrape time from the store and Redis (each skipped if unreachable)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self):  # noqa: ANN201
        try:
            rows = counts_by_channel_status(self.hub.engine)
            yield gauge("hub_events", "Stored deliveries by channel and status", ["channel", "status"],
                        [([c, s], n) for c, s, n in rows])
        except SQLAlchemyError as exc:
            logger.warning("metrics: store unreachable", extra={"error": type(exc).__name__})
        try:
            names = [q.name for q in Queue.all(connection=self.hub.redis.client)] or ["events"]
            depths = [([n], Queue(n, connection=self.hub.redis.client).count) for n in names]
            depths.append((["inbox"], self.hub.redis.client.llen(INBOX_KEY)))  # announced, not yet relayed
            yield gauge("hub_queue_depth", "Jobs waiting per RQ queue (inbox: ids awaiting the relay)",
                    ["queue"], depths)
        except RedisError as exc:
            logger.warning("metrics: redis unreachable", extra={"error": type(exc).__name__})


@bp.get("/metrics")
def metrics():  # noqa: ANN201
    hub = current_hub()
    return Response(hub.metrics.render(_Live(hub)), mimetype="text/plain; version=0.0.4")
