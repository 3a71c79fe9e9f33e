"""Shipments: carrier tracking, channel fulfillments and ERP deliveries, in the caller's transaction.

One shipment per tracking number (carriers spell their own name differently: ``UPS`` from Shopify,
``ups`` from AfterShip, so a tracking number found under another carrier name is the same parcel).
Its status only moves forward (pre_transit -> in_transit -> out_for_delivery -> delivered /
returned; an exception sits beside out_for_delivery and a newer scan may clear it), so deliveries
in any order and any number of times end in the same state. ``delivered`` settles the order as
delivered; ``exception`` opens a ``shipment_exception`` alert. The promised delivery is the
carrier's estimate if it gives one, else ``carrier_sla_days`` from shipping. A shipment of an
order whose channel the hub can call is owed a ``push_tracking`` job (queued after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from mappings.canonical import Shipment, ShipmentStatus
from store.deliveries import utcnow
from store.models import orders, shipments

from .orders import find_order, note_progress, raise_alert, resolve_alert, settle_order
from .outcome import record_effect
from .progress import SHIPMENT_PROGRESS

EXCEPTION_ALERT = "shipment_exception"
MOVING = frozenset(ShipmentStatus) - {ShipmentStatus.PRE_TRANSIT}


def find_shipment(conn: Connection, carrier: str, tracking_number: str, lock: bool = True) -> Any:
    q = select(shipments).where(shipments.c.tracking_number == tracking_number)
    rows = conn.execute(q.with_for_update() if lock else q).all()
    return next((r for r in rows if r.carrier == carrier), rows[0] if rows else None)


def _events(stored: list[dict[str, Any]] | None, s: Shipment) -> list[dict[str, Any]]:
    """Every scan either report has shown, once each, oldest first."""
    new = [{"status": e.status.value, "at": e.occurred_at.isoformat() if e.occurred_at else None,
            "message": e.message, "location": e.location} for e in s.events]
    merged = {(e["status"], e["at"], e["message"]): e for e in (stored or []) + new}
    return sorted(merged.values(), key=lambda e: e["at"] or "")


def _shipped_at(evts: list[dict[str, Any]]) -> datetime | None:
    times = [e["at"] for e in evts if e["at"] and ShipmentStatus(e["status"]) in MOVING]
    return datetime.fromisoformat(min(times)) if times else None


@dataclass
class ShipmentChange:
    id: int
    effect: str
    status: ShipmentStatus
    order_id: int | None
    notes: list[str] = field(default_factory=list)


def upsert_shipment(conn: Connection, out: Any, s: Shipment, event_id: int | None, order_id: int | None = None,
                    shipped_at: datetime | None = None, from_channel: bool = False,
                    lines: dict[str, int] | None = None) -> ShipmentChange:
    """Create or move the shipment at ``s``'s tracking number by the rules above. ``lines``: the units it
    carries, when it is part of the order (an ERP's partial delivery); kept from the first that says."""
    carrier = s.carrier.strip().lower()
    row = find_shipment(conn, carrier, s.tracking_number)
    old = ShipmentStatus(row.status) if row else None
    stale = bool(row and s.source_updated_at and row.source_updated_at and s.source_updated_at < row.source_updated_at)
    status = s.status if old is None else SHIPMENT_PROGRESS.next(old, s.status, stale)
    evts = _events(row.events if row else None, s)
    order_id = (row.order_id if row else None) or order_id
    if order_id is None and s.order_reference:
        order_id = find_order(conn, s.order_reference, s.origin.channel if from_channel and s.origin else None)
    now = utcnow()
    times = [t for t in (shipped_at, _shipped_at(evts), row.shipped_at if row else None) if t]
    shipped = min(times) if times else None
    values: dict[str, Any] = {"status": status.value, "events": evts, "order_id": order_id, "shipped_at": shipped,
                              "updated_at": now}
    if s.order_reference and not (row and row.order_reference):
        values["order_reference"] = s.order_reference
    if s.estimated_delivery and (row is None or row.promised_by != "carrier"):
        values.update(promised_at=s.estimated_delivery, promised_by="carrier", estimated_delivery=s.estimated_delivery)
    elif s.estimated_delivery:
        values["estimated_delivery"] = s.estimated_delivery
    elif shipped and (row is None or row.promised_at is None):
        values.update(promised_at=shipped + timedelta(days=out.rules.days_for(carrier)), promised_by="sla")
    if status is ShipmentStatus.DELIVERED:
        delivered = [e["at"] for e in evts if e["status"] == ShipmentStatus.DELIVERED.value and e["at"]]
        values["delivered_at"] = (row.delivered_at if row else None) or s.delivered_at or \
            (datetime.fromisoformat(delivered[-1]) if delivered else now)
    if from_channel and s.origin:
        values.update(pushed_at=(row.pushed_at if row else None) or now, push_ref=s.origin.external_id)
    if lines and not (row and row.lines):
        values["lines"] = lines
    incoming = max((t for t in (s.source_updated_at, row.source_updated_at if row else None) if t), default=None)
    if row is None:
        sid = conn.execute(shipments.insert().values(
            carrier=carrier, tracking_number=s.tracking_number, channel=s.origin.channel if s.origin else None,
            external_id=s.origin.external_id if s.origin else None, source_updated_at=incoming, created_at=now,
            **values)).inserted_primary_key[0]
        effect = "created"
    else:
        conn.execute(shipments.update().where(shipments.c.id == row.id).values(source_updated_at=incoming, **values))
        sid, effect = row.id, "stale" if stale and status is old else "updated"
    change = ShipmentChange(sid, effect, status, order_id)
    _consequences(conn, out, event_id, change, carrier, s.tracking_number, evts[-1] if evts else None)
    return change


def _consequences(conn: Connection, out: Any, event_id: int | None, change: ShipmentChange, carrier: str,
                  tracking: str, detail: dict[str, Any] | None = None) -> None:
    key = f"{carrier}:{tracking}"
    if change.status is ShipmentStatus.EXCEPTION:
        if raise_alert(conn, EXCEPTION_ALERT, key, f"shipment {carrier} {tracking}: delivery exception",
                       {"carrier": carrier, "tracking_number": tracking, "order_id": change.order_id,
                        "last_event": detail}):
            change.notes.append("exception alert opened")
    elif change.status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED):
        resolve_alert(conn, EXCEPTION_ALERT, key)
    if change.order_id is None:
        return
    if change.status is ShipmentStatus.DELIVERED:
        if settled := settle_order(conn, out, event_id, change.order_id):  # notes the CRM too
            change.notes.append(settled)
    else:
        note_progress(conn, out, change.order_id)
    owe_push(conn, out, change.order_id)


