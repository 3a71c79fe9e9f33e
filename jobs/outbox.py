"""The outbox sweepers: deliveries stored while Redis was unreachable (or whose job was lost)
stay ``received``, jobs owed by a committed transaction whose worker died before queueing them stay in
``owed``, stock marked dirty may have lost its scheduled push the same way, and an order changed since its
ERP export or CRM sync last ran lost that job (queued, then Redis lost its data); these scheduled jobs queue
them again."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Select, Table, and_, bindparam, or_, select

from hub.state import Hub, current_hub
from store.deliveries import stuck_received, utcnow
from store.models import ExportStatus, crm_deals, erp_orders, orders, stock_sync

from .fanout import settle_overdue

logger = logging.getLogger(__name__)
SWEEP_BATCH = 1000
EXPORT_LOOKBACK_S = 86400  # orders changed this long ago at most are looked at (a retried export ends within an hour)


def sweep_outbox(grace_s: float | None = None) -> int:
    """Queue every delivery left ``received`` for longer than ``grace_s``, the jobs committed transactions owe for
    as long (``fanout.settle_overdue``) and the exports lost since (``sweep_exports``); returns how many deliveries,
    owed rows and exports."""
    hub = current_hub()
    grace = hub.config.outbox_grace_s if grace_s is None else grace_s
    ids = stuck_received(hub.engine, utcnow() - timedelta(seconds=grace), limit=SWEEP_BATCH)
    queued = sum(1 for event_id in ids if hub.queues.enqueue_event(event_id))
    if queued:
        logger.info("outbox sweep re-queued deliveries", extra={"queued": queued, "stuck": len(ids)})
    return queued + settle_overdue(hub, grace) + sweep_exports(hub, grace)


def sweep_exports(hub: Hub, grace_s: float) -> int:
    """Queue the ERP export and CRM sync of each order changed more than ``grace_s`` ago (within
    ``EXPORT_LOOKBACK_S``) that has not been exported since, or whose export waits (pending, retrying) with no
    job of its own left: the job was queued and lost (Redis lost its data). A job still queued or scheduled
    covers it (``enqueue_once``). -> how many were queued."""
    now = utcnow()
    cutoff, since = now - timedelta(seconds=grace_s), now - timedelta(seconds=EXPORT_LOOKBACK_S)
    queued = 0
    with hub.engine.connect() as conn:
        for on, table, enqueue in ((hub.queues.erp, erp_orders, hub.queues.enqueue_export),
                                   (hub.queues.crm, crm_deals, hub.queues.enqueue_crm)):
            if on:
                queued += sum(1 for order_id in conn.execute(_owed_exports(table), {"b_cut": cutoff, "b_since": since})
                              .scalars() if enqueue(order_id))
    if queued:
        logger.info("outbox sweep re-queued exports", extra={"queued": queued})
    return queued


def _owed_exports(table: Table) -> Select:
    x, o = table.c, orders.c
    return (select(o.id).select_from(orders.outerjoin(table, x.order_id == o.id))
            .where(o.updated_at >= bindparam("b_since"), o.updated_at < bindparam("b_cut"),
                   or_(x.id.is_(None), x.updated_at < o.updated_at,
                       and_(x.status.in_((ExportStatus.PENDING.value, ExportStatus.RETRYING.value)),
                            x.updated_at < bindparam("b_cut"))))
            .order_by(o.id).limit(SWEEP_BATCH))


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
