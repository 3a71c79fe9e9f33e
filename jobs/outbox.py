"""The outbox sweeper: deliveries stored while Redis was unreachable (or whose job was lost)
stay ``received``; this scheduled job queues them again."""

from __future__ import annotations

import logging
from datetime import timedelta

from hub.state import current_hub
from hub.store import stuck_received, utcnow

logger = logging.getLogger(__name__)
SWEEP_BATCH = 1000


def sweep_outbox(grace_s: float | None = None) -> int:
    """Queue every delivery left ``received`` for longer than ``grace_s``; returns how many."""
    hub = current_hub()
    grace = hub.config.outbox_grace_s if grace_s is None else grace_s
    ids = stuck_received(hub.engine, utcnow() - timedelta(seconds=grace), limit=SWEEP_BATCH)
    queued = sum(1 for event_id in ids if hub.enqueue_event(event_id))
    if queued:
        logger.info("outbox sweep re-queued deliveries", extra={"queued": queued, "stuck": len(ids)})
    return queued
