"""Reconcile: read what each channel really shows, compare with what the hub publishes, repair.

Drift comes from changes made behind the hub's back (an app, an import, a lost webhook). The
reading is recorded per (channel, SKU) (``GET /api/stock/drift``) and becomes what the hub
believes the channel shows; drifted SKUs are marked dirty and pushed at once, through the same
push as any change (compare-and-set, batches, echo fingerprints). A SKU with a push already
owed (a change in flight) is read but not judged: that push will set it anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, union, update

from hub.models import stock_levels, stock_sync
from hub.redis import backfill_due_key
from hub.state import Hub, current_hub
from hub.store import utcnow

from . import ledger
from .push import LOCK_TTL_S, PushReport, known_listings, make_target, push_dirty

logger = logging.getLogger(__name__)
READ_CHUNK = 250  # SKUs per progress step (the target pages further as its API needs)
LOCK_WAIT_S = 120


@dataclass
class ReconcileReport:
    channel: str
    checked: int = 0
    drifted: list[tuple[str, int, int]] = field(default_factory=list)  # (sku, channel shows, hub publishes)
    in_flight: int = 0
    unlisted: int = 0
    push: PushReport | None = None

    def __str__(self) -> str:
        s = (f"{self.channel}: {self.checked} SKU(s) read, {len(self.drifted)} drifted, "
             f"{self.in_flight} skipped (push in flight), {self.unlisted} not sold there")
        if self.push is not None:
            s += f"; repaired {self.push.written} in {self.push.calls} call(s)"
        return s


def reconcile_stock(channel: str) -> str:
    """RQ job (scheduled, on the channel's stock queue)."""
    return str(reconcile(current_hub(), channel))


def schedule_reconcile() -> list[str]:
    """Cron entry point: one reconcile job per channel the hub publishes to."""
    hub = current_hub()
    for ch in hub.stock_policy.pushing:
        hub.stock_queue(ch).enqueue("jobs.reconcile.reconcile_stock", args=(ch,), job_timeout=3600,
                                    description=f"reconcile_stock({ch})")
    return list(hub.stock_policy.pushing)


def reconcile(hub: Hub, channel: str, progress: Callable[[int], None] | None = None,
              repair: bool = True) -> ReconcileReport:
    if channel not in hub.stock_policy.pushing:
        raise ValueError(f"{channel}: the hub does not publish stock to it (API keys and locations are needed)")
    if hub.redis.client.exists(backfill_due_key(channel)):
        # counted before corrected: what the channel shows may hold sales the hub has not read yet
        raise RuntimeError(f"{channel}: its backfill has not run since the hub started or its webhooks were "
                           "repaired; reconcile after it")
    cfg = hub.config.channels[channel]
    target = make_target(cfg)
    report = ReconcileReport(channel)
    lock = hub.redis.client.lock(f"hub:lock:stock:{channel}", timeout=LOCK_TTL_S, blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        raise RuntimeError(f"{channel}: a push has held the stock lock for over {LOCK_WAIT_S}s; try again")
    try:
        with hub.engine.connect() as conn:
            skus = sorted(conn.execute(union(
                select(stock_levels.c.sku),
                select(stock_sync.c.sku).where(stock_sync.c.channel == channel, stock_sync.c.unlisted.is_(False)),
            )).scalars())
            listings = known_listings(conn, channel, skus)
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
        _judge(hub, channel, readings, report, repair)
        if repair and report.drifted:
            report.push = push_dirty(hub, channel, target)
    finally:
        lock.release()
    logger.info("stock reconciled", extra={"channel": channel, "summary": str(report)})
    return report


def _judge(hub: Hub, channel: str, readings: dict[str, int], report: ReconcileReport, repair: bool) -> None:
    """Record each reading and what drifted; with ``repair``, mark the drifted SKUs as owing a push (the
    caller pushes them at once). Without it nothing is owed: the next reconcile finds the same drift."""
    now = utcnow()
    report.checked = len(readings)
    with hub.engine.begin() as conn:
        mark = ledger.last_movement_id(conn)
        skus = sorted(readings)
        values = ledger.targets(conn, hub.stock_policy, channel, skus)
        rows = {r.sku: r for r in conn.execute(select(stock_sync).where(stock_sync.c.channel == channel))}
        missing_rows = [s for s in skus if s not in rows]
        if missing_rows:
            conn.execute(stock_sync.insert(), [{"channel": channel, "sku": s, "updated_at": now} for s in missing_rows])
        drifted = set()
        for sku in skus:
            row = rows.get(sku)
            drift = readings[sku] - values[sku]
            if row is not None and row.dirty:
                report.in_flight += 1
            elif drift:
                report.drifted.append((sku, readings[sku], values[sku]))
                drifted.add(sku)
            conn.execute(update(stock_sync).where(stock_sync.c.channel == channel, stock_sync.c.sku == sku).values(
                read_quantity=readings[sku], read_at=now, drift=drift, believed=readings[sku], believed_mark=mark,
                believed_at=now,
                updated_at=now))
        if repair:
            ledger.mark_dirty(conn, (channel,), drifted)
