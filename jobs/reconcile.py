"""Reconcile: read what each channel really shows, compare with what the hub publishes, repair.

Drift comes from changes made behind the hub's back (an app, an import, a stock edit) and from sales
the hub has not heard of (a lost webhook). It counts before it corrects: a channel it can backfill is
backfilled first (``jobs.backfill``: every sale made there is in the ledger), read, and backfilled again
(one call when nothing changed: a sale made during the read is in too). A SKU that moved in the ledger
while it was read, or with a push already owed, is read but not judged. The reading is recorded per
(channel, SKU) (``GET /api/stock/drift``) and becomes what the hub believes the channel shows. What drift
is left is, by the channel's ``stock_authority``: ``hub``, overwritten at once through the same push as any
change (compare-and-set, batches, echo fingerprints); ``channel``, an edit made there (a ``channel_edit``
movement, then published to the other channels). ``repair=False`` reads, backfills and reports only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, union, update

from domain import ledger
from hub.state import Hub, current_hub
from jobs.queueing import RECONCILE_STOCK, HeldLock, backfill_due_key, stock_lock_key
from mappings.canonical import MovementReason
from store.deliveries import utcnow
from store.models import stock_levels, stock_sync

from .backfill import backfill, backfills
from .push import PushReport, known_listings, make_target, push_dirty

logger = logging.getLogger(__name__)
READ_CHUNK = 250  # SKUs per progress step (the target pages further as its API needs)
LOCK_WAIT_S = 120


@dataclass
class ReconcileReport:
    channel: str
    checked: int = 0
    drifted: list[tuple[str, int, int]] = field(default_factory=list)  # (sku, channel shows, hub publishes)
    in_flight: int = 0  # read, not judged: a push owed, or moved in the ledger while read
    unlisted: int = 0
    backfilled: int | None = None  # changes the backfills before and after the read stored (None: cannot)
    edits: int = 0  # drift taken as the channel's edits (``stock_authority: channel``)
    first_counts: int = 0  # SKUs the hub had never counted, counted from this reading
    push: PushReport | None = None

    def __str__(self) -> str:
        s = f"{self.channel}: "
        if self.backfilled is not None:
            s += f"backfilled {self.backfilled} change(s); "
        s += (f"{self.checked} SKU(s) read, {len(self.drifted)} drifted, "
              f"{self.in_flight} skipped (push or change in flight), {self.unlisted} not sold there")
        if self.edits:
            s += f"; {self.edits} taken as the channel's edits"
        if self.first_counts:
            s += f"; {self.first_counts} never counted before: counted from what {self.channel} shows"
        if self.push is not None:
            s += f"; repaired {self.push.written} in {self.push.calls} call(s)"
        return s


def reconcile_stock(channel: str, sku: str | None = None) -> str:
    """RQ job on the channel's stock queue: scheduled (every SKU), or one SKU a report could not settle."""
    return str(reconcile(current_hub(), channel, skus=[sku] if sku else None))


def schedule_reconcile() -> list[str]:
    """Cron entry point: one reconcile job per channel the hub publishes to."""
    hub = current_hub()
    for ch in hub.stock_policy.pushing:
        hub.queues.stock_queue(ch).enqueue(RECONCILE_STOCK, args=(ch,), job_timeout=3600,
                                    description=f"reconcile_stock({ch})")
    return list(hub.stock_policy.pushing)


