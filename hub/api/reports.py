"""Reports under /api (admin token): the carrier SLA report.

A shipment is on time when it was delivered on or before the day it was promised (the carrier's
own estimate when its webhook gave one, else ``carrier_sla_days`` from shipping); late when it
was delivered after it, or is still on its way past it (``overdue``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection, select

from hub.state import current_hub
from store.deliveries import iso, utcnow
from store.models import orders, shipments

from .admin import require_token
from .schemas import CarriersQuery, load_query

bp = Blueprint("reports", __name__, url_prefix="/api/reports")
bp.before_request(require_token)


def _late(promised: datetime | None, delivered: datetime | None, now: datetime) -> bool | None:
    """True late, False on time, None: not judged yet (no promise, or not delivered and not past it)."""
    if promised is None:
        return None
    if delivered is not None:
        return delivered.date() > promised.date()
    return True if now.date() > promised.date() else None


def carrier_report(rows: list[Any], now: datetime) -> list[dict[str, Any]]:
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = by.setdefault(r.carrier, {"carrier": r.carrier, "shipments": 0, "delivered": 0, "on_time": 0, "late": 0,
                                      "overdue": 0, "on_time_rate": None, "late_shipments": []})
        c["shipments"] += 1
        c["delivered"] += r.delivered_at is not None
        late = _late(r.promised_at, r.delivered_at, now)
        if late is False:
            c["on_time"] += 1
        elif late:
            c["late" if r.delivered_at else "overdue"] += 1
            c["late_shipments"].append({
                "id": r.id, "tracking_number": r.tracking_number, "status": r.status, "order_id": r.order_id,
                "order_number": r.number, "shipped_at": iso(r.shipped_at), "promised_at": iso(r.promised_at),
                "promised_by": r.promised_by, "delivered_at": iso(r.delivered_at),
                "days_late": ((r.delivered_at or now).date() - r.promised_at.date()).days})
    for c in by.values():
        judged = c["on_time"] + c["late"]
        c["on_time_rate"] = round(c["on_time"] / judged, 4) if judged else None
    return [by[k] for k in sorted(by)]


def carrier_sla(conn: Connection, *, carrier: str | None = None, since: datetime | None = None,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """The carrier report over the shipments created from ``since`` (all when None)."""
    q = (select(shipments.c.id, shipments.c.carrier, shipments.c.tracking_number, shipments.c.status,
                shipments.c.order_id, shipments.c.shipped_at, shipments.c.promised_at, shipments.c.promised_by,
                shipments.c.delivered_at, orders.c.number)
         .outerjoin(orders, orders.c.id == shipments.c.order_id).order_by(shipments.c.id))
    if carrier:
        q = q.where(shipments.c.carrier == carrier.lower())
    if since is not None:
        q = q.where(shipments.c.created_at >= since)
    return carrier_report(conn.execute(q).all(), now or utcnow())


def parse_since(raw: str) -> datetime:
    """An ISO date or time; a naive one is UTC. Raises ValueError."""
    since = datetime.fromisoformat(raw)
    return since if since.tzinfo else since.replace(tzinfo=UTC)


@bp.get("/carriers")
def carriers():  # noqa: ANN201
    """Per carrier: shipments, delivered, on_time, late (delivered after the promise), overdue (not
    delivered, past it), on_time_rate (on_time / (on_time + late)) and the late shipments.
    ``?carrier=`` filters; ``?since=`` (ISO date) counts shipments created from then.
    ---
    get:
      summary: Carrier SLA report
      tags: [reports]
      parameters: [{in: query, schema: CarriersQuery}]
      responses:
        200: {description: One entry per carrier, content: {application/json: {schema: CarrierReportList}}}
        400: BadRequest
    """
    args = load_query(CarriersQuery)
    with current_hub().engine.connect() as conn:
        return {"carriers": carrier_sla(conn, carrier=args.get("carrier") or None, since=args.get("since"))}
