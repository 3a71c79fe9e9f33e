"""Figures for the operator's dashboard: delivery rates, failures, queue depths, the oldest work
waiting, and deliveries and failures per hour.

Every time-bounded count filters ``events.status IN (every status)`` as well as ``received_at``:
it changes no result, and lets both databases walk ``ix_events_status_received_at`` per status
instead of scanning the whole table for a time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from rq import Queue
from sqlalchemy import Connection, case, func, select

from .models import EventStatus, events
from .redis import INBOX_KEY
from .store import iso, utcnow

RATE_WINDOW_S = 300  # deliveries per minute are averaged over this window
CHART_HOURS = 24
FAILED_STATUSES = (EventStatus.FAILED.value, EventStatus.REJECTED.value)
PARKED_STATUSES = (EventStatus.NEEDS_MAPPING.value,)
_ALL_STATUSES = [s.value for s in EventStatus]


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Jobs waiting per RQ queue, and ``inbox``: deliveries announced but not yet relayed."""
    names = sorted(q.name for q in Queue.all(connection=client)) or ["events"]
    depths = {n: Queue(n, connection=client).count for n in names}
    depths["inbox"] = client.llen(INBOX_KEY)
    return depths


def oldest_job(client: redis.Redis, now: datetime | None = None) -> dict[str, Any] | None:
    """The job that has waited longest at the head of any queue (None: every queue is empty)."""
    now = now or utcnow()
    oldest = None
    for q in Queue.all(connection=client):
        ids = q.get_job_ids(0, 1)
        job = q.fetch_job(ids[0]) if ids else None
        at = job.enqueued_at if job is not None else None
        if at is None:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if oldest is None or at < oldest["enqueued_at"]:
            oldest = {"queue": q.name, "job_id": job.id, "description": job.description, "enqueued_at": at}
    if oldest is None:
        return None
    age_s = int((now - oldest["enqueued_at"]).total_seconds())
    return {**oldest, "enqueued_at": iso(oldest["enqueued_at"]), "age_s": age_s}


def _since(since: datetime) -> list[Any]:
    return [events.c.status.in_(_ALL_STATUSES), events.c.received_at >= since]


def delivery_rates(conn: Connection, now: datetime | None = None, window_s: int = RATE_WINDOW_S) -> dict[str, float]:
    """Deliveries per minute per channel, over the last ``window_s``."""
    now = now or utcnow()
    q = (select(events.c.channel, func.count()).where(*_since(now - timedelta(seconds=window_s)))
         .group_by(events.c.channel).order_by(events.c.channel))
    return {ch: round(n * 60 / window_s, 2) for ch, n in conn.execute(q)}


def events_by_status(conn: Connection) -> dict[str, int]:
    q = select(events.c.status, func.count()).group_by(events.c.status)
    return {s: n for s, n in conn.execute(q)}


def oldest_pending_event(conn: Connection, now: datetime | None = None) -> dict[str, Any] | None:
    """The delivery that has waited longest for processing (status ``received``)."""
    now = now or utcnow()
    row = conn.execute(select(events.c.id, events.c.channel, events.c.topic, events.c.received_at)
                       .where(events.c.status == EventStatus.RECEIVED.value)
                       .order_by(events.c.received_at, events.c.id).limit(1)).one_or_none()
    if row is None:
        return None
    return {"id": row.id, "channel": row.channel, "topic": row.topic, "received_at": iso(row.received_at),
            "age_s": int((now - row.received_at).total_seconds())}


def _hour(conn: Connection, column: Any) -> Any:
    """The UTC hour of ``column`` as SQL (text on SQLite, a naive UTC timestamp on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class HourCount:
    hour: datetime  # the start of the hour, UTC
    deliveries: int
    failures: int


def hourly_events(conn: Connection, now: datetime | None = None, hours: int = CHART_HOURS) -> list[HourCount]:
    """Deliveries received and deliveries that ended failed or rejected, per hour of arrival, for
    the last ``hours`` hours (the current one included), oldest first, empty hours as zeros."""
    start = chart_start(now, hours)
    hour = _hour(conn, events.c.received_at).label("hour")
    failed = func.sum(case((events.c.status.in_(FAILED_STATUSES), 1), else_=0))
    counts = {_as_hour(h): (n, int(f or 0)) for h, n, f in conn.execute(
        select(hour, func.count(), failed).where(*_since(start)).group_by(hour))}
    slots = [start + timedelta(hours=i) for i in range(hours)]
    return [HourCount(h, *counts.get(h, (0, 0))) for h in slots]


def count_by_hour(conn: Connection, column: Any, *where: Any, start: datetime) -> dict[datetime, int]:
    """Rows per UTC hour of ``column`` from ``start`` on (e.g. failed tasks by when they ran)."""
    hour = _hour(conn, column).label("hour")
    q = select(hour, func.count()).where(column >= start, *where).group_by(hour)
    return {_as_hour(h): n for h, n in conn.execute(q)}


def chart_start(now: datetime | None = None, hours: int = CHART_HOURS) -> datetime:
    """The first hour the chart shows."""
    return (now or utcnow()).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)


def merge_hourly(base: list[HourCount], failures: dict[datetime, int]) -> list[HourCount]:
    """``base`` with more failures per hour added (e.g. failed tasks, by the hour they failed)."""
    return [HourCount(h.hour, h.deliveries, h.failures + failures.get(h.hour, 0)) for h in base]

