"""Stock API under /api (admin token): ERP snapshots in, oversell alerts and channel drift out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from sqlalchemy import Connection, select

from domain.snapshot import SnapshotError, parse_json_lines
from hub.state import current_hub
from jobs.snapshot import apply_snapshot
from store.deliveries import iso
from store.models import alerts, stock_sync

from .admin import require_token
from .schemas import AlertsQuery, DriftQuery, load_query

bp = Blueprint("stock", __name__, url_prefix="/api")
bp.before_request(require_token)


@bp.post("/stock/snapshot")
def stock_snapshot():  # noqa: ANN201
    """JSON lines ``{"sku", "warehouse", "on_hand"}``: each sets on_hand; all lines or none.
    ---
    post:
      summary: Set on_hand from an ERP or warehouse count
      tags: [stock]
      requestBody:
        required: true
        description: 'JSON lines, one count a line: {"sku": "A-1", "warehouse": "main", "on_hand": 5}
          (warehouse defaults to the default warehouse). Every line is checked before anything is written.'
        content:
          application/x-ndjson: {schema: {type: string}}
      responses:
        200: {description: Applied, content: {application/json: {schema: SnapshotResult}}}
        400: BadRequest
    """

    hub = current_hub()
    try:
        counts = parse_json_lines(request.get_data(as_text=True), hub.stock_policy.default_warehouse)
    except SnapshotError as exc:
        abort(400, description=str(exc))
    result = apply_snapshot(hub, counts)
    return {"lines": result.lines, "changed": result.changed, "oversold": result.oversold}


def list_alerts(conn: Connection, *, kind: str | None = None, include_resolved: bool = False,
                limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; open ones only unless ``include_resolved``."""
    q = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if kind:
        q = q.where(alerts.c.kind == kind)
    if not include_resolved:
        q = q.where(alerts.c.resolved_at.is_(None))
    return [{"id": a.id, "kind": a.kind, "key": a.key, "message": a.message, "detail": a.detail,
             "created_at": iso(a.created_at), "updated_at": iso(a.updated_at), "resolved_at": iso(a.resolved_at)}
            for a in conn.execute(q)]


@bp.get("/alerts")
def alerts_list():  # noqa: ANN201
    """Open alerts, newest first (``?all=1`` adds resolved ones); ``?kind=oversell`` filters.
    ---
    get:
      summary: List alerts
      tags: [stock]
      parameters: [{in: query, schema: AlertsQuery}]
      responses:
        200: {description: Alerts, content: {application/json: {schema: AlertList}}}
        400: BadRequest
    """
    args = load_query(AlertsQuery)
    with current_hub().engine.connect() as conn:
        return {"alerts": list_alerts(conn, kind=args.get("kind") or None, include_resolved=args["all"],
                                      limit=args["limit"])}


@bp.get("/stock/drift")
def stock_drift():  # noqa: ANN201
    """What the last reconcile found: per channel and SKU, the channel's reading minus what the
    hub published at that moment (``?channel=`` filters; ``?all=1`` includes SKUs with no drift).
    ---
    get:
      summary: Stock drift found by the last reconcile
      tags: [stock]
      parameters: [{in: query, schema: DriftQuery}]
      responses:
        200: {description: Drift per channel and SKU, content: {application/json: {schema: DriftList}}}
        400: BadRequest
    """
    args = load_query(DriftQuery)
    q = select(stock_sync).where(stock_sync.c.read_at.is_not(None)).order_by(stock_sync.c.channel, stock_sync.c.sku)
    if args.get("channel"):
        q = q.where(stock_sync.c.channel == args["channel"])
    if not args["all"]:
        q = q.where(stock_sync.c.drift != 0)
    with current_hub().engine.connect() as conn:
        rows = conn.execute(q.limit(args["limit"])).all()
    return {"drift": [{"channel": r.channel, "sku": r.sku, "read": r.read_quantity, "drift": r.drift,
                       "published": None if r.read_quantity is None else r.read_quantity - (r.drift or 0),
                       "read_at": iso(r.read_at), "pending_push": r.dirty} for r in rows]}
