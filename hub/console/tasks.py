"""Console pages for task records: the failed tasks (filterable), one task with its traceback and
every attempt of it, and the tasks an event caused. Reads through ``jobs.tasks`` (the same
functions as ``GET /api/tasks``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import abort, render_template, request
from sqlalchemy import Connection, func, select

from jobs.replay import ReplayError, ReplayFilter, preview
from jobs.tasks import KINDS, get_task, list_tasks
from store.deliveries import utcnow
from store.models import ErrorClass, EventStatus, TaskStatus, event_history, event_records, tasks

from ..activity import chart_start, count_by_hour
from ..state import Hub, current_hub
from .base import bp

PAGE = 50
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}  # the filter's choices
ENTITY_PAGES = {"order": ("console.order", "order_id"), "event": ("console.event", "event_id")}


def task_filter(args: Any) -> dict[str, Any]:
    """The failed-tasks filter from a query string or a form, checked: unknown values are a 400."""
    out: dict[str, Any] = {"status": args.get("status") or TaskStatus.FAILED.value,
                           "kind": args.get("kind") or None, "channel": args.get("channel") or None,
                           "error_class": args.get("error_class") or None, "since": args.get("since") or None,
                           "open": args.get("open", "1") == "1"}
    if out["status"] not in {s.value for s in TaskStatus}:
        abort(400, description="unknown status")
    if out["kind"] not in (None, *KINDS):
        abort(400, description="unknown kind")
    if out["error_class"] not in (None, *(c.value for c in ErrorClass)):
        abort(400, description="unknown error class")
    if out["since"] not in (None, *SINCE):
        abort(400, description="since must be one of " + ", ".join(SINCE))
    return out


def filter_args(f: dict[str, Any]) -> dict[str, str]:
    """``task_filter``'s result back as query-string arguments (links, hidden form fields)."""
    out = {k: f[k] for k in ("status", "kind", "channel", "error_class", "since") if f[k]}
    out["open"] = "1" if f["open"] else "0"
    return out


def query_args(f: dict[str, Any]) -> dict[str, Any]:
    """``task_filter``'s result as ``list_tasks`` keywords."""
    return {"status": f["status"], "kind": f["kind"], "channel": f["channel"], "error_class": f["error_class"],
            "since": utcnow() - SINCE[f["since"]] if f["since"] else None,
            "unresolved": f["open"] and f["status"] == TaskStatus.FAILED.value}


def entity_link(entity: str) -> tuple[str, dict[str, int]] | None:
    """``order:42`` -> the order's page; None for entities without one (``stock:woo``)."""
    kind, _, ident = entity.partition(":")
    if kind in ENTITY_PAGES and ident.isdigit():
        endpoint, arg = ENTITY_PAGES[kind]
        return endpoint, {arg: int(ident)}
    return None


@bp.get("/tasks")
def tasks_page():  # noqa: ANN201
    hub = current_hub()
    f = task_filter(request.args)
    before = request.args.get("before", "")
    with hub.engine.connect() as conn:
        rows = list_tasks(conn, **query_args(f), limit=PAGE, before=int(before) if before.isdigit() else None)
        channels = sorted(c for c in conn.execute(select(tasks.c.channel).distinct()).scalars() if c)
    return render_template("console/tasks.html", rows=rows, f=f, fargs=filter_args(f), kinds=KINDS, channels=channels,
                           classes=[c.value for c in ErrorClass], statuses=[s.value for s in TaskStatus],
                           since_choices=list(SINCE), entity_link=entity_link,
                           next_before=rows[-1]["id"] if len(rows) == PAGE else None)


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):  # noqa: ANN201
    with current_hub().engine.connect() as conn:
        t = get_task(conn, task_id)
    if t is None:
        abort(404, description="no such task")
    return render_template("console/task.html", t=t, entity_link=entity_link,
                           args=json.dumps(t["args"], indent=2, default=str) if t["args"] is not None else None,
                           detail=json.dumps(t["detail"], indent=2, default=str) if t["detail"] else None,
                           plan=single_preview(ReplayFilter(task_id=task_id)))


def event_tasks(conn: Connection, event_id: int) -> list[dict[str, Any]]:
    """The event's own processing records and the tasks of the records it changed (its orders' exports, its
    shipments' tracking pushes) up to the next event that changed the same record: those later ones it did not
    cause. Newest first. Stock pushes are per channel, not per event: they are on the failed-tasks page."""
    rows = list_tasks(conn, entity=f"event:{event_id}", limit=PAGE)
    changed = conn.execute(select(event_records.c.kind, event_records.c.record_id).distinct().where(
        event_records.c.event_id == event_id, event_records.c.kind.in_(("order", "shipment")),
        event_records.c.effect != "stale")).all()
    if changed:
        since = _processed_at(conn, [event_id]).get(event_id)
        for kind, record_id in changed if since else ():
            others = conn.execute(select(event_records.c.event_id).distinct().where(
                event_records.c.kind == kind, event_records.c.record_id == record_id,
                event_records.c.event_id != event_id, event_records.c.effect != "stale")).scalars().all()
            until = min((t for t in _processed_at(conn, others).values() if t > since), default=None)
            rows += list_tasks(conn, entity=f"{kind}:{record_id}", since=since, until=until, limit=PAGE)
    return sorted(rows, key=lambda t: t["id"], reverse=True)[:PAGE]


def _processed_at(conn: Connection, event_ids: list[int]) -> dict[int, Any]:
    """When each event was first processed (its changes committed), by its history."""
    if not event_ids:
        return {}
    return dict(conn.execute(select(event_history.c.event_id, func.min(event_history.c.at)).where(
        event_history.c.event_id.in_(event_ids), event_history.c.status == EventStatus.PROCESSED.value)
        .group_by(event_history.c.event_id)).all())


def failures_per_hour(hub: Hub) -> dict[Any, int]:
    """Failed task attempts per hour (by when they ran) over the dashboard chart's hours."""
    with hub.engine.connect() as conn:
        return count_by_hour(conn, tasks.c.started_at, tasks.c.status == TaskStatus.FAILED.value,
                             start=chart_start())


def single_preview(flt: ReplayFilter) -> list[dict[str, Any]] | str:
    """What replaying one task or event would do, for its page (or why it cannot be planned)."""
    try:
        return preview(current_hub(), flt)
    except ReplayError as exc:
        return str(exc)
