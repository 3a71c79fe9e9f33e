"""The outbox sweepers: deliveries stored while Redis was unreachable (or whose job was lost)
stay ``received``, jobs owed by a committed transaction whose worker died before queueing them stay in
``owed``, and stock marked dirty may have lost its scheduled push the same way; these scheduled jobs queue
them again."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from hub.state import current_hub
from store.deliveries import stuck_received, utcnow
from store.models import stock_sync

from .fanout import settle_overdue

logger = logging.getLogger(__name__)
SWEEP_BATCH = 1000


def sweep_outbox(grace_s: float | None = None) -> int:
    """Queue every delivery left ``received`` for longer than ``grace_s``, and the jobs committed transactions
    owe for as long (``fanout.settle_overdue``); returns how many deliveries and owed rows."""
    hub = current_hub()
    grace = hub.config.outbox_grace_s if grace_s is None else grace_s
    ids = stuck_received(hub.engine, utcnow() - timedelta(seconds=grace), limit=SWEEP_BATCH)
    queued = sum(1 for event_id in ids if hub.queues.enqueue_event(event_id))
    if queued:
        logger.info("outbox sweep re-queued deliveries", extra={"queued": queued, "stuck": len(ids)})
    return queued + settle_overdue(hub, grace)


def sweep_stock(grace_s: float | None = None) -> list[str]:
    """Schedule a push for every channel with SKUs dirty for longer than ``grace_s``.

    Debounced pushes and held events that fell due are queued first, should no relay be running to do it.
    """
    hub = current_hub()
    hub.queues.release_due()
    grace = hub.config.outbox_grace_s if grace_s is None else grace_s
    with hub.engine.connect() as conn:
        channels = sorted(conn.execute(select(stock_sync.c.channel).distinct().where(
            stock_sync.c.dirty.is_(True), stock_sync.c.dirty_since < utcnow() - timedelta(seconds=grace))).scalars())
    scheduled = [ch for ch in channels if ch in hub.stock_policy.pushing and hub.queues.schedule_push(ch)]
    if scheduled:
        logger.info("stock sweep scheduled pushes", extra={"channels": scheduled})
    return scheduled
