"""process_event: one stored delivery -> canonical records in the hub's store, exactly once.

Dispatch is by table: the channel's kind picks the mapper module, the topic its handler. A
topic nobody handles is ``ignored`` (with the topic), a payload that does not fit is ``failed``
with a reason a person can act on, a record that lacks a link is parked ``needs_mapping`` and
resumes when the link is added. The delivery row is locked for the whole step, so duplicate
jobs for one event serialise and the second one changes nothing.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from connectors import mapper
from connectors.outbound import Retryable
from domain import ledger
from domain.apply import apply_records
from hub.state import Hub, current_hub
from mappings import MapContext, Unmappable
from mappings.canonical import ChannelStockReport
from store.deliveries import insert_ignore, iso, load_event, set_status, utcnow
from store.links import StoreLinks, release_parked
from store.models import ErrorClass, EventStatus, TaskStatus, parked, tasks

from .fanout import Owed, owe, owe_again, owing
from .queueing import echo_key
from .tasks import classify, event_entity, record_event_outcome

logger = logging.getLogger(__name__)

PROCESSABLE = {EventStatus.RECEIVED.value, EventStatus.NEEDS_MAPPING.value}
HELD = "held until "  # the status note of an event whose stock report waits (see domain.outcome.HoldReport)


def hold_deadline(row: Any, hold_s: float) -> datetime | None:
    """Until when a stock report of this event may wait for its channel's orders: ``hold_s`` from now on
    its first processing, the deadline its first hold set afterwards (its order's landing hands it back
    sooner, and it may wait again for what is left of it); None: judged at once."""
    if row.hold_until is not None:
        return row.hold_until
    return utcnow() + timedelta(seconds=hold_s) if hold_s > 0 else None


def consume_echo(hub: Hub, conn: Connection, records: list[Any]) -> str | None:
    """A stock report that only says back what the hub itself wrote is acknowledged without
    effect: the reason to store, or None when it is news. An echo carries our fingerprint (left
    at the write) and the value the hub already believes the channel shows (set by the write);
    a fingerprint alone is not enough: a write that changed nothing leaves one that no webhook
    consumes, and a later genuine report of the same value (a restock) must not match it."""
    reports = [r for r in records if isinstance(r, ChannelStockReport)]
    if not reports:
        return None
    keys = [echo_key(r.origin.channel, r.origin.external_id, r.available) for r in reports]
    skus = hub.redis.client.mget(keys)  # each fingerprint holds the SKU written (see jobs.push)
    if not all(skus):
        return None
    names = [sku.decode() if isinstance(sku, bytes) else sku for sku in skus]
    for r, sku in zip(reports, names, strict=True):
        row = ledger.sync_row(conn, r.origin.channel, sku)
        if row is None or row.believed != r.available:
            return None
    hub.redis.client.delete(*keys)
    return "the channel reports back the hub's own stock write (" + ", ".join(
        f"{sku} = {r.available}" for r, sku in zip(reports, names, strict=True)) + "): nothing to do"


INSERT_RACE_ATTEMPTS = 3  # a unique key taken by a concurrent worker: the retry sees its row and updates it
EVENT_MAX_CRASHES = 10  # retryable failures of one event before it is failed (the outbox retries it meanwhile)


def process_event(event_id: int) -> str:
    hub = current_hub()
    try:
        for attempt in range(1, INSERT_RACE_ATTEMPTS + 1):
            try:
                return _process(hub, event_id)
            except IntegrityError:
                # Two workers created the same record (a customer, an order seen in two topics) at
                # once; this transaction rolled back whole. Run it again: it now finds the row.
                if attempt == INSERT_RACE_ATTEMPTS:
                    raise Retryable(f"lost an insert race {attempt} times in a row") from None
                logger.info("process_event: lost an insert race, again", extra={"event_id": event_id})
    except Exception as exc:
        _record_crash(hub, event_id, exc)
        raise
    raise AssertionError("unreachable")


def _first_attempt(row: Any) -> int | None:
    """1 when this is surely the event's first processing (a fresh delivery: never moved since it was
    stored), so the hot path's record is a plain INSERT; None (counted in the INSERT) otherwise."""
    fresh = row.status == EventStatus.RECEIVED.value and row.updated_at == row.received_at
    return 1 if fresh else None


def _record_crash(hub: Hub, event_id: int, exc: Exception) -> None:
    """The event's processing raised (its transaction rolled back): one task record, and the crash in the
    event's history, in a transaction of their own.

    A permanent failure (a bug, a body no rule fits) would fail the same way every time: the event becomes
    ``failed``, listed for an admin to replay once the cause is fixed, and the outbox sweeper leaves it
    alone (it re-queued such an event every ``outbox_interval_s``, for ever). A retryable one (the store or
    Redis away, a lock timeout) leaves it ``received`` for the sweeper, up to ``EVENT_MAX_CRASHES`` times.
    A side channel: a failure to write them is logged, and the job's own error goes on."""


    error_class = classify(exc)
    try:
        with hub.engine.begin() as conn:
            row = load_event(conn, event_id, for_update=True)
            record_event_outcome(conn, event_id, row.channel if row else "", TaskStatus.FAILED, error_class,
                                 str(exc) or type(exc).__name__, key=row.dedupe_key if row else None,
                                 traceback="".join(traceback.format_exception(exc)))
            if row is None or row.status != EventStatus.RECEIVED.value:
                return
            what = f"processing raised {type(exc).__name__}: {str(exc)[:300]}"
            if error_class is ErrorClass.RETRYABLE and crashes(conn, event_id) < EVENT_MAX_CRASHES:
                set_status(conn, event_id, EventStatus.RECEIVED, f"{what}; it runs again")
            else:
                set_status(conn, event_id, EventStatus.FAILED, f"{what}; replay it once the cause is fixed")
    except Exception:  # noqa: BLE001
        logger.warning("process_event: failure not recorded", extra={"event_id": event_id}, exc_info=True)


