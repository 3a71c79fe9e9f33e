"""Deliveries and failures per hour, for the console's 24-hour chart (the other dashboard figures
are ``hub.dashboard``'s, as ``GET /api/stats`` gives them).

The time-bounded count filters ``events.status IN (every status)`` as well as ``received_at``: it
changes no result, and lets both databases walk ``ix_events_status_received_at`` per status instead
of scanning the whole table for a time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select

from store.deliveries import utcnow
from store.models import EventStatus, events

CHART_HOURS = 24
# failed and parked processings are task records (``jobs.tasks``) and counted with the tasks;
# a rejected delivery (genuine but unusable body) never reaches processing: it is counted here
FAILED_STATUSES = (EventStatus.REJECTED.value,)
_ALL_STATUSES = [s.value for s in EventStatus]


def _since(since: datetime) -> list[Any]:
    return [events.c.status.in_(_ALL_STATUSES), events.c.received_at >= since]


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
    """Deliveries received and deliveries rejected, per hour of arrival, for the last ``hours`` hours
    (the current one included), oldest first, empty hours as zeros."""
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

