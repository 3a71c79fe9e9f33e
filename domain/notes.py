"""The CRM timeline notes an order owes, recorded in the caller's transaction (``sync_crm`` sends them),
and how amounts and carriers read in them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from store.deliveries import insert_ignore, utcnow
from store.models import ExportStatus, crm_notes

CARRIER_NAMES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express", "dhl_express": "DHL Express",
                 "canada_post": "Canada Post", "royal_mail": "Royal Mail", "dpd": "DPD", "gls": "GLS"}


def note_key(order_id: int, kind: str, ref: str) -> str:
    return f"{order_id}:{kind}:{ref}"


def record_crm_note(conn: Connection, order_id: int, kind: str, ref: str, body: str,
                    occurred_at: datetime | None = None) -> bool:
    """Owe the CRM a note on the order's timeline, in the caller's transaction; False if that
    (order, kind, ref) was noted before. The caller owes ``sync_crm`` (``jobs.fanout``: ``Outcome.crm``, or
    ``Owed(crm=...)``), or uses ``crm_note``, which does both."""
    now = utcnow()
    key = note_key(order_id, kind, ref)
    if conn.execute(select(crm_notes.c.id).where(crm_notes.c.key == key)).first():
        return False
    insert_ignore(conn, crm_notes, {"key": key, "order_id": order_id, "kind": kind, "body": body,
                                    "occurred_at": occurred_at or now, "status": ExportStatus.PENDING.value,
                                    "created_at": now, "updated_at": now})
    return True


def money(amount: Decimal) -> str:
    """A decimal string with two places at least (HubSpot's amount is a number property)."""
    q = amount.quantize(Decimal("0.01")) if amount == amount.quantize(Decimal("0.01")) else amount.normalize()
    return format(q, "f")


def carrier_name(carrier: str) -> str:
    return CARRIER_NAMES.get(carrier.lower(), carrier.upper() if len(carrier) <= 4 else carrier.title())
