"""mark_paid: the money a gateway took for an order goes back to the order's channel, so the shopper stops
seeing "awaiting payment"; tell_failed_payment: a payment that failed is told to the shopper on the order,
where the channel has a note they see (WooCommerce), once per payment.

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
from jobs.queueing import MARK_PAID, PAYMENT_NOTE, mark_paid_job_id, orders_queue_name, payment_note_job_id
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


def enqueue_payment_note(hub: Any, payment_id: int, channel: str) -> bool:
    return hub.queues.enqueue_once(orders_queue_name(channel), PAYMENT_NOTE, payment_note_job_id(payment_id),
                                   payment_id)


@task("payment_note", entity=lambda payment_id: f"payment:{payment_id}")
def tell_failed_payment(payment_id: int) -> str:
    """RQ job: a customer note on the order of a failed payment ("your payment of X did not go through"),
    once (the note names the payment). Retryable failures fail the job: RQ's failed registry keeps it for a
    replay; the shopper may have paid again meanwhile, which a replay reads."""
    hub = current_hub()
    with hub.engine.connect() as conn:
        row = conn.execute(select(payments, orders.c.channel.label("order_channel"), orders.c.number,
                                  orders.c.external_id.label("order_external_id"),
                                  orders.c.status.label("order_status"))
                           .join(orders, orders.c.id == payments.c.order_id)
                           .where(payments.c.id == payment_id)).one_or_none()
    if row is None:
        return f"payment {payment_id} has no order: nothing to tell"
    annotate(channel=row.order_channel, idempotency_key=f"{row.provider}:{row.external_id}")
    if row.order_status not in ("pending", "partially_paid"):
        return f"order {row.number} is {row.order_status}: no need to tell the shopper of a failed payment"
    channel = hub.config.channels.get(row.order_channel)
    target = order_target(channel) if channel else None
    if target is None:
        return f"order {row.number}: the hub cannot leave notes on {row.order_channel}"
    key = f"{row.provider} payment {row.external_id}"
    text = (f"Your payment of {row.amount:.2f} {row.currency} for this order did not go through ({key}). "
            "Please try again, or choose another way to pay.")
    note = target.tell_customer(row.order_external_id, text, key)
    return f"order {row.number} on {row.order_channel}: the shopper told of the failed payment (note {note})"


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
