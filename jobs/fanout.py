"""What a committed transaction of the domain owes the job queues, queued once it has committed (never before:
the jobs would not see the rows), and never lost. One fan-out for every writer: an event's records, an ERP pull.

A transaction opened with ``owing`` notes its debts with ``owe``: the jobs are written to the ``owed`` table
in the same transaction, queued after the commit, and the row is deleted then. A worker killed, or a Redis gone,
between the commit and the queueing leaves the row: the outbox sweep queues it (``settle_overdue``), and an event
whose job runs again queues its own at once (``owe_again``). Queueing twice is harmless: every job here is queued
once per entity (``Queues.enqueue_once``) and reads the current state when it runs. Stock pushes and held stock
reports need no row: the store keeps them already (dirty ``stock_sync`` rows and ``received`` events, swept).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from domain.outcome import Outcome
from hub.state import Hub
from store.deliveries import utcnow
from store.models import owed

from .paid_back import enqueue_mark_paid, enqueue_payment_note
from .tracking import enqueue_push_tracking

logger = logging.getLogger(__name__)

DEBTS = "hub.owed"  # Connection.info key: the debts of the transaction under way, [(owed row id or None, Owed)]
SETTLE_BATCH = 1000


@dataclass(frozen=True)
class Owed:
    """The jobs a committed transaction owes, as they are kept in ``owed.jobs``."""

    backfills: tuple[str, ...] = ()  # channels to read: SKUs there await it (stock_sync.awaits_read_at)
    pushes: tuple[str, ...] = ()  # channels whose stock changed
    verify: tuple[tuple[str, str], ...] = ()  # (channel, SKU) to reconcile
    tracking: tuple[tuple[int, str], ...] = ()  # (shipment id, channel) tracking pushes
    mark_paid: tuple[tuple[int, str], ...] = ()  # (order id, channel): paid, the channel unaware
    failed_payments: tuple[tuple[int, str], ...] = ()  # (payment id, channel): tell the shopper
    exports: tuple[int, ...] = ()  # orders changed: ERP export and CRM sync
    crm: tuple[int, ...] = ()  # orders with new CRM notes only
    held: tuple[tuple[str, str], ...] = ()  # (channel, SKU): its stock reports held for its orders, judged again
    events: tuple[int, ...] = ()  # parked events a new link resumes

    @classmethod
    def of(cls, hub: Hub, out: Outcome, channel: str | None = None, events: Iterable[int] = ()) -> Owed:
        """What ``out`` owes on ``hub`` (exports only with an ERP or a CRM configured); ``channel``: the channel
        of the event that made it (its held reports are judged again now); ``events``: parked events to resume."""
        queues = hub.queues
        return cls(
            backfills=tuple(sorted(out.backfills)), pushes=tuple(sorted(out.touch.dirty_channels)),
            verify=tuple(sorted(out.verify)), tracking=tuple(sorted(out.tracking)),
            mark_paid=tuple(sorted(out.mark_paid)), failed_payments=tuple(sorted(out.failed_payments)),
            exports=tuple(sorted(out.orders)) if queues.erp or queues.crm else (),
            crm=tuple(sorted(out.crm - out.orders)) if queues.crm else (),
            held=tuple((channel, sku) for sku in sorted(out.touch.skus)) if channel is not None else (),
            events=tuple(sorted(events)))

    def kept(self) -> bool:
        """Whether a row must keep these jobs: anything the store does not keep otherwise."""
        return bool(self.backfills or self.verify or self.tracking or self.mark_paid or self.failed_payments
                    or self.exports or self.crm or self.events)

    def __bool__(self) -> bool:
        return self.kept() or bool(self.pushes or self.held)

    def to_json(self) -> dict[str, list[Any]]:
        return {k: list(v) for k, v in asdict(self).items() if v}

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> Owed:
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(tuple(x) if isinstance(x, list) else x for x in v) for k, v in data.items()
                      if k in names})


def fan_out(hub: Hub, owed_: Owed) -> None:
    """Queue what is owed: parked events resumed and backfills first (the pushes wait for what they find), then
    stock pushes, reconciles, tracking pushes, payments marked on their shops, failed payments told, the ERP/CRM
    exports, CRM syncs, and the held stock reports of the event's channel."""
    for event_id in owed_.events:  # the links they waited for are visible now
        hub.queues.enqueue_event(event_id)
    for ch in owed_.backfills:  # only the SKUs that await it wait: the channel's other writes go on
        hub.queues.request_backfill(ch, hold_pushes=False)
    for ch in owed_.pushes:
        hub.queues.schedule_push(ch)
    for ch, sku in owed_.verify:
        hub.queues.verify_stock(ch, sku)
    for shipment_id, ch in owed_.tracking:
        enqueue_push_tracking(hub, shipment_id, ch)
    for order_id, ch in owed_.mark_paid:
        enqueue_mark_paid(hub, order_id, ch)
    for payment_id, ch in owed_.failed_payments:
        enqueue_payment_note(hub, payment_id, ch)
    hub.queues.enqueue_exports(owed_.exports)
    for order_id in owed_.crm:
        hub.queues.enqueue_crm(order_id)
    if owed_.held:
        hub.queues.release_held(list(owed_.held))


