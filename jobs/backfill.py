"""Backfill: what changed on a channel since the hub last looked, through the same pipeline as a webhook.

A webhook the platform never sent (WooCommerce never retries one and disables a failing webhook; Shopify
removes a subscription that keeps failing; Stripe and PayPal give up after days) is found here. Per channel
a watermark (``pull_cursors`` ``backfill:<channel>:<resource>``, the newest change the backfill has read,
the platform's UTC clock) and a read of what changed after it, less ``OVERLAP_S``, from the channel's
``ChangeSource`` (``connectors.change_source``): nothing changed costs one call. Each change is stored as
a delivery (header ``X-Hub-Source: backfill``; dedupe key the platform's event id where its webhooks carry
one, else ``backfill:<resource>:<version>:<body hash>``) and processed by the same ``process_event``: an
order the hub already holds in that version or a newer one is skipped, and a webhook of the same version
arriving later is a duplicate or stale to the version guard and moves nothing.

Runs from ``hub backfill``, from ``hub scheduler`` every ``backfill_interval_s`` and once at its start
(which also starts the watermark of a channel that has none: the hub reads from its first run on),
and right after a webhook subscription was repaired. Each run is a task record (``backfill``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from connectors import PLATFORMS, change_source
from connectors.outbound import Change, ChangeSource
from domain import ledger
from hub.config import ChannelConfig, Config
from hub.state import Hub, current_hub
from jobs.queueing import HeldLock, backfill_due_key, backfill_lock_key
from store.deliveries import insert_ignore, utcnow
from store.models import events, orders, pull_cursors

from .events import process_event
from .tasks import annotate, recording

logger = logging.getLogger(__name__)
OVERLAP_S = 2  # re-read this much before the watermark: changes saved in the same seconds as the newest seen
MAX_RUN_S = 600  # no backfill runs longer (channel health looks this far back for the one that stored a delivery)
WOO_TIME = "%Y-%m-%dT%H:%M:%S"  # the watermark's text: UTC, sorts as time
TASK = "backfill"
BACKFILL_KINDS = tuple(k for k, p in PLATFORMS.items() if p.change_source)  # kinds the hub can read changes from


@dataclass
class BackfillReport:
    channel: str
    since: str = ""
    resource: str = "orders"
    calls: int = 0
    read: int = 0
    stored: int = 0  # versions the hub did not hold: stored and queued
    known: int = 0  # versions the hub already held (its webhook came)
    watermark: str = ""
    skipped: str = ""  # why nothing was read (another backfill running)

    def __str__(self) -> str:
        if self.skipped:
            return f"{self.channel}: {self.skipped}"
        return (f"{self.channel}: {self.read} change(s) to {self.resource} since {self.since} in {self.calls} call(s); "
                f"{self.stored} new to the hub, {self.known} already known; watermark {self.watermark}")


def backfills(channel: ChannelConfig) -> bool:
    """Whether the hub can read this channel's changes (a kind with a ChangeSource, its API keys held)."""
    return change_source(channel) is not None


def cursor_name(channel_id: str, resource: str = "orders") -> str:
    return f"backfill:{channel_id}:{resource}"


def watermark(hub: Hub, channel_id: str) -> str | None:
    source = change_source(hub.config.channels[channel_id])
    name = cursor_name(channel_id, source.resource if source else "orders")
    with hub.engine.connect() as conn:
        return conn.execute(select(pull_cursors.c.value).where(pull_cursors.c.name == name)).scalar()


def _start(hub: Hub, channel_id: str) -> str:
    """No watermark yet: from the first delivery the hub stored for the channel (it knows what came since),
    or from now; less the overlap."""
    with hub.engine.connect() as conn:
        first = conn.execute(select(func.min(events.c.received_at)).where(events.c.channel == channel_id)).scalar()
    at = first or utcnow()
    return _text((at if at.tzinfo else at.replace(tzinfo=UTC)) - timedelta(seconds=OVERLAP_S))


