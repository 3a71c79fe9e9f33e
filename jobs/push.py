"""push_stock: drain one channel's dirty SKUs into the fewest, largest stock writes it takes.

Changes mark (channel, SKU) dirty in ``stock_sync`` (in the transaction that moved stock) and
schedule one push per channel a short debounce later (``Hub.schedule_push``). The push reads
the current published values, skips what the channel already shows, writes the rest in
batches (Shopify: compare-and-set against what the hub believes it shows, with an idempotency
key; Woo: plain set), and leaves an echo fingerprint per write so the webhook reporting it back
is ignored. A compare-and-set that loses to the channel's own change writes the rest again at once
and leaves the SKU to the next push (a second loss in a row reads it); THROTTLED and 429 wait inside
the client; other retryable errors back off and retry up to ``PUSH_MAX_ATTEMPTS``; permanent
ones fail the job with the platform's reason (the SKUs stay dirty, so a replay or the next
change pushes them again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from connectors import stock_target
from connectors.outbound import LevelWrite, Listing, Permanent, Retryable, StockTarget
from domain import ledger
from hub.config import ChannelConfig
from hub.state import Hub, current_hub
from jobs.queueing import (
    BACKFILL_GATE_TTL_S,
    HeldLock,
    backfill_due_key,
    echo_key,
    lost_races_key,
    push_pending_key,
    stock_lock_key,
)
from store.deliveries import utcnow
from store.links import Link, upsert_link
from store.models import sku_links, stock_sync

from .backfill import backfill
from .retry import backoff_s
from .tasks import annotate, retrying, task

logger = logging.getLogger(__name__)

PUSH_MAX_ATTEMPTS = 5
BACKFILL_WAIT_S = 2.0  # a push held back by its channel's backfill looks again this often
PUSH_BACKOFF_BASE_S = 2.0
PUSH_BACKOFF_CAP_S = 300.0
STALE_ROUNDS = 3  # compare-and-set retries within one push before leaving the SKU dirty
LOST_RACE_MEMORY_S = 120  # how long lost compare-and-sets are remembered (see _lost_races)
# a SKU that lost a compare-and-set is pushed again this soon (or at the debounce, if shorter): by then the
# channel's own change that beat it has nearly always reached the hub (an order is in the ledger 0.1-0.4 s
# after its webhook under load), where waiting for the next debounced push cost up to a whole debounce more
DEFERRED_PUSH_S = 0.5
LOCK_WAIT_S = 5
QUANTITIES_RECORDED = 500  # per push, on its task record: what it meant to set (the SKU list is whole)


class PushFailed(Exception):
    """The push ended failed (retries exhausted or refused); the message is the reason."""


def make_target(channel: ChannelConfig) -> StockTarget:
    return stock_target(channel)


@dataclass
class PushReport:
    channel: str
    checked: int = 0
    written: int = 0
    calls: int = 0
    unlisted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    deferred: set[str] = field(default_factory=set)  # lost a compare-and-set race: the next push writes them
    uncounted: list[str] = field(default_factory=list)  # never counted: nothing published until they are
    awaiting: set[str] = field(default_factory=set)  # may hold a sale the hub has not heard of: wait for a read
    shadow: dict[str, int] = field(default_factory=dict)  # push: shadow: what it would have written

    def __str__(self) -> str:
        s = f"{self.channel}: {self.checked} dirty, {self.written} written in {self.calls} call(s)"
        if self.unlisted:
            s += f", {len(self.unlisted)} not sold there"
        if self.deferred:
            s += f", {len(self.deferred)} left to the next push (the channel moved first)"
        if self.uncounted:
            s += f", {len(self.uncounted)} never counted (nothing published: they wait for a count)"
        if self.awaiting:
            s += f", {len(self.awaiting)} wait for the channel's changes to be read (a sale the hub may not know of)"
        if self.shadow:
            s += f", shadow mode: {len(self.shadow)} would have been written, nothing was"
        if self.failed:
            s += f", {len(self.failed)} refused"
        return s


@task("push_stock", entity=lambda channel: f"stock:{channel}", channel=lambda channel: channel,
      attempt=lambda attempt: attempt)
def push_stock(channel: str, attempt: int = 1) -> str:
    """RQ job (queue ``stock-<channel>``): one push of everything dirty for ``channel``."""
    hub = current_hub()
    hub.redis.client.delete(push_pending_key(channel))  # a change from now on schedules the next push
    if hub.redis.client.exists(backfill_due_key(channel)):
        # the hub may be missing sales made there (it was down, or the webhooks were): a write now could set
        # the channel back over them; the backfill opens the gate once those orders are applied
        if not hub.queues.backfill_on_its_way(channel):  # lost, or waiting for a retry RQ's scheduler may never make

            try:
                backfill(hub, channel, apply=True)
            except Exception:  # noqa: BLE001 - the gate stays shut; the next push tries again
                logger.warning("backfill before a push failed", extra={"channel": channel}, exc_info=True)
        if hub.redis.client.exists(backfill_due_key(channel)):
            hub.queues.schedule_push(channel, delay_s=BACKFILL_WAIT_S, attempt=attempt, force=True)
            return f"{channel}: waiting for its backfill"
    lock = HeldLock(hub.redis.client, stock_lock_key(channel), blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        hub.queues.schedule_push(channel)
        return f"{channel}: another push is running; rescheduled"
    try:
        report = push_dirty(hub, channel)
    except Retryable as exc:
        if attempt >= PUSH_MAX_ATTEMPTS:
            raise PushFailed(f"{channel}: gave up after {attempt} attempts: {exc}") from exc
        delay = backoff_s(attempt, PUSH_BACKOFF_BASE_S, PUSH_BACKOFF_CAP_S, exc.seconds)
        hub.queues.schedule_push(channel, delay_s=delay, attempt=attempt + 1, force=True)
        retrying(exc)
        logger.warning("stock push will retry", extra={"channel": channel, "attempt": attempt, "error": str(exc)})
        return f"{channel}: retry {attempt + 1} in {delay:.1f}s: {exc}"
    except Permanent as exc:
        raise PushFailed(f"{channel}: {exc}") from exc
    finally:
        lock.release()
    if report.failed:
        raise PushFailed(f"{report}: " + "; ".join(f"{k}: {v}" for k, v in list(report.failed.items())[:10]))
    logger.info("stock pushed", extra={"channel": channel, "summary": str(report)})
    return str(report)


def push_job_failed(job: Any, connection: Any, *exc_info: Any) -> None:
    """RQ failure callback of every push job, whatever failed it (the store down as it started, a bug, a
    worker that died with it, once RQ finds it abandoned): the channel's pending-push guard goes, so the
    next change or sweep schedules a push at once. Left in place it refused every push until it expired."""
    connection.delete(push_pending_key(job.args[0]))


def push_dirty(hub: Hub, channel: str, target: StockTarget | None = None) -> PushReport:
    """Push the dirty SKUs of ``channel`` now (the caller holds the channel's lock)."""
    cfg = hub.config.channels[channel]
    target = target or make_target(cfg)
    report = PushReport(channel)
    with hub.engine.begin() as conn:
        rows = {r.sku: r for r in conn.execute(select(stock_sync).where(
            stock_sync.c.channel == channel, stock_sync.c.dirty.is_(True), stock_sync.c.unlisted.is_(False)))}
        if not rows:
            return report
        lapse = utcnow() - timedelta(seconds=BACKFILL_GATE_TTL_S)  # a read that never comes holds them this long
        report.awaiting = {s for s, r in rows.items() if r.awaits_read_at is not None and r.awaits_read_at > lapse}
        for sku in report.awaiting:  # left dirty: the read's end pushes them (reads_done)
            del rows[sku]
        if not rows:
            _await_read(hub, channel, report)
            return report
        mark = ledger.last_movement_id(conn)  # before the values: a movement after it is not in them
        waiting: set[str] = set()
        values = ledger.targets(conn, hub.stock_policy, channel, sorted(rows), waiting)
        if waiting:  # how many there are is not known: 0 would be a guess; a count marks them dirty again
            conn.execute(_CLEAR_DIRTY, [{"b_ch": channel, "b_sku": s, "b_version": rows.pop(s).dirty_version}
                                        for s in sorted(waiting)])
            report.uncounted = sorted(waiting)
        if not rows:
            return report
        listings = known_listings(conn, channel, sorted(rows))
        # the channel took its own orders off by itself: it shows what we last knew minus those since
        believed: dict[str, int | None] = {s: None for s in rows}
        unsure: dict[str, int] = {}  # own orders of the same second as the value, or not said taken: in it or not
        believed.update(ledger.shown_by_channel(conn, channel, rows, unsure))
        if not target.compare_and_set:  # its own paid orders it has not said it took: it may show that much less
            for sku, n in ledger.may_take(conn, channel, sorted(rows)).items():
                unsure[sku] = unsure.get(sku, 0) - n
    report.checked = len(rows)
    annotate(skus=sorted(rows), quantities={s: values[s] for s in sorted(rows)[:QUANTITIES_RECORDED]})
    learnt: dict[str, datetime] = {}  # sku -> when a read, a stale answer or our write told us its value
    found = target.find([s for s in sorted(rows) if s not in listings]) if len(listings) < len(rows) else {}
    _learn(believed, learnt, {s: li.quantity for s, li in found.items()})
    listings.update(found)
    report.unlisted = sorted(set(rows) - set(listings))
    unread = [listings[s] for s in sorted(listings) if believed.get(s) is None]
    # a plain set lands over whatever the channel shows: where its own order of the value's second may or may not
    # be in it, it is read rather than guessed
    doubtful = {} if target.compare_and_set else {s: believed[s] for s in sorted(unsure) if unsure[s] and s in listings
                                                  and believed.get(s) is not None and values[s] != believed[s]}
    unread += [listings[s] for s in doubtful]
    behind: set[str] = set()
    if unread and target.cheap_reads:  # else the first write goes without compare-and-set
        got = target.read(unread)
        behind = _behind(hub, channel, doubtful, unsure, got)
        report.awaiting |= behind
        _learn(believed, learnt, got)
    written: dict[str, int] = {}
    for _ in range(STALE_ROUNDS):
        writes = [LevelWrite(listings[s], values[s], believed.get(s)) for s in sorted(listings)
                  if s not in written and s not in report.failed and s not in report.deferred
                  and s not in behind and values[s] != believed.get(s)]
        if not writes:
            break
        if cfg.push == "shadow":  # onboarding: what it would write is recorded, nothing is (they stay owed)
            report.shadow = {w.listing.sku: w.quantity for w in writes}
            break
        _leave_fingerprints(hub, channel, writes)
        key = idempotency_key(channel, writes, rows)
        annotate(idempotency_key=key)
        result = target.push_levels(writes, key)
        report.calls += result.calls
        written.update(result.written)
        report.failed.update(result.failed)
        _learn(believed, learnt, result.written)
        if not result.stale:
            break
        reread = _lost_races(hub, channel, result.stale)
        report.deferred.update(result.stale - reread)
        if reread:
            _learn(believed, learnt, target.read([listings[s] for s in sorted(reread)]))
    if report.deferred:  # their own change is on its way to the hub, or the next push reads them
        debounce = hub.config.stock_push_debounce_s
        hub.queues.schedule_push(channel, delay_s=min(DEFERRED_PUSH_S, debounce), force=DEFERRED_PUSH_S < debounce)
    if written:  # a SKU written since it lost a race starts afresh (one HDEL a push)
        hub.redis.client.hdel(lost_races_key(channel), *written)
    report.written = len(written)
    annotate(written=report.written, calls=report.calls, unlisted=len(report.unlisted),
             deferred=sorted(report.deferred), refused=dict(list(report.failed.items())[:QUANTITIES_RECORDED]),
             **({"would_write": dict(list(report.shadow.items())[:QUANTITIES_RECORDED])} if report.shadow else {}),
             **({"uncounted": report.uncounted[:QUANTITIES_RECORDED]} if report.uncounted else {}))
    _record(hub, channel, rows, listings, found, values, believed, learnt, written, report, mark, behind)
    _await_read(hub, channel, report)
    return report


def _await_read(hub: Hub, channel: str, report: PushReport) -> None:
    """SKUs wait for a read of the channel's changes: one is on its way (a backfill queued once; the channel's other
    writes go on meanwhile)."""
    if report.awaiting:
        hub.queues.request_backfill(channel, hold_pushes=False)


def _behind(hub: Hub, channel: str, doubtful: dict[str, int], unsure: dict[str, int],
            got: dict[str, int]) -> set[str]:
    """Of the ``doubtful`` SKUs (what the hub believes the channel shows, its same-second orders ``unsure``), those
    the channel shows fewer of than either reading allows hold sales the hub has not heard of: writing now would
    set the channel back over them. They wait for the channel's changes to be read (``ledger.await_read``)."""
    if channel not in hub.stock_policy.reads:
        return set()
    return {s for s, shown in doubtful.items() if s in got and got[s] < min(shown, shown + unsure[s])}


def _lost_races(hub: Hub, channel: str, stale: set[str]) -> set[str]:
    """Of the SKUs whose compare-and-set just lost, those that lost the previous time too: read them now.

    A race is nearly always with the channel's own sale, whose webhook reaches the hub a moment later
    and moves what the hub believes; so a first loss waits for the next push (no read, the rest of the
    call goes again at once), and only a second loss in a row (a change the hub was never told of)
    spends a read. Remembered in Redis for a while; forgetting costs at most one more lost write.
    """
    names = sorted(stale)
    with hub.redis.client.pipeline(transaction=False) as pipe:
        pipe.hmget(lost_races_key(channel), names)
        pipe.hset(lost_races_key(channel), mapping=dict.fromkeys(names, 1))
        pipe.expire(lost_races_key(channel), LOST_RACE_MEMORY_S)
        before, *_ = pipe.execute()
    return {s for s, seen in zip(names, before, strict=True) if seen}


def _learn(believed: dict[str, int | None], learnt: dict[str, datetime], values: dict[str, int | None]) -> None:
    """The channel answered with these values just now (its own orders before now are in them)."""
    now = utcnow()
    for sku, value in values.items():
        if value is not None:
            believed[sku], learnt[sku] = value, now


def known_listings(conn: Connection, channel: str, skus: list[str]) -> dict[str, Listing]:
    out: dict[str, Listing] = {}
    for i in range(0, len(skus), 500):
        for r in conn.execute(select(sku_links).where(sku_links.c.channel == channel,
                                                      sku_links.c.sku.in_(skus[i:i + 500]))):
            item = r.inventory_item_id or r.variant_id or r.product_id
            if item:
                out[r.sku] = Listing(sku=r.sku, item_id=item, product_id=r.product_id, variant_id=r.variant_id)
    return out


def idempotency_key(channel: str, writes: list[LevelWrite], rows: dict) -> str:
    """Same writes of the same dirty versions -> same key: a retried call is a no-op at the platform."""
    content = [(w.listing.sku, w.quantity, w.expected, rows[w.listing.sku].dirty_version) for w in writes]
    return "hub-" + hashlib.sha256(json.dumps([channel, content]).encode()).hexdigest()[:40]


def _leave_fingerprints(hub: Hub, channel: str, writes: list[LevelWrite]) -> None:
    """Before the write: its webhook may arrive before the call returns."""
    with hub.redis.client.pipeline(transaction=False) as pipe:
        for w in writes:
            # the SKU as the value: the echo is told apart without looking its item's link up
            pipe.set(echo_key(channel, w.listing.item_id, w.quantity), w.listing.sku, ex=hub.config.echo_ttl_s)
        pipe.execute()


def _record(hub: Hub, channel: str, rows: dict, listings: dict[str, Listing], found: dict[str, Listing],
            values: dict[str, int], believed: dict[str, int | None], learnt: dict[str, datetime],
            written: dict[str, int], report: PushReport, mark: int, behind: set[str]) -> None:
    """What the push learnt, per SKU: one executemany per kind of change (a push covers tens to
    thousands of SKUs; a statement each was a third of a push's CPU)."""
    now = utcnow()
    unlisted, learnt_rows, written_rows, untouched, done = [], [], [], [], []
    shadow = [{"b_sku": s, "b_q": q, "b_now": now} for s, q in report.shadow.items()]
    for sku, row in rows.items():
        key = {"b_sku": sku, "b_now": now}
        if sku in report.unlisted:
            unlisted.append(key)
        elif sku in learnt:  # else the stored belief (and its time) stands: we learnt nothing new
            key.update(b_q=believed[sku], b_mark=mark, b_at=learnt[sku])
            if sku in written:
                written_rows.append({**key, "b_pushed": written[sku]})
            else:
                learnt_rows.append(key)
        else:
            untouched.append(key)
        if sku in listings and sku not in report.failed and believed.get(sku) == values[sku]:
            done.append({"b_sku": sku, "b_version": row.dirty_version})
            if row.shadow is not None:
                shadow.append({"b_sku": sku, "b_q": None, "b_now": now})
    with hub.engine.begin() as conn:
        for li in found.values():
            upsert_link(conn, Link(channel=channel, sku=li.sku, product_id=li.product_id, variant_id=li.variant_id,
                                   inventory_item_id=li.item_id if li.item_id not in (li.variant_id, li.product_id)
                                   else None))
        for statement, params in ((_SET_UNLISTED, unlisted), (_SET_LEARNT, learnt_rows), (_SET_WRITTEN, written_rows),
                                  (_TOUCH, untouched), (_CLEAR_DIRTY, done), (_SET_SHADOW, shadow)):
            if params:
                conn.execute(statement, [{"b_ch": channel, **p} for p in params])
        ledger.await_read(conn, channel, sorted(behind))


# what a push records per SKU, built once (executemany, one statement per kind of change)
_SYNC_KEY = update(stock_sync).where(stock_sync.c.channel == bindparam("b_ch"), stock_sync.c.sku == bindparam("b_sku"))
_TOUCH = _SYNC_KEY.values(updated_at=bindparam("b_now"))
_SET_UNLISTED = _SYNC_KEY.values(unlisted=True, dirty=False, dirty_since=None, updated_at=bindparam("b_now"))
_SET_LEARNT = _SYNC_KEY.values(believed=bindparam("b_q"), believed_mark=bindparam("b_mark"),
                               believed_at=bindparam("b_at"), updated_at=bindparam("b_now"))
_SET_WRITTEN = _SET_LEARNT.values(pushed=bindparam("b_pushed"), pushed_at=bindparam("b_now"))
_SET_SHADOW = _SYNC_KEY.values(shadow=bindparam("b_q"), shadow_at=bindparam("b_now"))
# cleared only if no change arrived meanwhile (that one owes its own push)
_CLEAR_DIRTY = _SYNC_KEY.where(stock_sync.c.dirty_version == bindparam("b_version")).values(
    dirty=False, dirty_since=None)
