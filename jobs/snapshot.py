"""A stock snapshot applied: every count set in one transaction (``domain.snapshot``), then the pushes it owes."""

from __future__ import annotations

from domain import ledger
from domain.snapshot import Count, SnapshotResult, set_counts
from hub.state import Hub


def apply_snapshot(hub: Hub, counts: list[Count]) -> SnapshotResult:
    """Set every count in one transaction, then schedule the pushes it owes."""
    touch = ledger.StockTouch()
    with hub.engine.begin() as conn:
        changed = set_counts(conn, touch, hub.stock_policy, counts)
    for channel in sorted(touch.dirty_channels):
        hub.queues.schedule_push(channel)
    return SnapshotResult(len(counts), changed, touch.oversold)