def _text(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime(WOO_TIME)


def _parse(text: str) -> datetime:
    return datetime.strptime(text[:19], WOO_TIME).replace(tzinfo=UTC)


def backfill(hub: Hub, channel_id: str, since: datetime | None = None,
             progress: Callable[[int], None] | None = None, apply: bool = False) -> BackfillReport:
    """Read and store what changed on ``channel_id`` after ``since`` (default: the watermark less the
    overlap); the watermark moves to the newest change read. ``apply`` (a worker's job): each stored change
    is processed here and now, then the channel's backfill gate opens (``hub.redis.backfill_due_key``);
    else they are announced to the relay like webhooks. One task record (``backfill``) per run."""
    source = change_source(hub.config.channels[channel_id])
    if source is None:
        raise ValueError(f"{channel_id}: the hub cannot read its changes (a {', '.join(BACKFILL_KINDS)} channel "
                         "with API keys)")
    report = BackfillReport(channel_id, resource=source.resource)
    lock = HeldLock(hub.redis.client, backfill_lock_key(channel_id), blocking=False)
    if not lock.acquire():
        report.skipped = "another backfill of this channel is running"
        return report
    try:
        started = utcnow()  # the SKUs that await a read from before now are covered by this one
        with recording(hub.engine, TASK, channel=channel_id, entity=f"channel:{channel_id}"):
            _read(hub, source, report, since, progress, apply)
            annotate(**{k: v for k, v in asdict(report).items() if k not in ("channel", "skipped")})
        if apply:
            hub.redis.client.delete(backfill_due_key(channel_id))  # what the hub missed is in: pushes may go
            _reads_done(hub, channel_id, started)
    finally:
        lock.release()
    logger.info("backfill", extra={"channel": channel_id, "summary": str(report)})
    return report


def _reads_done(hub: Hub, channel_id: str, started: datetime) -> None:
    """The SKUs that awaited this read are pushed (they are dirty); those that began to await it after it started
    get the next one."""
    with hub.engine.begin() as conn:
        freed, left = ledger.reads_done(conn, channel_id, started)
    if freed and channel_id in hub.stock_policy.pushing:
        hub.queues.schedule_push(channel_id)
    if left:
        hub.queues.request_backfill(channel_id, hold_pushes=False)


def _read(hub: Hub, source: ChangeSource, report: BackfillReport, since: datetime | None,
          progress: Callable[[int], None] | None, apply: bool) -> None:
    channel_id, name = source.channel, cursor_name(source.channel, source.resource)
    with hub.engine.connect() as conn:
        mark = conn.execute(select(pull_cursors.c.value).where(pull_cursors.c.name == name)).scalar()
    if since is not None:
        start = _text(since)
    elif mark is not None:
        start = _text(_parse(mark) - timedelta(seconds=OVERLAP_S))
    else:
        start = _start(hub, channel_id)
    report.since, newest = start, mark or start
    for page in source.changed_since(start):
        report.calls, report.read = source.calls, report.read + len(page)
        newest = max([newest, *(c.version for c in page)])
        _store(hub, channel_id, page, report, apply)
        if progress:
            progress(len(page))
    report.calls, report.watermark = source.calls, newest
    now = utcnow()
    with hub.engine.begin() as conn:
        insert_ignore(conn, pull_cursors, {"name": name, "value": newest, "updated_at": now})
        conn.execute(pull_cursors.update().where(pull_cursors.c.name == name).values(value=newest, updated_at=now))


def _store(hub: Hub, channel_id: str, page: list[Change], report: BackfillReport, apply: bool) -> None:
    """Each change of ``page`` the hub does not hold: stored as a delivery, and processed (``apply``) or
    announced."""

    ids = [c.order_id for c in page if c.order_id is not None]
    with hub.engine.connect() as conn:
        held = dict(conn.execute(select(orders.c.external_id, orders.c.source_updated_at).where(
            orders.c.channel == channel_id, orders.c.external_id.in_(ids))).all()) if ids else {}
    kind = hub.config.channels[channel_id].kind
    for c in page:
        known = held.get(c.order_id) if c.order_id is not None else None
        if known is not None and c.version and _text(known) > c.version:
            report.known += 1  # the hub holds a newer version (a version of the same second may differ: stored)
            continue
        topic = c.topic_if_new if c.topic_if_new and c.order_id is not None and c.order_id not in held else c.topic
        body = json.dumps(c.body, separators=(",", ":"), sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()[:16]  # two saves in one second differ in content, not version
        stored = hub.deliveries.add(
            channel=channel_id, kind=kind, topic=topic,
            dedupe_key=c.event_id or f"backfill:{c.resource}:{c.version}:{digest}",
            occurred_at=_parse(c.version) if c.version else None, headers={"X-Hub-Source": "backfill"}, body=body)
        if not stored.created:
            report.known += 1
            continue
        report.stored += 1
        if apply:
            process_event(stored.event_id)
            continue
        try:
            hub.queues.announce_event(stored.event_id)
        except Exception:  # noqa: BLE001 - Redis away: the outbox sweeper queues it
            logger.warning("backfill: event not announced", extra={"event_id": stored.event_id})


def start_watermarks(engine: Engine, config: Config) -> list[str]:
    """At ``hub scheduler``'s start: every channel it can backfill and has no watermark for gets one at
    now (less the overlap): the hub watches from its first run on, so an outage before its first backfill
    is read too. -> the channels it can backfill (the caller closes their backfill gates)."""
    now, started = utcnow(), []
    value = _text(now - timedelta(seconds=OVERLAP_S))
    with engine.begin() as conn:
        for channel_id, cfg in config.channels.items():
            source = change_source(cfg)
            if source is not None:
                insert_ignore(conn, pull_cursors, {"name": cursor_name(channel_id, source.resource), "value": value,
                                                   "updated_at": now})
                started.append(channel_id)
    return started


def backfill_channel(channel_id: str) -> str:
    """RQ job: one channel (after its webhooks were repaired)."""
    return str(backfill(current_hub(), channel_id, apply=True))


def backfill_all() -> list[str]:
    """RQ job (``hub scheduler``): every channel the hub can read; one failing does not stop the others."""
    hub = current_hub()
    out = []
    for channel_id, cfg in hub.config.channels.items():
        if not backfills(cfg):
            continue
        try:
            out.append(str(backfill(hub, channel_id, apply=True)))
        except Exception as exc:  # noqa: BLE001 - tried again soon: until it runs, no stock is written there
            logger.warning("backfill failed; trying again", extra={"channel": channel_id}, exc_info=True)
            hub.queues.request_backfill(channel_id, hold_pushes=False)  # a gate set before stays until it has run
            out.append(f"{channel_id}: failed, trying again: {exc}")
    return out
