"""Task records: every attempt of every sync task, kept in the store (RQ's registries expire).

A sync job is wrapped by ``@task(kind, channel=..., entity=...)`` (or runs inside ``recording(...)``):
the attempt's row is written ``running`` when it starts and finished ``ok``, ``retrying`` (the job's own
retry policy tries again) or ``failed`` with an error class, the message and the traceback. Jobs keep
their retry logic; they only tell the record what it cannot see (``retrying(exc)`` when a job schedules
its own retry, ``annotate(...)`` for the idempotency key and what the attempt covered). Classes:
``Permanent`` -> ``permanent``, ``Retryable`` raised after the last attempt -> ``retryable``, a missing
link or a record unknown to the target (``MissingLink``, a parked event) -> ``needs_mapping``.

Events are the hot path (tens a second): ``process_event`` writes one row, in its own transaction, only
for an event that fails or is parked (and for a parked one that resumes), never for the usual success.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback as tb
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException
from sqlalchemy import Connection, Engine, and_, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.selectable import ScalarSelect

from connectors.outbound import MissingLink, Permanent, Retryable
from hub.state import current_hub
from store.deliveries import MAX_LIST_LIMIT, iso, utcnow
from store.models import TASK_KINDS, ErrorClass, TaskStatus, tasks

logger = logging.getLogger(__name__)

KINDS = TASK_KINDS
ERROR_MAX_CHARS = 4000
TRACEBACK_MAX_CHARS = 20000
ATTEMPTS_SHOWN = 100  # get_task: the entity's attempts listed at most


@dataclass
class TaskRun:
    """The attempt being recorded; jobs annotate it through ``annotate`` and ``retrying``."""

    id: int
    kind: str
    channel: str | None
    entity: str
    idempotency_key: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    retry_error: str | None = None  # set by ``retrying``: this attempt failed and the job retries by itself


@dataclass(frozen=True)
class ReplayContext:
    replay_of: int | None
    replay_id: int | None


_current: ContextVar[TaskRun | None] = ContextVar("hub_task", default=None)
_replay: ContextVar[ReplayContext | None] = ContextVar("hub_replay", default=None)


def current_task() -> TaskRun | None:
    return _current.get()


def annotate(*, channel: str | None = None, idempotency_key: str | None = None, **detail: Any) -> None:
    """Add to the running attempt's record (no-op outside one): the target channel when the job learns it,
    the idempotency key it uses, and JSON-serialisable facts about what it covered."""
    run = _current.get()
    if run is None:
        return
    if channel is not None:
        run.channel = channel
    if idempotency_key is not None:
        run.idempotency_key = idempotency_key
    run.detail.update(detail)


def retrying(exc: BaseException) -> None:
    """This attempt failed retryably and the job has scheduled its next one: the record says ``retrying``."""
    run = _current.get()
    if run is not None:
        run.retry_error = _clip(str(exc), ERROR_MAX_CHARS)


@contextmanager
def replaying(replay_of: int | None, replay_id: int | None) -> Iterator[None]:
    """Attempts recorded inside are replays (of task ``replay_of``, within replay ``replay_id``)."""
    token = _replay.set(ReplayContext(replay_of, replay_id))
    try:
        yield
    finally:
        _replay.reset(token)


def classify(exc: BaseException) -> ErrorClass:
    """The class of the failure that ended a task: the first typed error along the ``raise ... from`` chain."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        explicit = getattr(e, "error_class", None)
        if explicit:
            return ErrorClass(explicit)
        if isinstance(e, MissingLink):
            return ErrorClass.NEEDS_MAPPING
        if isinstance(e, Permanent):
            return ErrorClass.PERMANENT
        if isinstance(e, Retryable):
            return ErrorClass.RETRYABLE
        if isinstance(e, OperationalError | RedisError | TimeoutError | ConnectionError | JobTimeoutException):
            return ErrorClass.RETRYABLE  # the store, Redis or the job's time ran out: the same input may pass later
        e = e.__cause__ or e.__context__
    return ErrorClass.PERMANENT  # a bug or an untyped refusal: running it again unchanged fails again


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[:limit - 20] + " ... (cut)"


def _job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


def rq_attempt() -> int:
    """1 for a fresh RQ job, n for its (n-1)th RQ retry; 1 outside a worker."""
    job = get_current_job()
    return (job.number_of_retries or 0) + 1 if job is not None else 1


