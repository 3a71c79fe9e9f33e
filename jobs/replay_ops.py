"""What replaying one task kind does, and how its remote effect reads in a preview.

Every operation reads the hub's CURRENT state when it runs, never the state of the failed attempt: a
stock push publishes the ledger's quantities now, an export reads the order as it is now, an event is
re-applied through the version guard (an older record changes nothing). None can make a second remote
record: the sale order is found by its ``client_order_ref``, the deal by ``hub_order_key``, a tracking push
finds the fulfilment or note an earlier attempt made, stock is set to absolute values.

``refresh`` first re-reads what the platform allows: a push reads the channel's quantities (so it writes
only what is wrong there, compare-and-set against the truth); an order export or an event of a
WooCommerce order or product re-reads it through the REST API and stores the answer as a delivery of its
own, processed like any other. Where the platform offers no such read (Shopify orders: the hub holds no
full-order query), the stored state is used and the task record says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from connectors import refreshable, refresher
from connectors.outbound import Permanent, Refresher, Retryable
from domain import ledger
from hub.state import Hub
from jobs.queueing import HeldLock, stock_lock_key
from store.deliveries import load_event, set_status, utcnow
from store.models import (
    TASK_KINDS,
    ErrorClass,
    EventStatus,
    crm_deals,
    crm_notes,
    erp_orders,
    events,
    orders,
    payments,
    shipments,
    stock_sync,
)

from .backfill import backfill
from .crm import sync_crm
from .events import process_event
from .export import export_order, load_order, should_confirm
from .paid_back import mark_paid, tell_failed_payment
from .push import PushFailed, known_listings, make_target, push_dirty
from .subscriptions import check
from .tasks import annotate, recording
from .tracking import push_tracking

logger = logging.getLogger(__name__)

OPS = TASK_KINDS
MODES = ("payload", "refresh")
DEFAULT_MODE = {"push_stock": "refresh", "export_order": "refresh", "sync_crm": "refresh",
                "push_tracking": "payload", "process_event": "payload", "check_subscriptions": "refresh",
                "backfill": "refresh", "mark_paid": "refresh",
                "payment_note": "refresh"}
NAMED_BY_TEXT = ("push_stock", "check_subscriptions", "backfill")  # ops whose key names a channel, not a row id
STOCK_LOCK_WAIT_S = 60  # a replayed push waits this long for the channel's running push


class ReplayItemFailed(Exception):
    """A replayed item did not succeed; ``error_class`` says why (recorded on its task)."""

    def __init__(self, message: str, error_class: ErrorClass) -> None:
        super().__init__(message)
        self.error_class = error_class.value


@dataclass
class Action:
    """One planned replay step: one push per channel, one export per order, one event, ..."""

    op: str
    key: str  # the entity acted on: "stock:woo", "order:42", "shipment:7", "event:9"
    mode: str
    tasks: list[int] = field(default_factory=list)  # the failed attempts it covers
    skus: list[str] = field(default_factory=list)  # push_stock: the SKUs the failed pushes covered
    text: str = ""

    @property
    def ref(self) -> int | str:
        value = self.key.split(":", 1)[1]
        return value if self.op in NAMED_BY_TEXT else int(value)

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "key": self.key, "mode": self.mode, "tasks": self.tasks, "skus": self.skus,
                "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        return cls(op=data["op"], key=data["key"], mode=data["mode"], tasks=list(data.get("tasks") or []),
                   skus=list(data.get("skus") or []), text=data.get("text") or "")


def order_label(o: Any) -> str:
    return f"#{o.number} ({o.channel})"


# ---- preview texts -----------------------------------------------------------------------------------

def describe(conn: Connection, hub: Hub, a: Action) -> str:
    """The remote effect, in a sentence an operator can check before pressing the button."""
    return _DESCRIBE[a.op](conn, hub, a)


def _describe_stock(conn: Connection, hub: Hub, a: Action) -> str:
    dirty = set(conn.execute(select(stock_sync.c.sku).where(stock_sync.c.channel == a.ref,
                                                            stock_sync.c.dirty.is_(True))).scalars())
    n = len(set(a.skus) | dirty)
    how = f"read from {a.ref} first, then " if a.mode == "refresh" else ""
    return f"update stock of {n} SKU{'s' * (n != 1)} on {a.ref} ({how}the ledger's current quantities)"


def _describe_export(conn: Connection, hub: Hub, a: Action) -> str:

    order = load_order(conn, a.ref)
    if order is None:
        return f"order {a.ref} no longer exists: nothing to send"
    label = f"#{order.number} ({order.channel})"
    if hub.config.erp is None:
        return f"no ERP configured: nothing to send for {label}"
    row = conn.execute(select(erp_orders).where(erp_orders.c.order_id == a.ref)).one_or_none()
    refresh = f"re-read {label} from {order.channel}, then " if a.mode == "refresh" else ""
    if row is None or not row.sale_order_id:
        if order.status.value == "cancelled":
            return f"{refresh}nothing to create: {label} is cancelled"
        return f"{refresh}create ERP sale order for {label}" + (
            " and confirm it" if should_confirm(order, hub.config.erp) else "")
    if order.status.value == "cancelled" and row.state != "cancelled":
        return f"{refresh}cancel ERP sale order {row.name} for {label}"
    if should_confirm(order, hub.config.erp) and row.state == "draft":
        return f"{refresh}confirm ERP sale order {row.name} for {label}"
    return f"{refresh}check ERP sale order {row.name} for {label} (exists, {row.state}; no second one is made)"


def _describe_crm(conn: Connection, hub: Hub, a: Action) -> str:
    o = conn.execute(select(orders).where(orders.c.id == a.ref)).one_or_none()
    if o is None:
        return f"order {a.ref} no longer exists: nothing to send"
    row = conn.execute(select(crm_deals).where(crm_deals.c.order_id == a.ref)).one_or_none()
    owed = conn.execute(select(crm_notes.c.id).where(crm_notes.c.order_id == a.ref,
                                                     crm_notes.c.status != "ok")).all()
    refresh = f"re-read {order_label(o)} from {o.channel}, then " if a.mode == "refresh" else ""
    what = (f"update CRM deal {row.deal_id}" if row is not None and row.deal_id
            else "create or update the CRM contact and deal")
    return f"{refresh}{what} for {order_label(o)}" + (f" and add {len(owed)} note(s)" if owed else "")


def _describe_tracking(conn: Connection, hub: Hub, a: Action) -> str:
    s = conn.execute(select(shipments, orders.c.channel.label("order_channel"), orders.c.number)
                     .join(orders, orders.c.id == shipments.c.order_id, isouter=True)
                     .where(shipments.c.id == a.ref)).one_or_none()
    if s is None or s.order_channel is None:
        return f"shipment {a.ref} has no order: nothing to send"
    if s.pushed_at is not None:
        return f"tracking {s.tracking_number} is already on {s.order_channel} order #{s.number}: nothing to send"
    return f"send tracking {s.tracking_number} ({s.carrier}) to {s.order_channel} order #{s.number}"


def _describe_mark_paid(conn: Connection, hub: Hub, a: Action) -> str:
    o = conn.execute(select(orders).where(orders.c.id == a.ref)).one_or_none()
    if o is None:
        return f"order {a.ref} no longer exists: nothing to do"
    if o.paid_on_channel:
        return f"{order_label(o)} already shows paid on {o.channel}: nothing to do"
    return f"mark {order_label(o)} paid on {o.channel}"


def _describe_payment_note(conn: Connection, hub: Hub, a: Action) -> str:
    p = conn.execute(select(payments).where(payments.c.id == a.ref)).one_or_none()
    if p is None:
        return f"payment {a.ref} no longer exists: nothing to do"
    return f"tell the shopper that {p.provider} payment {p.external_id} did not go through, unless they were told"


def _describe_event(conn: Connection, hub: Hub, a: Action) -> str:
    e = conn.execute(select(events.c.channel, events.c.kind, events.c.topic, events.c.status)
                     .where(events.c.id == a.ref)).one_or_none()
    if e is None:
        return f"event {a.ref} no longer exists: nothing to do"
    source = ("the platform's current record" if a.mode == "refresh" and refreshable(e.kind, e.topic)
              else "the stored delivery")
    return (f"re-process {e.channel} {e.topic} event {a.ref} ({e.status}) from {source}; "
            "older data never overwrites newer, follow-up syncs are queued as usual")


def _describe_subscriptions(conn: Connection, hub: Hub, a: Action) -> str:
    return f"list {a.ref}'s webhooks and create, re-activate or re-point the ones the hub needs"


def _describe_backfill(conn: Connection, hub: Hub, a: Action) -> str:
    return f"read what changed on {a.ref} since its watermark and process what the hub did not hold"


_DESCRIBE: dict[str, Callable[[Connection, Hub, Action], str]] = {
    "push_stock": _describe_stock, "export_order": _describe_export, "sync_crm": _describe_crm,
    "push_tracking": _describe_tracking, "process_event": _describe_event,
    "check_subscriptions": _describe_subscriptions, "backfill": _describe_backfill, "mark_paid": _describe_mark_paid,
    "payment_note": _describe_payment_note,
}


# ---- running ------------------------------------------------------------------------------------------

def run(hub: Hub, a: Action) -> str:
    """One action, recorded as one task attempt (the caller sets the replay context)."""
    return _RUN[a.op](hub, a)


def _run_stock(hub: Hub, a: Action) -> str:

    channel = str(a.ref)
    with recording(hub.engine, "push_stock", channel=channel, entity=a.key,
                   args={"channel": channel, "skus": len(a.skus), "mode": a.mode}):
        if channel not in hub.stock_policy.pushing:
            raise Permanent(f"{channel}: the hub does not publish stock to it (API keys and locations are needed)")
        with hub.engine.begin() as conn:  # owed again, at whatever the ledger says when the push reads it
            ledger.mark_dirty(conn, (channel,), set(a.skus))
        lock = HeldLock(hub.redis.client, stock_lock_key(channel), blocking_timeout=STOCK_LOCK_WAIT_S)
        if not lock.acquire():
            raise Retryable(f"{channel}: another push held the channel's stock for over {STOCK_LOCK_WAIT_S}s")
        try:
            target = make_target(hub.config.channels[channel])
            if a.mode == "refresh":
                with hub.engine.connect() as conn:
                    rows = conn.execute(select(stock_sync.c.sku).where(stock_sync.c.channel == channel,
                                                                       stock_sync.c.dirty.is_(True))).scalars().all()
                    listings = known_listings(conn, channel, sorted(rows))
                    mark = ledger.last_movement_id(conn)
                readings = target.read(list(listings.values())) if listings else {}
                now = utcnow()
                with hub.engine.begin() as conn:
                    for sku, qty in readings.items():
                        ledger.set_believed(conn, channel, sku, qty, mark, now)
                annotate(read=len(readings))
            report = push_dirty(hub, channel, target)
        finally:
            lock.release()
        if report.failed:
            raise PushFailed(f"{report}: " + "; ".join(f"{k}: {v}" for k, v in list(report.failed.items())[:10]))
        return str(report)


def _run_export(hub: Hub, a: Action) -> str:

    with recording(hub.engine, "export_order", channel="erp", entity=a.key,
                   args={"order_id": a.ref, "mode": a.mode}):
        if a.mode == "refresh":
            annotate(refresh=refresh_order(hub, int(a.ref)))
        result = export_order.__wrapped__(int(a.ref), max_attempts=1)  # type: ignore[attr-defined]
        return str(result)


def _run_crm(hub: Hub, a: Action) -> str:

    with recording(hub.engine, "sync_crm", channel="crm", entity=a.key, args={"order_id": a.ref, "mode": a.mode}):
        if a.mode == "refresh":
            annotate(refresh=refresh_order(hub, int(a.ref)))
        return str(sync_crm.__wrapped__(int(a.ref), max_attempts=1))  # type: ignore[attr-defined]


def _run_tracking(hub: Hub, a: Action) -> str:

    with recording(hub.engine, "push_tracking", channel=None, entity=a.key,
                   args={"shipment_id": a.ref, "mode": a.mode}):
        return str(push_tracking.__wrapped__(int(a.ref), 1, max_attempts=1))  # type: ignore[attr-defined]


def _run_mark_paid(hub: Hub, a: Action) -> str:

    with recording(hub.engine, "mark_paid", channel=None, entity=a.key, args={"order_id": a.ref, "mode": a.mode}):
        return str(mark_paid.__wrapped__(int(a.ref), max_attempts=1))  # type: ignore[attr-defined]


def _run_payment_note(hub: Hub, a: Action) -> str:

    with recording(hub.engine, "payment_note", channel=None, entity=a.key,
                   args={"payment_id": a.ref, "mode": a.mode}):
        return str(tell_failed_payment.__wrapped__(int(a.ref)))  # type: ignore[attr-defined]


def _run_event(hub: Hub, a: Action) -> str:

    event_id = int(a.ref)
    with hub.engine.connect() as conn:
        row = load_event(conn, event_id)
    if row is None:
        raise ReplayItemFailed(f"event {event_id} does not exist", ErrorClass.PERMANENT)
    with recording(hub.engine, "process_event", channel=row.channel, entity=a.key,
                   args={"event_id": event_id, "mode": a.mode}, idempotency_key=row.dedupe_key):
        target = event_id
        if a.mode == "refresh" and refreshable(row.kind, row.topic):
            target = refresh_event(hub, row)
            annotate(refreshed_as=target)
        if target == event_id:
            with hub.engine.begin() as conn:
                locked = load_event(conn, event_id, for_update=True)
                set_status(conn, event_id, EventStatus.RECEIVED,
                           f"replay: re-processing the stored delivery (was {locked.status})")
        status = process_event(target)
        with hub.engine.connect() as conn:
            reason = conn.execute(select(events.c.status_reason).where(events.c.id == target)).scalar()
        if status == EventStatus.FAILED.value:
            raise ReplayItemFailed(reason or "failed", ErrorClass.PERMANENT)
        if status == EventStatus.NEEDS_MAPPING.value:
            raise ReplayItemFailed(f"parked again: {reason}", ErrorClass.NEEDS_MAPPING)
        return f"event {target}: {status}: {reason or ''}".rstrip(": ")


def _run_subscriptions(hub: Hub, a: Action) -> str:

    findings = check(hub, str(a.ref))  # a task record of its own, in the replay's context
    return f"{a.ref}: {len(findings)} webhook(s) repaired"


def _run_backfill(hub: Hub, a: Action) -> str:

    return str(backfill(hub, str(a.ref), apply=True))  # a task record of its own, in the replay's context


_RUN: dict[str, Callable[[Hub, Action], str]] = {
    "push_stock": _run_stock, "export_order": _run_export, "sync_crm": _run_crm,
    "push_tracking": _run_tracking, "process_event": _run_event, "check_subscriptions": _run_subscriptions,
    "backfill": _run_backfill, "mark_paid": _run_mark_paid,
    "payment_note": _run_payment_note,
}


# ---- refresh: re-read from the platform ------------------------------------------------------------------

def _refresher(hub: Hub, channel: str) -> Refresher | None:
    cfg = hub.config.channels.get(channel)
    return refresher(cfg) if cfg is not None else None


def _store_read(hub: Hub, channel: str, topic: str, body: dict[str, Any], why: str) -> int:
    """A platform read stored as a delivery of its own (kept, listed, processed like any other)."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    digest = hashlib.sha256(raw).hexdigest()[:32]
    stored = hub.deliveries.add(channel=channel, kind=hub.config.channels[channel].kind, topic=topic,
                                dedupe_key=f"refresh:{topic}:{digest}", occurred_at=None,
                                headers={"X-Hub-Refresh": why}, body=raw)
    return stored.event_id


