"""Dashboard figures: deliveries per minute by channel, open failures by class, queue depths, what waits
longest; and what the hub waits for (parked events grouped by the missing link, tasks needing a mapping).

Deliveries per minute are grouped by channel and minute in SQL over the window, through the events index on
(status, received_at): events has no index on ``received_at`` alone, and one would cost every delivery on the
ingest hot path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import Connection, func, select

from jobs.queueing import INBOX_KEY
from jobs.tasks import resolved_by_subquery, task_stats
from store.deliveries import iso, utcnow
from store.models import ErrorClass, EventStatus, TaskStatus, events, parked, tasks

from .state import Hub

SAMPLE_IDS = 20  # event / task ids listed per group


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands some aggregates back as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def deliveries_per_minute(conn: Connection, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"minute": "2026-11-22T10:04:00Z", "channel": "woo", "count": 42}, ...]`` oldest first."""
    if conn.dialect.name == "postgresql":
        minute = func.to_char(func.date_trunc("minute", func.timezone("UTC", events.c.received_at)),
                              'YYYY-MM-DD"T"HH24:MI:00"Z"')
    else:
        minute = func.strftime("%Y-%m-%dT%H:%M:00Z", events.c.received_at)
    # status IN (every status) changes no result and lets the store walk ix_events_status_received_at
    q = (select(minute.label("minute"), events.c.channel, func.count().label("n"))
         .where(events.c.status.in_([s.value for s in EventStatus]), events.c.received_at >= since)
         .group_by(minute, events.c.channel).order_by(minute, events.c.channel))
    if until is not None:
        q = q.where(events.c.received_at < until)
    return [{"minute": r.minute, "channel": r.channel, "count": r.n} for r in conn.execute(q)]


def queue_depths(hub: Hub) -> dict[str, Any]:
    """Jobs waiting per queue the workers take, failed jobs in RQ's registries, ids awaiting the relay."""
    client = hub.redis.client
    try:
        names = hub.queues.queue_names()
        return {"waiting": {n: Queue(n, connection=client).count for n in names},
                "failed": {n: FailedJobRegistry(n, connection=client).count for n in names},
                "inbox": client.llen(INBOX_KEY), "error": None}
    except RedisError as exc:
        return {"waiting": {}, "failed": {}, "inbox": None, "error": f"redis unavailable: {type(exc).__name__}"}


def dashboard(hub: Hub, window: timedelta = timedelta(hours=1), now: datetime | None = None) -> dict[str, Any]:

    now = now or utcnow()
    with hub.engine.connect() as conn:
        per_minute = deliveries_per_minute(conn, now - window)
        t = task_stats(conn, now)
        oldest = _aware(conn.execute(select(func.min(events.c.received_at))
                                     .where(events.c.status == EventStatus.RECEIVED.value)).scalar())
        parked_n = conn.execute(select(func.count(func.distinct(parked.c.event_id)))).scalar() or 0
    totals: dict[str, int] = {}
    for row in per_minute:
        totals[row["channel"]] = totals.get(row["channel"], 0) + row["count"]
    return {
        "window_s": int(window.total_seconds()),
        "deliveries_per_minute": per_minute,
        "deliveries_by_channel": totals,
        "failures_by_class": t["open_failures_by_class"],
        "failures_by_kind": t["open_failures_by_kind"],
        "tasks_last_hour": t["last_hour_by_status"],
        "parked_events": parked_n,
        "queues": queue_depths(hub),
        "oldest_pending_delivery_at": iso(oldest),
        "oldest_pending_delivery_age_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "oldest_pending_task_at": t["oldest_pending_task_at"],
        "oldest_pending_task_age_s": t["oldest_pending_task_age_s"],
    }


def needs_mapping(conn: Connection) -> dict[str, Any]:
    """Parked events grouped by the link they wait for (most waiting first), and the failed tasks a target
    refused for want of a record or link (e.g. a SKU the ERP does not know), grouped by their reason."""
    n = func.count(func.distinct(parked.c.event_id))
    groups = conn.execute(
        select(parked.c.channel, parked.c.missing, parked.c.key, n.label("n"),
               func.min(parked.c.created_at).label("since"))
        .group_by(parked.c.channel, parked.c.missing, parked.c.key)
        .order_by(n.desc(), parked.c.channel, parked.c.key)).all()
    links = []
    for g in groups:
        ids = conn.execute(select(parked.c.event_id).where(parked.c.channel == g.channel, parked.c.missing == g.missing,
                                                           parked.c.key == g.key)
                           .order_by(parked.c.event_id).limit(SAMPLE_IDS)).scalars().all()
        links.append({"channel": g.channel, "missing": g.missing, "key": g.key, "events": g.n, "event_ids": ids,
                      "since": iso(_aware(g.since))})

    rows = conn.execute(select(tasks.c.id, tasks.c.kind, tasks.c.channel, tasks.c.error)
                        .where(tasks.c.status == TaskStatus.FAILED.value,
                               tasks.c.error_class == ErrorClass.NEEDS_MAPPING.value,
                               tasks.c.kind != "process_event", resolved_by_subquery().is_(None))
                        .order_by(tasks.c.id.desc()).limit(5000)).all()
    by_reason: dict[tuple[str, str | None, str], list[int]] = {}
    for r in rows:
        by_reason.setdefault((r.kind, r.channel, r.error or ""), []).append(r.id)
    failed = [{"kind": k, "channel": ch, "error": err, "tasks": len(ids), "task_ids": ids[:SAMPLE_IDS]}
              for (k, ch, err), ids in sorted(by_reason.items(), key=lambda kv: -len(kv[1]))]
    return {"links": links, "tasks": failed}
