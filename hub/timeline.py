"""One order's story across systems, oldest first: the channel's events, payments and refunds,
shipments and their scans, the tracking pushed back, the ERP sale order, the CRM deal and notes.

Built from ``order_detail`` (the same reading as ``GET /api/orders/<id>``) plus the export rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from domain.returns import describe_lines
from hub.api.records import money
from store.deliveries import iso
from store.models import crm_deals, crm_notes, erp_orders, refunds

SOURCE_NOTES = {"backfill": ", read from the channel: its webhook never came", "refresh": ", re-read by a replay"}


@dataclass(frozen=True)
class Step:
    at: str | None  # ISO UTC; None sorts first (a step the store kept no time for)
    system: str  # the channel id, "erp", "crm", a payment provider or a carrier
    what: str
    state: str = ""  # ok | failed | pending | ... for the row's badge
    event_id: int | None = None


def _fmt(m: dict[str, str] | None) -> str:
    return f"{m['amount']} {m['currency']}" if m else ""


def exports(conn: Connection, order_id: int) -> dict[str, Any]:
    """The order's ERP and CRM rows (None when never exported) and its CRM notes."""
    erp = conn.execute(select(erp_orders).where(erp_orders.c.order_id == order_id)).one_or_none()
    crm = conn.execute(select(crm_deals).where(crm_deals.c.order_id == order_id)).one_or_none()
    notes = conn.execute(select(crm_notes).where(crm_notes.c.order_id == order_id).order_by(crm_notes.c.occurred_at,
                                                                                            crm_notes.c.id)).all()
    return {"erp": erp._asdict() if erp else None, "crm": crm._asdict() if crm else None,
            "notes": [n._asdict() for n in notes]}


def order_timeline(conn: Connection, detail: dict[str, Any]) -> list[Step]:
    order_id, channel = detail["id"], detail["channel"]
    steps = [Step(detail["placed_at"], channel, f"order {detail['number']} placed, {_fmt(detail['total'])}")]
    steps += [Step(e["received_at"], e["channel"], f"{e['topic']} ({e['effect']})" + SOURCE_NOTES.get(e["source"], ""),
                   event_id=e["id"]) for e in detail["events"]]
    for p in detail["payments"]:
        steps.append(Step(p["occurred_at"], p["provider"], f"payment {p['external_id']} {p['status']}, "
                          f"{_fmt(p['amount'])}", state=p["status"]))
    for r in conn.execute(select(refunds).where(refunds.c.order_id == order_id).order_by(refunds.c.id)):
        steps.append(Step(iso(r.occurred_at or r.created_at), r.channel,
                          f"refund {r.external_id}, {_fmt(money(r.amount, r.currency))}"
                          + (f": {r.reason}" if r.reason else "")))
    for r in detail.get("returns", []):
        what = describe_lines(r["lines"])
        steps.append(Step(r["created_at"], r["channel"], f"return {r['name'] or r['external_id']} asked for"
                          + (f": {what}" if what else "")))
        if r["status"] != "requested":
            steps.append(Step(r["closed_at"] or r["updated_at"], r["channel"],
                              f"return {r['name'] or r['external_id']} {r['status']}"))
    for s in detail["shipments"]:
        for scan in s["events"] or []:
            where = f" at {scan['location']}" if scan.get("location") else ""
            steps.append(Step(_iso_text(scan.get("at")), s["carrier"], f"{s['tracking_number']}: {scan['status']}"
                              + (f", {scan['message']}" if scan.get("message") else "") + where))
        if s["pushed_at"]:
            steps.append(Step(s["pushed_at"], channel, f"tracking {s['tracking_number']} on the order"
                              + (f" ({s['push_ref']})" if s["push_ref"] else ""), state="ok"))
        elif s["push_error"]:
            steps.append(Step(None, channel, f"tracking {s['tracking_number']} not pushed: {s['push_error']}",
                              state="failed"))
    ex = exports(conn, order_id)
    if ex["erp"]:
        e = ex["erp"]
        name = e["name"] or e["sale_order_id"]
        what = f"sale order {name} ({e['ref']}), {e['state'] or 'draft'}" if name else f"no sale order yet ({e['ref']})"
        steps.append(Step(iso(e["updated_at"]), "erp", what + (f": {e['error']}" if e["error"] else ""),
                          state=e["status"]))
    if ex["crm"]:
        c = ex["crm"]
        steps.append(Step(iso(c["updated_at"]), "crm", f"deal {c['deal_id'] or '-'} stage {c['stage'] or '-'}, "
                          f"contact {c['contact_id'] or '-'}" + (f": {c['error']}" if c["error"] else ""),
                          state=c["status"]))
    for n in ex["notes"]:
        steps.append(Step(iso(n["occurred_at"]), "crm", f"note ({n['kind']}): {n['body']}"
                          + (f": {n['error']}" if n["error"] else ""), state=n["status"]))
    return sorted(steps, key=lambda s: s.at or "")


def _iso_text(value: str | None) -> str | None:
    """A scan's time as stored (ISO with an offset) in the same UTC ISO form as the rest."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value
    return iso(at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC))
