"""push_tracking: a shipment's tracking number to the channel the order was placed on.

Shopify: ``ShopifyOrders.fulfill`` (one fulfillment carrying the tracking: every open line, or the units
the shipment carries when it is part of the order). WooCommerce: ``WooOrders.add_tracking`` (a note the
shopper sees), then ``complete`` once the order has nothing left to ship. Both clients
are idempotent (a retry finds what the last attempt did), and the job records ``pushed_at`` and
the remote id, so a job run again does nothing. Errors follow the typed table: ``Retryable``
backs off with jitter up to ``TRACKING_MAX_ATTEMPTS``; ``Permanent`` fails the job at once with the
platform's reason (kept in ``shipments.push_error``). Queue ``orders-<channel>``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select

from connectors import order_target
from connectors.outbound import Permanent, Retryable
from domain.notes import carrier_name
from hub.config import ChannelConfig
from hub.state import current_hub
from jobs.queueing import PUSH_TRACKING, orders_queue_name, tracking_job_id
from store.deliveries import utcnow
from store.models import order_stock, orders, shipments

from .retry import backoff_s
from .tasks import annotate, retrying, task

logger = logging.getLogger(__name__)

TRACKING_MAX_ATTEMPTS = 5
TRACKING_BACKOFF_BASE_S = 5.0
TRACKING_BACKOFF_CAP_S = 600.0
TRACKING_JOB_TIMEOUT_S = 300
# how the channels spell the carriers the hub knows by their lower-case names


class TrackingPushFailed(Exception):
    """The channel refused the tracking, or retries ran out; the message is the reason."""


def enqueue_push_tracking(hub: Any, shipment_id: int, channel: str, attempt: int = 1,
                          delay_s: float = 0.0) -> bool:
    """One live job per shipment (and attempt); False if one is already waiting or running."""
    queue = Queue(orders_queue_name(channel), connection=hub.redis.client)
    job_id = tracking_job_id(shipment_id, attempt)
    kwargs = dict(args=(shipment_id, attempt), job_id=job_id, description=f"push_tracking({shipment_id})",
                  job_timeout=TRACKING_JOB_TIMEOUT_S, failure_ttl=7 * 24 * 3600)
    try:
        existing = Job.fetch(job_id, connection=hub.redis.client)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        if hub.queues.job_alive(existing):  # queued in its queue, or started by a live worker
            return False
        existing.delete()
    try:
        if delay_s > 0:
            queue.enqueue_in(timedelta(seconds=delay_s), PUSH_TRACKING, **kwargs)
        else:
            queue.enqueue(PUSH_TRACKING, **kwargs)
    except DuplicateJobError:
        return False
    return True


def send(channel: ChannelConfig, order_external_id: str, tracking: str, carrier: str,
         lines: dict[str, int] | None = None) -> str:
    """The channel's call(s); returns the remote id (fulfillment or note). ``lines``: the units this shipment
    carries when the order has more left to ship ({sku: units}); None: everything open, the order is done."""
    target = order_target(channel)
    if target is None:
        raise Permanent(f"channel {channel.id}: the hub cannot send tracking to {channel.kind}")
    return target.send_tracking(order_external_id, tracking, carrier_name(carrier), lines=lines)


@task("push_tracking", entity=lambda shipment_id: f"shipment:{shipment_id}", attempt=lambda attempt: attempt)
def push_tracking(shipment_id: int, attempt: int = 1, max_attempts: int = TRACKING_MAX_ATTEMPTS) -> str:
    """RQ job: tell the order's channel about the shipment's tracking number (once). ``max_attempts`` 1
    (a replay): a retryable failure fails at once instead of queueing the next attempt."""
    hub = current_hub()
    with hub.engine.connect() as conn:
        row = conn.execute(select(shipments, orders.c.channel.label("order_channel"),
                                  orders.c.external_id.label("order_external_id"))
                           .join(orders, orders.c.id == shipments.c.order_id)
                           .where(shipments.c.id == shipment_id)).one_or_none()
    if row is None:
        return f"shipment {shipment_id}: no such shipment with an order; nothing to push"
    annotate(channel=row.order_channel, idempotency_key=f"{row.carrier}:{row.tracking_number}")
    if row.pushed_at is not None:
        return f"shipment {shipment_id}: already on {row.order_channel} ({row.push_ref})"
    channel = hub.config.channels.get(row.order_channel)
    what = f"shipment {shipment_id} ({row.carrier} {row.tracking_number}) to {row.order_channel}"
    part = _part(hub, row)
    try:
        if channel is None or not channel.calls_api:
            raise Permanent(f"channel {row.order_channel}: no API keys configured")
        ref = send(channel, row.order_external_id, row.tracking_number, row.carrier, part)
    except Retryable as exc:
        if attempt >= max_attempts:
            _failed(hub, shipment_id, f"gave up after {attempt} attempts: {exc}")
            raise TrackingPushFailed(f"{what}: gave up after {attempt} attempts: {exc}") from exc
        delay = backoff_s(attempt, TRACKING_BACKOFF_BASE_S, TRACKING_BACKOFF_CAP_S, exc.seconds)
        enqueue_push_tracking(hub, shipment_id, row.order_channel, attempt + 1, delay_s=delay)
        retrying(exc)
        logger.warning("tracking push will retry", extra={"shipment_id": shipment_id, "channel": row.order_channel,
                                                          "attempt": attempt, "error": str(exc)})
        return f"{what}: retry {attempt + 1} in {delay:.1f}s: {exc}"
    except Permanent as exc:
        _failed(hub, shipment_id, str(exc))
        raise TrackingPushFailed(f"{what}: {exc}") from exc
    with hub.engine.begin() as conn:
        conn.execute(shipments.update().where(shipments.c.id == shipment_id, shipments.c.pushed_at.is_(None))
                     .values(pushed_at=utcnow(), push_ref=ref, push_error=None))
    logger.info("tracking pushed", extra={"shipment_id": shipment_id, "channel": row.order_channel, "ref": ref})
    return f"{what}: pushed ({ref})"


def _part(hub: Any, row: Any) -> dict[str, int] | None:
    """The units a shipment carries when it is part of the order (an ERP's partial delivery, with units
    still held for a later one); None when it completes the order: everything still open goes with it
    (lines the ERP does not stock too)."""
    if not row.lines:
        return None
    with hub.engine.connect() as conn:
        rest = conn.execute(select(func.coalesce(func.sum(order_stock.c.committed), 0))
                            .where(order_stock.c.order_id == row.order_id)).scalar()
    return dict(row.lines) if rest else None


def _failed(hub: Any, shipment_id: int, reason: str) -> None:
    with hub.engine.begin() as conn:
        conn.execute(shipments.update().where(shipments.c.id == shipment_id).values(push_error=reason[:2000]))