def owe_push(conn: Connection, out: Any, order_id: int, channel: str | None = None) -> None:
    """Queue (after the commit) a push of every shipment of the order its channel has not been told of."""
    if channel is None:
        channel = conn.execute(select(orders.c.channel).where(orders.c.id == order_id)).scalar()
    if channel not in out.rules.api_channels:
        return
    for sid in conn.execute(select(shipments.c.id).where(shipments.c.order_id == order_id,
                                                         shipments.c.pushed_at.is_(None))).scalars():
        out.tracking.add((sid, channel))


def apply_shipment(conn: Connection, event_id: int, s: Shipment, out: Any) -> None:
    """A carrier webhook, or a sales channel's own fulfillment (its tracking is already there)."""

    from_channel = bool(s.origin and s.origin.channel in out.rules.sales_channels)
    change = upsert_shipment(conn, out, s, event_id, from_channel=from_channel)
    record_effect(conn, event_id, "shipment", change.id, change.effect)
    out.notes.append(f"shipment {s.carrier} {s.tracking_number} {change.effect} ({change.status.value})"
                     + "".join(f"; {n}" for n in change.notes))


def erp_delivery(conn: Connection, out: Any, order_id: int, tracking_ref: str, carrier: str,
                 date_done: datetime | None, lines: dict[str, int] | None = None) -> ShipmentChange:
    """The shipment of an ERP delivery (``lines``: what it carries, {sku: units}), in the caller's
    transaction; a carrier's report that came first, without an order, gets the order now. The status
    is the carrier's to move: pre_transit."""
    s = Shipment(carrier=carrier, tracking_number=tracking_ref, status=ShipmentStatus.PRE_TRANSIT)
    return upsert_shipment(conn, out, s, None, order_id=order_id, shipped_at=date_done, lines=lines)