@contextmanager
def owing(hub: Hub) -> Iterator[Connection]:
    """``hub.engine.begin()`` whose debts (``owe``) are queued once it has committed; none if it rolls back."""
    with hub.engine.connect() as conn:
        conn.info[DEBTS] = []
        try:
            with conn.begin():
                yield conn
            debts = list(conn.info[DEBTS])
        finally:
            del conn.info[DEBTS]
    settle(hub, debts)


def owe(conn: Connection, owed_: Owed, event_id: int | None = None) -> None:
    """Note in ``conn``'s transaction (opened by ``owing``) that it owes ``owed_``."""
    if DEBTS not in conn.info:
        raise RuntimeError("owe() needs a transaction opened with owing(): nothing would queue the jobs")
    if not owed_:
        return
    row_id = None
    if owed_.kept():
        row_id = conn.execute(owed.insert().returning(owed.c.id), {
            "event_id": event_id, "created_at": utcnow(), "jobs": owed_.to_json()}).scalar_one()
    conn.info[DEBTS].append((row_id, owed_))


def owe_again(conn: Connection, event_id: int) -> int:
    """The event's job runs again after its processing committed: what that processing owed and did not queue (its
    worker or Redis died in between) is owed by this transaction; -> how many rows."""
    rows = conn.execute(select(owed.c.id, owed.c.jobs).where(owed.c.event_id == event_id)).all()
    conn.info[DEBTS].extend((row.id, Owed.from_json(row.jobs)) for row in rows)
    return len(rows)


def settle(hub: Hub, debts: list[tuple[int | None, Owed]]) -> None:
    """Queue each debt, then delete the rows that kept them."""
    for _, owed_ in debts:
        fan_out(hub, owed_)
    paid = [row_id for row_id, _ in debts if row_id is not None]
    if paid:
        with hub.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")  # a row lost so is queued again: harmless
            conn.execute(delete(owed).where(owed.c.id.in_(paid)))


def settle_overdue(hub: Hub, grace_s: float) -> int:
    """Queue what transactions committed more than ``grace_s`` ago still owe (their worker or Redis died before it
    was queued); -> how many rows."""
    with hub.engine.connect() as conn:
        rows = conn.execute(select(owed.c.id, owed.c.jobs).where(
            owed.c.created_at < utcnow() - timedelta(seconds=grace_s)).order_by(owed.c.id).limit(SETTLE_BATCH)).all()
    settle(hub, [(row.id, Owed.from_json(row.jobs)) for row in rows])
    if rows:
        logger.warning("outbox sweep queued jobs owed by committed transactions", extra={"rows": len(rows)})
    return len(rows)