def crashes(conn: Connection, event_id: int) -> int:
    """How many times the event's processing has failed (its task records)."""
    return conn.execute(select(func.count()).select_from(tasks).where(
        tasks.c.kind == "process_event", tasks.c.entity == event_entity(event_id),
        tasks.c.status == TaskStatus.FAILED.value)).scalar_one()


def process_events(event_ids: list[int]) -> dict[str, int]:
    """RQ job: ``process_event`` for each id in turn (the relay's batch); -> count per outcome.

    An event that raises does not stop the others. Its failure is recorded (a task record with the
    traceback, in the event's history); a retryable one gets a job of its own, which fails (or succeeds on
    retry) visibly like any single event job; a permanent one has left the event ``failed``.
    """

    hub = current_hub()
    counts: dict[str, int] = {}
    for event_id in event_ids:
        try:
            status = process_event(event_id)
        except Exception as exc:  # noqa: BLE001 - recorded by process_event; a retryable one goes on in its own job
            logger.warning("process_events: event failed", extra={"event_id": event_id}, exc_info=True)
            if classify(exc) is ErrorClass.PERMANENT:
                status = EventStatus.FAILED.value
            else:
                hub.queues.enqueue_event(event_id)
                status = "requeued"
        counts[status] = counts.get(status, 0) + 1
    return counts


def _process(hub: Hub, event_id: int) -> str:
    with owing(hub) as conn:  # what the records owe is queued once they are committed: the jobs can read them
        if conn.dialect.name == "postgresql":
            # No wait for the WAL flush: a commit lost in a server crash leaves the delivery
            # `received` (the stored delivery itself was committed durably at ingest), and the
            # outbox sweeper runs it again with the same outcome; every rule here is idempotent.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        row = load_event(conn, event_id, for_update=True)
        if row is None:
            logger.warning("process_event: no such event", extra={"event_id": event_id})
            return "missing"
        if row.status not in PROCESSABLE:
            owe_again(conn, event_id)  # a run that committed and died before its jobs were queued
            return row.status
        handler = mapper(row.kind).TOPICS.get(row.topic)
        if handler is None:
            set_status(conn, event_id, EventStatus.IGNORED, f"topic {row.topic!r} is not handled by the hub")
            return EventStatus.IGNORED.value
        channel = hub.config.channels.get(row.channel)
        settings = dict(channel.extra) if channel else {}
        if channel and channel.match_keys:
            settings["order_reference_keys"] = list(channel.match_keys)
        ctx = MapContext(row.channel, links=StoreLinks(conn), settings=settings)
        try:
            payload = json.loads(bytes(row.body), parse_float=Decimal)  # money never passes through float
            mapped = handler(payload, ctx)
        except (Unmappable, ValueError) as exc:
            reason = f"cannot map {row.topic}: {exc}"
            set_status(conn, event_id, EventStatus.FAILED, reason)
            record_event_outcome(conn, event_id, row.channel, TaskStatus.FAILED, ErrorClass.PERMANENT, reason,
                                 key=row.dedupe_key, attempt=_first_attempt(row))
            return EventStatus.FAILED.value
        if (echo := consume_echo(hub, conn, mapped.records)) is not None:
            set_status(conn, event_id, EventStatus.IGNORED, echo)
            return EventStatus.IGNORED.value
        outcome = apply_records(conn, event_id, mapped.records, hub.stock_policy, hub.order_rules,
                                hold_until=hold_deadline(row, hub.stock_policy.report_hold_s))
        resumed = release_parked(conn, outcome.resolves)
        summary = f"{mapped.event_type.value}: " + ("; ".join(outcome.notes) or "no records")
        if outcome.missing:
            now = utcnow()
            for ch, missing, key in outcome.missing:
                insert_ignore(conn, parked, {"event_id": event_id, "channel": ch, "missing": missing, "key": key,
                                             "created_at": now})
            set_status(conn, event_id, EventStatus.NEEDS_MAPPING, summary)
            wanted = ", ".join(f"{ch} {missing} {key}" for ch, missing, key in outcome.missing)
            record_event_outcome(conn, event_id, row.channel, TaskStatus.FAILED, ErrorClass.NEEDS_MAPPING,
                                 f"parked: no link for {wanted}", key=row.dedupe_key, attempt=_first_attempt(row))
        elif outcome.held is not None:  # still `received`: handed back when the hold is over or its order lands
            until = utcnow() + timedelta(seconds=outcome.held)
            set_status(conn, event_id, EventStatus.RECEIVED, f"{HELD}{iso(until)}; {summary}", hold_until=until)
        else:
            set_status(conn, event_id, EventStatus.PROCESSED, summary)
            if row.status == EventStatus.NEEDS_MAPPING.value:  # a parked event resumed: its failure is over
                record_event_outcome(conn, event_id, row.channel, TaskStatus.OK, key=row.dedupe_key)
        owe(conn, Owed.of(hub, outcome, row.channel, resumed), event_id)
    if outcome.held is not None and not outcome.missing:
        hub.queues.hold_event(event_id, outcome.held, outcome.held_keys)
        logger.info("event held", extra={"event_id": event_id, "channel": row.channel, "topic": row.topic})
        return "held"
    status = EventStatus.NEEDS_MAPPING if outcome.missing else EventStatus.PROCESSED
    logger.info("event %s", status.value, extra={"event_id": event_id, "channel": row.channel, "topic": row.topic})
    return status.value
