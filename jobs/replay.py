"""Replay: run failed tasks and events again, one or in bulk by filter, with a dry-run preview.

``plan`` turns a filter into actions, deduplicated by what they act on: any number of failed stock pushes of
one channel are ONE push of the union of their SKUs (plus whatever is dirty there), any number of failed
exports of one order are one export, and so on. ``preview`` is that plan with the remote effect of each
action in words. ``create_replay`` stores the plan in ``replays`` and queues ``run_replay`` (queue
``replay``), which works through it at ``replay_rate_per_s`` actions a second, records every action as a
task attempt (``replay_id``, ``replay_of``), counts progress, and stops between two actions once the replay
is cancelled. What each action does, and why it never publishes older state nor makes a second remote
record, is in ``jobs.replay_ops``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Queue
from sqlalchemy import Connection, select, update

from hub.state import Hub, current_hub
from jobs.queueing import REPLAY_QUEUE, RUN_REPLAY, replay_job_id
from store.deliveries import iso, utcnow
from store.models import ErrorClass, ReplayStatus, TaskStatus, events, replays, tasks

from .replay_ops import DEFAULT_MODE, MODES, OPS, Action, describe, run
from .tasks import list_tasks, replaying, resolved_by_subquery

logger = logging.getLogger(__name__)

MAX_BULK_TASKS = 20000  # failed attempts one bulk replay may cover; past this the filter must be narrower
CANCEL_POLL_S = 0.2  # while waiting for the rate, how often the cancel flag is read
TASK_STATUSES = tuple(s.value for s in TaskStatus)
ERROR_CLASSES = tuple(c.value for c in ErrorClass)
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ReplayError(ValueError):
    """A replay that cannot be planned (bad filter, unknown task or event); the message says why."""


class NotFound(ReplayError):
    """The task, event or replay named does not exist."""


def parse_since(value: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """``2h`` / ``30m`` / ``7d`` / ``45s`` ago, or an ISO 8601 time (a time without an offset is UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    m = _RELATIVE.match(value)
    if m:
        try:
            return (now or utcnow()) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError:
            raise ReplayError(f"not a time: {value!r} is before year 1") from None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"not a time: {value!r} (ISO 8601, or 30m / 2h / 7d ago)") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ReplayFilter:
    """What to replay: one task, one event, or the failed tasks matching the rest (all optional)."""

    task_id: int | None = None
    event_id: int | None = None
    kind: str | None = None
    channel: str | None = None
    error_class: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_resolved: bool = False  # also failures a later attempt already fixed

    def check(self) -> None:
        if self.task_id is not None and self.event_id is not None:
            raise ReplayError("give a task or an event, not both")
        if self.kind is not None and self.kind not in OPS:
            raise ReplayError(f"kind must be one of {', '.join(OPS)}")
        if self.error_class is not None and self.error_class not in ERROR_CLASSES:
            raise ReplayError(f"error_class must be one of {', '.join(ERROR_CLASSES)}")
        if self.since and self.until and self.since >= self.until:
            raise ReplayError("since must be before until")

    @property
    def single(self) -> bool:
        return self.task_id is not None or self.event_id is not None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v not in (None, False)}
        for k in ("since", "until"):
            if k in out:
                out[k] = iso(out[k])
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplayFilter:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ReplayError(f"unknown filter key(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        for k in ("since", "until"):
            values[k] = parse_since(values.get(k))
        for k in ("task_id", "event_id"):
            if values.get(k) is not None:
                try:
                    values[k] = int(values[k])
                except (TypeError, ValueError):
                    raise ReplayError(f"{k} must be an integer") from None
        flt = cls(**values)
        flt.check()
        return flt


def _mode_for(op: str, mode: str | None) -> str:
    if mode is not None and mode not in MODES:
        raise ReplayError(f"mode must be one of {', '.join(MODES)}")
    return mode or DEFAULT_MODE[op]


def _action_for(row: Any, mode: str | None) -> Action:
    if row.kind == "push_stock":
        key = f"stock:{row.channel}"
    else:
        key = row.entity
    return Action(op=row.kind, key=key, mode=_mode_for(row.kind, mode))


def plan(conn: Connection, hub: Hub, flt: ReplayFilter, mode: str | None = None) -> list[Action]:
    """The actions the filter calls for, one per entity acted on, each with its preview text."""
    flt.check()
    _mode_for("push_stock", mode)  # a bad mode fails before anything is read
    if flt.event_id is not None:
        if conn.execute(select(events.c.id).where(events.c.id == flt.event_id)).first() is None:
            raise NotFound(f"no event {flt.event_id}")
        last = conn.execute(select(tasks.c.id).where(tasks.c.kind == "process_event",
                                                     tasks.c.entity == f"event:{flt.event_id}")
                            .order_by(tasks.c.id.desc()).limit(1)).scalar()
        actions = [Action("process_event", f"event:{flt.event_id}", _mode_for("process_event", mode),
                          [last] if last else [])]
    else:
        if flt.task_id is not None:
            rows = conn.execute(select(tasks).where(tasks.c.id == flt.task_id)).all()
            if not rows:
                raise NotFound(f"no task {flt.task_id}")
        else:
            rows = conn.execute(_bulk_query(flt).limit(MAX_BULK_TASKS + 1)).all()
            if len(rows) > MAX_BULK_TASKS:
                raise ReplayError(f"the filter matches over {MAX_BULK_TASKS} failed tasks; narrow it")
        by_key: dict[tuple[str, str], Action] = {}
        for r in rows:
            a = _action_for(r, mode)
            a = by_key.setdefault((a.op, a.key), a)
            a.tasks.append(r.id)
            if r.kind == "push_stock":
                a.skus.extend((r.detail or {}).get("skus") or [])
        actions = list(by_key.values())
        for a in actions:
            a.skus = sorted(set(a.skus))
    for a in actions:
        a.text = describe(conn, hub, a)
    return actions


def _bulk_query(flt: ReplayFilter):  # noqa: ANN202 - a Select

    q = select(tasks).where(tasks.c.status == TaskStatus.FAILED.value).order_by(tasks.c.id)
    for col, value in ((tasks.c.kind, flt.kind), (tasks.c.channel, flt.channel),
                       (tasks.c.error_class, flt.error_class)):
        if value is not None:
            q = q.where(col == value)
    if flt.since is not None:
        q = q.where(tasks.c.started_at >= flt.since)
    if flt.until is not None:
        q = q.where(tasks.c.started_at < flt.until)
    if not flt.include_resolved:
        q = q.where(resolved_by_subquery().is_(None))
    return q


def action_json(a: Action) -> dict[str, Any]:
    """An action as the API and the CLI show it (the SKU list as a count)."""
    return {"op": a.op, "key": a.key, "mode": a.mode, "text": a.text, "tasks": len(a.tasks),
            "task_ids": a.tasks[:50], "skus": len(a.skus) if a.op == "push_stock" else None}


def preview(hub: Hub, flt: ReplayFilter, mode: str | None = None) -> list[dict[str, Any]]:
    """The planned actions with the remote effect of each, e.g. "update stock of 312 SKUs on woo"."""
    with hub.engine.connect() as conn:
        return [action_json(a) for a in plan(conn, hub, flt, mode)]


# ---- replays: stored, queued, run, cancelled ------------------------------------------------------------

def replay_dict(row: Any, conn: Connection | None = None) -> dict[str, Any]:
    m = row._mapping
    out = {"id": m["id"], "filter": m["filter"], "mode": m["mode"], "dry_run": bool(m["dry_run"]),
           "status": m["status"], "total": m["total"], "done": m["done"], "failed": m["failed"],
           "progress": round(m["done"] / m["total"], 4) if m["total"] else 1.0, "error": m["error"],
           "job_id": m["job_id"], "created_by": m["created_by"], "created_at": iso(m["created_at"]),
           "started_at": iso(m["started_at"]), "finished_at": iso(m["finished_at"]),
           "actions": [action_json(Action.from_json(a)) for a in m["plan"]]}
    if conn is not None:
        out["tasks"] = list_tasks(conn, replay_id=m["id"], limit=500)
    return out


def create_replay(hub: Hub, flt: ReplayFilter, mode: str | None = None, dry_run: bool = False,
                  created_by: str | None = None, enqueue: bool = True) -> dict[str, Any]:
    """Plan and store a replay; unless ``dry_run``, queue it (``enqueue``: False when the caller runs it
    itself, as the CLI does). Raises ``ReplayError`` (``NotFound``) for a filter that cannot be planned."""
    now = utcnow()
    with hub.engine.begin() as conn:
        actions = plan(conn, hub, flt, mode)
        finished = dry_run or not actions  # a preview, or nothing to do: never queued
        status = ReplayStatus.DONE if finished else ReplayStatus.QUEUED
        replay_id = conn.execute(replays.insert().values(
            filter=flt.to_json(), mode=mode or "auto", dry_run=dry_run, status=status.value,
            plan=[a.to_json() for a in actions], total=len(actions), done=0, failed=0,
            created_by=(created_by or "")[:64] or None, created_at=now,
            finished_at=now if finished else None)).inserted_primary_key[0]
    if not finished and enqueue:
        job_id = replay_job_id(replay_id)
        timeout = int(600 + 2 * len(actions) / hub.config.replay_rate_per_s)
        Queue(REPLAY_QUEUE, connection=hub.redis.client).enqueue_call(
            RUN_REPLAY, args=(replay_id,), job_id=job_id, timeout=timeout,
            description=f"run_replay({replay_id}, {len(actions)} action(s))", result_ttl=3600,
            failure_ttl=7 * 24 * 3600)
        with hub.engine.begin() as conn:
            conn.execute(update(replays).where(replays.c.id == replay_id).values(job_id=job_id))
    return get_replay(hub, replay_id)  # type: ignore[return-value]


def get_replay(hub: Hub, replay_id: int) -> dict[str, Any] | None:
    with hub.engine.connect() as conn:
        row = conn.execute(select(replays).where(replays.c.id == replay_id)).one_or_none()
        return replay_dict(row, conn) if row is not None else None


def list_replays(hub: Hub, limit: int = 50) -> list[dict[str, Any]]:
    """The newest replays first (their plans, without the tasks they recorded)."""
    with hub.engine.connect() as conn:
        return [replay_dict(r) for r in conn.execute(select(replays).order_by(replays.c.id.desc()).limit(limit))]


def cancel_replay(hub: Hub, replay_id: int) -> dict[str, Any] | None:
    """Stop a queued or running replay between two actions; a finished one is left as it is."""
    with hub.engine.begin() as conn:
        conn.execute(update(replays).where(replays.c.id == replay_id, replays.c.status.in_(
            (ReplayStatus.QUEUED.value, ReplayStatus.RUNNING.value))).values(
            status=ReplayStatus.CANCELLED.value, finished_at=utcnow()))
    return get_replay(hub, replay_id)


def run_replay(replay_id: int) -> str:
    """RQ job (queue ``replay``)."""
    result = execute(current_hub(), replay_id)
    return f"replay {replay_id}: {result['status']}, {result['done']}/{result['total']} done, {result['failed']} failed"


def _status(hub: Hub, replay_id: int) -> str:
    with hub.engine.connect() as conn:
        return conn.execute(select(replays.c.status).where(replays.c.id == replay_id)).scalar()


def execute(hub: Hub, replay_id: int, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Work through a queued replay's plan: ``replay_rate_per_s`` actions a second at most, the cancel flag
    read between actions (and while waiting). ``progress`` gets each action's outcome."""
    with hub.engine.begin() as conn:
        claimed = conn.execute(update(replays).where(replays.c.id == replay_id,
                                                     replays.c.status == ReplayStatus.QUEUED.value)
                               .values(status=ReplayStatus.RUNNING.value, started_at=utcnow())).rowcount
        row = conn.execute(select(replays).where(replays.c.id == replay_id)).one_or_none()
    if row is None:
        raise NotFound(f"no replay {replay_id}")
    if not claimed:  # cancelled before it started, or run already
        return get_replay(hub, replay_id)  # type: ignore[return-value]
    interval = 1.0 / hub.config.replay_rate_per_s
    next_at = time.monotonic()
    try:
        for data in row.plan:
            while (wait := next_at - time.monotonic()) > 0 and _status(hub, replay_id) == ReplayStatus.RUNNING:
                time.sleep(min(wait, CANCEL_POLL_S))
            if _status(hub, replay_id) != ReplayStatus.RUNNING:
                logger.info("replay cancelled", extra={"replay_id": replay_id})
                return get_replay(hub, replay_id)  # type: ignore[return-value]
            next_at = time.monotonic() + interval
            action = Action.from_json(data)
            ok, outcome = _run_one(hub, replay_id, action)
            with hub.engine.begin() as conn:
                conn.execute(update(replays).where(replays.c.id == replay_id).values(
                    done=replays.c.done + 1, failed=replays.c.failed + (0 if ok else 1)))
            if progress is not None:
                progress({"action": action_json(action), "ok": ok, "outcome": outcome})
    except Exception as exc:
        with hub.engine.begin() as conn:
            conn.execute(update(replays).where(replays.c.id == replay_id).values(
                status=ReplayStatus.FAILED.value, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=utcnow()))
        raise
    with hub.engine.begin() as conn:
        conn.execute(update(replays).where(replays.c.id == replay_id, replays.c.status == ReplayStatus.RUNNING.value)
                     .values(status=ReplayStatus.DONE.value, finished_at=utcnow()))
    return get_replay(hub, replay_id)  # type: ignore[return-value]


def _run_one(hub: Hub, replay_id: int, action: Action) -> tuple[bool, str]:
    """One action; its failure is the item's (recorded on its task), not the replay's."""
    with replaying(max(action.tasks) if action.tasks else None, replay_id):
        try:
            return True, run(hub, action)
        except Exception as exc:  # noqa: BLE001 - recorded on the action's task row (error, class, traceback)
            logger.warning("replay action failed", extra={"replay_id": replay_id, "action": action.key,
                                                           "error": str(exc)[:300]})
            return False, str(exc)
