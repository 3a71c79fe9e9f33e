"""What a committed transaction of the domain owes, queued once it has committed (never before: the jobs
would not see the rows). One fan-out for every writer: an event's records, an ERP pull."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event

from domain.outcome import Outcome
from hub.state import Hub

from .paid_back import enqueue_mark_paid, enqueue_payment_note
from .tracking import enqueue_push_tracking


def fan_out(hub: Hub, out: Outcome, channel: str | None = None) -> None:
    """Backfills first (the pushes wait for what they find), then stock pushes, reconciles of SKUs a report could
    not settle, tracking pushes, payments marked on their shops, the ERP/CRM
    exports of changed orders, the CRM syncs of orders with new notes only, and, for an event of ``channel``,
    that channel's stock reports held for its orders (judged again now)."""
    for ch in sorted(out.backfills):
        hub.queues.request_backfill(ch)
    for ch in sorted(out.touch.dirty_channels):
        hub.queues.schedule_push(ch)
    for ch, sku in sorted(out.verify):
        hub.queues.verify_stock(ch, sku)
    for shipment_id, ch in sorted(out.tracking):
        enqueue_push_tracking(hub, shipment_id, ch)
    for order_id, ch in sorted(out.mark_paid):
        enqueue_mark_paid(hub, order_id, ch)
    for payment_id, ch in sorted(out.failed_payments):
        enqueue_payment_note(hub, payment_id, ch)
    hub.queues.enqueue_exports(out.orders)
    for order_id in sorted(out.crm - out.orders):
        hub.queues.enqueue_crm(order_id)
    if channel is not None and out.touch.skus:
        hub.queues.release_held([(channel, sku) for sku in sorted(out.touch.skus)])


def after_commit(conn: Connection, hub: Hub, out: Outcome) -> None:
    """``fan_out`` once ``conn``'s transaction commits."""
    if not (out.backfills or out.touch.dirty_channels or out.verify or out.tracking or out.orders or out.crm
            or out.mark_paid or out.failed_payments):
        return

    def _go(_: Any) -> None:
        fan_out(hub, out)

    event.listen(conn, "commit", _go, once=True)