def start(engine: Engine, kind: str, *, channel: str | None, entity: str, args: dict[str, Any] | None = None,
          attempt: int = 1, idempotency_key: str | None = None) -> TaskRun:
    """Write the attempt's row (``running``), committed at once so a crash leaves it visible."""
    ctx = _replay.get()
    row = {"kind": kind, "channel": channel, "entity": entity, "idempotency_key": idempotency_key,
           "attempt": attempt, "status": TaskStatus.RUNNING.value, "job_id": _job_id(), "args": args,
           "replay_of": ctx.replay_of if ctx else None, "replay_id": ctx.replay_id if ctx else None,
           "started_at": utcnow()}
    with engine.begin() as conn:
        task_id = conn.execute(tasks.insert().values(**row)).inserted_primary_key[0]
    return TaskRun(id=task_id, kind=kind, channel=channel, entity=entity, idempotency_key=idempotency_key)


def finish(engine: Engine, run: TaskRun, exc: BaseException | None = None) -> TaskStatus:
    """Close the attempt's row: ``ok``, ``retrying`` (``retrying`` was called) or ``failed`` (``exc``)."""
    values: dict[str, Any] = {"channel": run.channel, "idempotency_key": run.idempotency_key,
                              "detail": run.detail or None, "finished_at": utcnow()}
    if exc is not None:
        status = TaskStatus.FAILED
        values.update(error_class=classify(exc).value, error=_clip(str(exc) or type(exc).__name__, ERROR_MAX_CHARS),
                      traceback=_clip("".join(tb.format_exception(exc)), TRACEBACK_MAX_CHARS))
    elif run.retry_error is not None:
        status = TaskStatus.RETRYING
        values.update(error=run.retry_error)
    else:
        status = TaskStatus.OK
    values["status"] = status.value
    with engine.begin() as conn:
        conn.execute(update(tasks).where(tasks.c.id == run.id).values(**values))
    return status


@contextmanager
def recording(engine: Engine, kind: str, *, channel: str | None, entity: str, args: dict[str, Any] | None = None,
              attempt: int = 1, idempotency_key: str | None = None) -> Iterator[TaskRun]:
    """Record one attempt of a task around the block; an exception is recorded and raised on."""
    run = start(engine, kind, channel=channel, entity=entity, args=args, attempt=attempt,
                idempotency_key=idempotency_key)
    token = _current.set(run)
    try:
        yield run
    except BaseException as exc:
        _current.reset(token)
        token = None
        try:
            finish(engine, run, exc)
        except Exception:  # noqa: BLE001 - the job's own error matters more; the row stays 'running'
            logger.exception("task record not finished", extra={"task_id": run.id})
        raise
    finally:
        if token is not None:
            _current.reset(token)
    finish(engine, run)


