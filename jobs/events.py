"""process_event: turn one stored delivery into its effects.

In this first version it only marks the delivery ``processed``; mapping to the canonical
model comes with the canonical-model issue. It is idempotent: a delivery that has already left
``received`` is not touched again, so a duplicate job changes nothing.
"""

from __future__ import annotations

import logging

from hub.models import EventStatus
from hub.state import current_hub
from hub.store import load_event, set_status

logger = logging.getLogger(__name__)


def process_event(event_id: int) -> str:
    hub = current_hub()
    with hub.engine.begin() as conn:
        row = load_event(conn, event_id, for_update=True)
        if row is None:
            logger.warning("process_event: no such event", extra={"event_id": event_id})
            return "missing"
        if row.status != EventStatus.RECEIVED.value:
            return row.status
        set_status(conn, event_id, EventStatus.PROCESSED)
    logger.info("event processed", extra={"event_id": event_id, "channel": row.channel, "topic": row.topic})
    return EventStatus.PROCESSED.value