def refresh_order(hub: Hub, order_id: int) -> str:
    """Re-read the order from its channel and apply it (the version guard keeps newer state); -> what was done."""

    with hub.engine.connect() as conn:
        o = conn.execute(select(orders.c.channel, orders.c.external_id, orders.c.number)
                         .where(orders.c.id == order_id)).one_or_none()
    if o is None:
        return "no such order"
    client = _refresher(hub, o.channel)
    if client is None:
        return f"{o.channel}: orders cannot be re-read from this channel; the hub's current order is used"
    topic, body = client.current_order(o.external_id)
    event_id = _store_read(hub, o.channel, topic, body, f"replay: order {o.external_id} re-read")
    status = process_event(event_id)
    return f"re-read #{o.number} from {o.channel} as event {event_id}: {status}"


def refresh_event(hub: Hub, row: Any) -> int:
    """The current version of what the event was about, read from the platform and stored; -> its event id."""
    client = _refresher(hub, row.channel)
    if client is None:
        raise ReplayItemFailed(f"{row.channel}: no API keys to re-read from; replay with mode payload",
                               ErrorClass.PERMANENT)
    try:
        body = client.current(row.topic, json.loads(bytes(row.body)))
    except Permanent as exc:
        raise ReplayItemFailed(f"event {row.id}: {exc}", ErrorClass.PERMANENT) from None
    return _store_read(hub, row.channel, row.topic, body, f"replay of event {row.id}: re-read")
