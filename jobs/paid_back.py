"""mark_paid: the money a gateway took for an order goes back to the order's channel, so the shopper stops
seeing "awaiting payment".

When a Stripe or PayPal payment matched to an order makes it paid while its channel still shows it unpaid
(a WooCommerce order pending or on hold, a Shopify order paid outside Shopify), the domain owes one
``mark_paid(order_id)`` on the ``orders-<channel>`` queue. It reads the order and the channel now: nothing to
do once the channel shows it paid (its own webhook says so, or the channel answers so); else WooCommerce's
``set_paid`` (processing) or Shopify's ``orderMarkAsPaid``, with the gateway's payment id. Retryable failures
retry with backoff; a refusal fails the task with the platform's reason.
"""

from __future__ import annotations

import logging
from typing import Any

from rq import Retry
from sqlalchemy import select

from connectors import order_target
from connectors.outbound import Permanent, Retryable
from domain.orders import CAPTURED_STATUSES
from hub.state import current_hub
from jobs.queueing import MARK_PAID, mark_paid_job_id, orders_queue_name
from store.models import orders, payments

from .retry import backoff_s, whole_seconds
from .tasks import annotate, retrying, rq_attempt, task

logger = logging.getLogger(__name__)

MARK_PAID_MAX_ATTEMPTS = 5
MARK_PAID_BACKOFF_BASE_S = 5.0
MARK_PAID_BACKOFF_CAP_S = 600.0


class MarkPaidFailed(Exception):
    """The channel refused, or retries ran out; the message is the reason."""


def enqueue_mark_paid(hub: Any, order_id: int, channel: str) -> bool:
    """One waiting job per order (``Queues.enqueue_once``)."""
    return hub.queues.enqueue_once(orders_queue_name(channel), MARK_PAID, mark_paid_job_id(order_id), order_id)


@task("mark_paid", entity=lambda order_id: f"order:{order_id}")
def mark_paid(order_id: int, max_attempts: int = MARK_PAID_MAX_ATTEMPTS) -> str | Retry:
    """RQ job: the order marked paid on its channel, once."""
    hub = current_hub()
    with hub.engine.connect() as conn:
        o = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
        paid = conn.execute(select(payments.c.provider, payments.c.external_id).where(
            payments.c.order_id == order_id, payments.c.status.in_(CAPTURED_STATUSES))
            .order_by(payments.c.id.desc()).limit(1)).one_or_none()
    if o is None:
        return f"order {order_id} is gone"
    annotate(channel=o.channel, idempotency_key=f"{o.channel}:{o.external_id}")
    if o.paid_on_channel:
        return f"order {o.number} already shows paid on {o.channel}"
    channel = hub.config.channels.get(o.channel)
    target = order_target(channel) if channel else None
    if target is None:
        return f"order {o.number}: the hub cannot mark orders paid on {o.channel}"
    reference = f"{paid.provider}:{paid.external_id}" if paid else ""
    attempt = rq_attempt()
    try:
        done = target.mark_paid(o.external_id, reference)
    except Retryable as exc:
        if attempt >= max_attempts:
            raise MarkPaidFailed(f"order {o.number} on {o.channel}: gave up after {attempt} attempts: {exc}") from exc
        retrying(exc)
        delay = whole_seconds(backoff_s(attempt, MARK_PAID_BACKOFF_BASE_S, MARK_PAID_BACKOFF_CAP_S, exc.seconds))
        return Retry(max=max_attempts, interval=[delay])
    except Permanent as exc:
        raise MarkPaidFailed(f"order {o.number} on {o.channel}: {exc}") from exc
    logger.info("order marked paid", extra={"order_id": order_id, "channel": o.channel, "result": done})
    return f"order {o.number} on {o.channel}: {done} ({reference or 'no gateway payment id'})"