def reconcile(hub: Hub, channel: str, progress: Callable[[int], None] | None = None,
              repair: bool = True, skus: list[str] | None = None) -> ReconcileReport:
    """Every SKU of ``channel`` the hub knows (or only ``skus``): see the module's docstring."""
    if channel not in hub.stock_policy.pushing:
        raise ValueError(f"{channel}: the hub does not publish stock to it (API keys and locations are needed)")
    cfg = hub.config.channels[channel]
    report = ReconcileReport(channel)
    reads_changes = backfills(cfg)
    if reads_changes:
        report.backfilled = _backfill(hub, channel)
    elif hub.redis.client.exists(backfill_due_key(channel)):
        raise RuntimeError(f"{channel}: its backfill has not run since the hub started or its webhooks were "
                           "repaired; reconcile after it")
    target = make_target(cfg)
    lock = HeldLock(hub.redis.client, stock_lock_key(channel), blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        raise RuntimeError(f"{channel}: a push has held the stock lock for over {LOCK_WAIT_S}s; try again")
    try:
        with hub.engine.connect() as conn:
            levels = select(stock_levels.c.sku)
            synced = select(stock_sync.c.sku).where(stock_sync.c.channel == channel, stock_sync.c.unlisted.is_(False))
            if skus is not None:  # one SKU a report could not settle: not every SKU read to keep one
                levels, synced = levels.where(stock_levels.c.sku.in_(skus)), synced.where(stock_sync.c.sku.in_(skus))
            skus = sorted(conn.execute(union(levels, synced)).scalars())
            listings = known_listings(conn, channel, skus)
            mark = ledger.last_movement_id(conn)
        readings: dict[str, int] = {}
        missing = [s for s in skus if s not in listings]
        if missing:
            found = target.find(missing)
            listings.update(found)
            readings.update({s: li.quantity for s, li in found.items() if li.quantity is not None})
        report.unlisted = len(skus) - len(listings)
        ordered = [listings[s] for s in sorted(listings) if s not in readings]
        if progress:
            progress(len(readings))
        for i in range(0, len(ordered), READ_CHUNK):
            chunk = ordered[i:i + READ_CHUNK]
            readings.update(target.read(chunk))
            if progress:
                progress(len(chunk))
        if reads_changes:  # a sale made there while it was read
            report.backfilled = (report.backfilled or 0) + _backfill(hub, channel)
        touch = _judge(hub, channel, readings, report, repair, mark)
        shadow = cfg.push == "shadow"  # what the push owed would write is the answer: it writes nothing
        if repair and (report.drifted or shadow) and hub.stock_policy.authority.get(channel) != "channel":
            report.push = push_dirty(hub, channel, target)
    finally:
        lock.release()
    for ch in sorted(touch.dirty_channels):  # the channel's edits, published elsewhere (its own push writes nothing)
        hub.queues.schedule_push(ch)
    logger.info("stock reconciled", extra={"channel": channel, "summary": str(report)})
    return report


def _backfill(hub: Hub, channel: str) -> int:
    """Backfill ``channel`` now, its changes processed at once; -> how many it stored."""

    found = backfill(hub, channel, apply=True)
    if found.skipped:
        raise RuntimeError(f"{channel}: {found.skipped}; reconcile after it")
    return found.stored


def _judge(hub: Hub, channel: str, readings: dict[str, int], report: ReconcileReport, repair: bool,
           mark: int) -> ledger.StockTouch:
    """Record each reading and what drifted. A SKU with a ledger movement after ``mark`` (taken before the
    read) is not judged; one with a push owed is judged against what the hub knows the channel shows (its
    last value and its own orders since), not yet what it publishes, and is left to that push unless it
    drifted. With ``repair``, the drift is overwritten (the SKUs owe a push the caller makes at once) or,
    under ``stock_authority: channel``, applied as the channel's edit. Without it nothing changes: the next
    reconcile finds the same drift."""
    now = utcnow()
    report.checked = len(readings)
    policy = hub.stock_policy
    by_channel = policy.authority.get(channel) == "channel"
    touch = ledger.StockTouch()
    with hub.engine.begin() as conn:
        skus = sorted(readings)
        moved = ledger.moved_since(conn, skus, mark)
        values = ledger.targets(conn, policy, channel, skus)
        rows = {r.sku: r for r in conn.execute(select(stock_sync).where(stock_sync.c.channel == channel))}
        owed = {s: r for s, r in rows.items() if r.dirty and s in readings and s not in moved}
        shown = ledger.shown_by_channel(conn, channel, owed)
        missing_rows = [s for s in skus if s not in rows]
        if missing_rows:
            conn.execute(stock_sync.insert(), [{"channel": channel, "sku": s, "updated_at": now} for s in missing_rows])
        edits: dict[str, int] = {}
        whs = policy.warehouses.get(channel) or (policy.default_warehouse,)
        fresh = ledger.uncounted(conn, skus, whs) - moved  # only sales so far: what the channel shows is the count
        for sku in skus:
            drift = readings[sku] - values[sku]
            if sku in fresh:
                if repair:
                    avail = ledger.available(conn, [sku], (policy.order_warehouse(channel),))[sku]
                    ledger.record_movement(conn, touch, sku, policy.order_warehouse(channel),
                                           MovementReason.CHANNEL_EDIT, channel, None, on_hand=readings[sku] - avail)
                    report.first_counts += 1
                drift = 0
            elif sku in moved or (sku in owed and sku not in shown):
                report.in_flight += 1  # the reading may predate the change, or the push owed sets it anyway
                continue
            if sku in owed:
                if readings[sku] == shown[sku]:
                    report.in_flight += 1  # as the hub knows it: the push owed goes on
                else:
                    report.drifted.append((sku, readings[sku], values[sku]))
                    edits[sku] = readings[sku] - shown[sku]
            elif drift:
                report.drifted.append((sku, readings[sku], values[sku]))
                edits[sku] = _edit(conn, policy, channel, sku, readings[sku], values[sku])
            conn.execute(update(stock_sync).where(stock_sync.c.channel == channel, stock_sync.c.sku == sku).values(
                read_quantity=readings[sku], read_at=now, drift=drift, updated_at=now))
        if repair and by_channel:
            for sku, delta in sorted(edits.items()):
                if delta:
                    ledger.record_movement(conn, touch, sku, policy.order_warehouse(channel),
                                           MovementReason.CHANNEL_EDIT, channel, None, on_hand=delta)
                    report.edits += 1
        elif repair:
            ledger.mark_dirty(conn, (channel,), set(edits))
        if repair and touch.skus:  # edits and first counts: alerts, and published to the other channels
            ledger.finish(conn, touch, policy)
        if repair:  # else what the hub believes the channel shows stays as it was: the reconcile changed nothing
            after = ledger.last_movement_id(conn)
            for sku in skus:
                if sku not in moved:
                    ledger.set_believed(conn, channel, sku, readings[sku], after, now)
    return touch


def _edit(conn: Connection, policy: ledger.StockPolicy, channel: str, sku: str, shows: int, target: int) -> int:
    """The channel shows ``shows`` where the hub publishes ``target``: the move of ``on_hand`` after which the
    hub publishes what it shows (a count it shows as 0 brings available down to its buffer at most)."""
    whs = policy.warehouses.get(channel) or (policy.default_warehouse,)
    buffer = policy.buffers.get(channel, 0)
    avail = ledger.available(conn, [sku], whs)[sku]
    waiting = target - max(0, avail - buffer)  # its own waiting orders will still take these off by themselves
    sellable = shows - waiting
    return sellable + buffer - avail if sellable > 0 else min(0, buffer - avail)