def task(kind: str, *, entity: Callable[..., str], channel: Callable[..., str | None] | None = None,
         attempt: Callable[..., int] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an RQ job so every call of it is a recorded attempt.

    ``entity``, ``channel`` and ``attempt`` get the job's bound arguments by name (``lambda order_id: ...``);
    ``attempt`` defaults to RQ's retry count. A job that returns an RQ ``Retry`` is recorded ``retrying``.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:

            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            named = dict(bound.arguments)
            n = attempt(**_wanted(attempt, named)) if attempt else rq_attempt()
            with recording(current_hub().engine, kind, entity=entity(**_wanted(entity, named)),
                           channel=channel(**_wanted(channel, named)) if channel else None,
                           args=named, attempt=n) as run:
                result = fn(*args, **kwargs)
                if isinstance(result, Retry) and run.retry_error is None:
                    run.retry_error = "retry scheduled"
                return result

        return wrapper

    return decorate


def _wanted(fn: Callable[..., Any], named: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    return {k: v for k, v in named.items() if k in params}


# ---- events (the hot path) ------------------------------------------------------------------------

def event_entity(event_id: int) -> str:
    return f"event:{event_id}"


def record_event_outcome(conn: Connection, event_id: int, channel: str, status: TaskStatus,
                         error_class: ErrorClass | None = None, error: str | None = None, *,
                         key: str | None = None, traceback: str | None = None, attempt: int | None = None) -> bool:
    """One INSERT (the attempt number counted inside it), in the caller's transaction: an event processing
    that failed, was parked, or resumed.
    Skipped (False) inside a recorded replay, whose own record tells the outcome."""
    if _current.get() is not None:
        return False
    if attempt is None:  # counted inside the INSERT: one statement
        prior = tasks.alias("prior")
        attempt = select(func.count() + 1).select_from(prior).where(
            prior.c.kind == "process_event", prior.c.entity == event_entity(event_id)).scalar_subquery()
    now = utcnow()
    conn.execute(tasks.insert().values(
        kind="process_event", channel=channel, entity=event_entity(event_id), idempotency_key=key, attempt=attempt,
        status=status.value, error_class=error_class.value if error_class else None,
        error=_clip(error, ERROR_MAX_CHARS), traceback=_clip(traceback, TRACEBACK_MAX_CHARS), job_id=_job_id(),
        args={"event_id": event_id}, started_at=now, finished_at=now))
    return True


# ---- reading ---------------------------------------------------------------------------------------

_later_ok = tasks.alias("later")


def resolved_by_subquery() -> ScalarSelect[Any]:
    """The first later ``ok`` attempt of the same task (kind + entity): the failure is over."""
    return (select(func.min(_later_ok.c.id))
            .where(_later_ok.c.kind == tasks.c.kind, _later_ok.c.entity == tasks.c.entity,
                   _later_ok.c.id > tasks.c.id, _later_ok.c.status == TaskStatus.OK.value)
            .correlate(tasks).scalar_subquery())


def task_dict(row: Any, full: bool = False) -> dict[str, Any]:
    m = row._mapping
    out = {"id": m["id"], "kind": m["kind"], "channel": m["channel"], "entity": m["entity"],
           "idempotency_key": m["idempotency_key"], "attempt": m["attempt"], "status": m["status"],
           "error_class": m["error_class"], "error": m["error"], "job_id": m["job_id"],
           "replay_of": m["replay_of"], "replay_id": m["replay_id"], "started_at": iso(m["started_at"]),
           "finished_at": iso(m["finished_at"]), "resolved_by": m.get("resolved_by")}
    if full:
        out.update(args=m["args"], detail=m["detail"], traceback=m["traceback"])
    return out


def list_tasks(conn: Connection, *, status: str | None = None, kind: str | None = None, channel: str | None = None,
               error_class: str | None = None, since: datetime | None = None, until: datetime | None = None,
               limit: int = 50, before: int | None = None, entity: str | None = None,
               unresolved: bool = False, replay_id: int | None = None) -> list[dict[str, Any]]:
    """Attempts newest first (``before``: the id cursor of the next page); ``since``/``until`` bound when they
    started. Each says ``resolved_by``: the later ok attempt of the same task, if any (``unresolved``: only
    failures no later attempt has fixed)."""
    resolved = resolved_by_subquery().label("resolved_by")
    q = select(tasks, resolved).order_by(tasks.c.id.desc()).limit(max(1, min(limit, MAX_LIST_LIMIT)))
    for col, value in ((tasks.c.status, status), (tasks.c.kind, kind), (tasks.c.channel, channel),
                       (tasks.c.error_class, error_class), (tasks.c.entity, entity), (tasks.c.replay_id, replay_id)):
        if value is not None:
            q = q.where(col == value)
    if since is not None:
        q = q.where(tasks.c.started_at >= since)
    if until is not None:
        q = q.where(tasks.c.started_at < until)
    if before is not None:
        q = q.where(tasks.c.id < before)
    if unresolved:
        q = q.where(resolved_by_subquery().is_(None))
    return [task_dict(r) for r in conn.execute(q)]


def get_task(conn: Connection, task_id: int) -> dict[str, Any] | None:
    """One attempt in full (args, detail, traceback), with every attempt of the same task (kind + entity,
    oldest first) and the replays made of it."""
    resolved = resolved_by_subquery().label("resolved_by")
    row = conn.execute(select(tasks, resolved).where(tasks.c.id == task_id)).one_or_none()
    if row is None:
        return None
    out = task_dict(row, full=True)
    history = conn.execute(select(tasks).where(tasks.c.kind == row.kind, tasks.c.entity == row.entity)
                           .order_by(tasks.c.id.desc()).limit(ATTEMPTS_SHOWN)).all()
    out["attempts"] = [task_dict(r) for r in reversed(history)]
    out["replays"] = [task_dict(r) for r in conn.execute(select(tasks).where(tasks.c.replay_of == task_id)
                                                         .order_by(tasks.c.id))]
    return out


def task_stats(conn: Connection, now: datetime | None = None) -> dict[str, Any]:
    """Figures for the dashboard: open failures (tasks whose latest attempt failed, one per kind + entity) by
    class and by kind, attempts in the last hour by status, and the oldest attempt still running or retrying."""
    now = now or utcnow()
    later = (select(_later_ok.c.id).where(_later_ok.c.kind == tasks.c.kind, _later_ok.c.entity == tasks.c.entity,
                                          _later_ok.c.id > tasks.c.id).correlate(tasks).exists())
    failed = and_(tasks.c.status == TaskStatus.FAILED.value, ~later)
    by_class = {c.value: 0 for c in ErrorClass}
    for cls, n in conn.execute(select(tasks.c.error_class, func.count()).where(failed).group_by(tasks.c.error_class)):
        by_class[cls or ErrorClass.PERMANENT.value] += n
    by_kind = {k: n for k, n in conn.execute(select(tasks.c.kind, func.count()).where(failed).group_by(tasks.c.kind))}
    hour = {s.value: 0 for s in TaskStatus}
    for s, n in conn.execute(select(tasks.c.status, func.count()).where(tasks.c.started_at >= now - timedelta(hours=1))
                             .group_by(tasks.c.status)):
        hour[s] = n
    oldest = conn.execute(select(func.min(tasks.c.started_at)).where(
        tasks.c.status.in_((TaskStatus.RUNNING.value, TaskStatus.RETRYING.value)))).scalar()
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands aggregates back naive (UTC)

        oldest = oldest.replace(tzinfo=UTC)
    return {"open_failures": sum(by_class.values()), "open_failures_by_class": by_class,
            "open_failures_by_kind": by_kind, "last_hour_by_status": hour,
            "oldest_pending_task_at": iso(oldest),
            "oldest_pending_task_age_s": round((now - oldest).total_seconds(), 1) if oldest else None}


# ---- lost attempts ---------------------------------------------------------------------------------------

STALE_RUNNING_S = 3600  # longer than any sync job's timeout (push 900 s, exports 600 s)
SWEEP_TASKS_INTERVAL_S = 5  # a job whose worker died is queued again within its alive key's TTL and this


def sweep_tasks(older_than_s: float = STALE_RUNNING_S) -> int:
    """Scheduled job: jobs a dead worker was running are queued again now (``Queues.requeue_lost``), their
    attempts ended ``failed`` (``retryable``) with that said. Attempts still ``running`` long after any job could
    have, whose RQ job is not running either (gone from Redis), end ``failed`` (``retryable``: the same input
    may pass); -> how many attempts were ended. Without this they would show as pending forever."""
    hub = current_hub()
    requeued = [job.id for job in hub.queues.requeue_lost()]
    ended = 0
    if requeued:
        with hub.engine.begin() as conn:
            ended = conn.execute(update(tasks).where(
                tasks.c.job_id.in_(requeued), tasks.c.status == TaskStatus.RUNNING.value).values(
                status=TaskStatus.FAILED.value, error_class=ErrorClass.RETRYABLE.value, finished_at=utcnow(),
                error="the worker was lost mid-attempt (killed or crashed); the job was queued again")).rowcount
        logger.warning("task sweep: jobs of a lost worker queued again", extra={"jobs": requeued})
    return ended + _end_stale(hub, older_than_s)


def _end_stale(hub, older_than_s: float) -> int:  # noqa: ANN001
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with hub.engine.connect() as conn:
        stale = conn.execute(select(tasks.c.id, tasks.c.job_id).where(
            tasks.c.status == TaskStatus.RUNNING.value, tasks.c.started_at < cutoff).limit(1000)).all()
    lost = []
    for row in stale:
        try:
            alive = row.job_id and Job.fetch(row.job_id, connection=hub.redis.client).get_status() == JobStatus.STARTED
        except NoSuchJobError:
            alive = False
        if not alive:
            lost.append(row.id)
    if lost:
        with hub.engine.begin() as conn:
            conn.execute(update(tasks).where(tasks.c.id.in_(lost), tasks.c.status == TaskStatus.RUNNING.value).values(
                status=TaskStatus.FAILED.value, error_class=ErrorClass.RETRYABLE.value, finished_at=utcnow(),
                error=f"no outcome {int(older_than_s)} s after it started: the worker was lost mid-attempt"))
        logger.warning("task sweep: lost attempts marked failed", extra={"tasks": len(lost)})
    return len(lost)
