"""Stock API under /api (admin token): ERP snapshots in, oversell alerts and channel drift out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, request
from sqlalchemy import Connection, or_, select

from .admin import int_arg, require_token
from .config import SALES_KINDS
from .models import alerts, channel_stock, stock_levels, stock_sync
from .state import Hub, current_hub
from .store import iso

if TYPE_CHECKING:
    from jobs.ledger import StockPolicy

bp = Blueprint("stock", __name__, url_prefix="/api")
bp.before_request(require_token)


def stock_overview(conn: Connection, policy: StockPolicy, channels: list[str], *, prefix: str | None = None,
                   attention: bool = False, after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Per SKU (in SKU order, from ``after``): the hub's levels, and per channel what the hub
    publishes now, what it believes the channel shows, its last write, the channel's own last
    report and the last reconcile's reading with its drift. ``attention``: only SKUs with drift
    or a push owed."""
    from jobs import ledger

    if attention:
        q = select(stock_sync.c.sku).where(or_(stock_sync.c.drift != 0, stock_sync.c.dirty.is_(True))).distinct()
        col = stock_sync.c.sku
    else:
        q = select(stock_levels.c.sku).distinct()
        col = stock_levels.c.sku
    if prefix:
        q = q.where(col.startswith(prefix, autoescape=True))
    if after:
        q = q.where(col > after)
    skus = list(conn.execute(q.order_by(col).limit(limit)).scalars())
    if not skus:
        return []
    levels: dict[str, dict[str, int]] = {s: {"on_hand": 0, "committed": 0} for s in skus}
    for r in conn.execute(select(stock_levels).where(stock_levels.c.sku.in_(skus))):
        levels[r.sku]["on_hand"] += r.on_hand
        levels[r.sku]["committed"] += r.committed
    out = {s: {"sku": s, **levels[s], "available": levels[s]["on_hand"] - levels[s]["committed"], "channels": {}}
           for s in skus}
    for ch in channels:
        published = ledger.published(conn, policy, ch, skus)
        sync = {r.sku: r for r in conn.execute(select(stock_sync).where(stock_sync.c.channel == ch,
                                                                        stock_sync.c.sku.in_(skus)))}
        shows = ledger.shown_by_channel(conn, ch, sync)
        reported: dict[str, int] = {}
        for r in conn.execute(select(channel_stock).where(channel_stock.c.channel == ch,
                                                          channel_stock.c.sku.in_(skus))):
            reported[r.sku] = reported.get(r.sku, 0) + r.quantity
        for s in skus:
            row = sync.get(s)
            out[s]["channels"][ch] = {
                "published": published[s], "shows": shows.get(s), "reported": reported.get(s),
                "pushed": row.pushed if row else None, "pushed_at": iso(row.pushed_at) if row else None,
                "read": row.read_quantity if row else None, "read_at": iso(row.read_at) if row else None,
                "drift": row.drift if row else None, "pending_push": bool(row and row.dirty),
                "unlisted": bool(row and row.unlisted)}
    return [out[s] for s in skus]


def sales_channels(hub: Hub) -> list[str]:
    """The channels stock is published to or reported from (Shopify and WooCommerce ones)."""
    return sorted(cid for cid, ch in hub.config.channels.items() if ch.kind in SALES_KINDS)


@bp.get("/stock/overview")
def stock_overview_api():  # noqa: ANN201
    """Per SKU, the hub's levels against every sales channel (``?q=`` SKU prefix, ``?attention=1``
    only drifted or pending SKUs, ``?after=`` the last SKU of the previous page)."""
    hub = current_hub()
    limit = int_arg("limit", 100) or 100
    with hub.engine.connect() as conn:
        rows = stock_overview(conn, hub.stock_policy, sales_channels(hub), prefix=request.args.get("q") or None,
                              attention=request.args.get("attention") in ("1", "true"),
                              after=request.args.get("after") or None, limit=min(limit, 500))
    return {"skus": rows, "next_after": rows[-1]["sku"] if len(rows) == min(limit, 500) else None}


@bp.post("/stock/snapshot")
def stock_snapshot():  # noqa: ANN201
    """JSON lines ``{"sku", "warehouse", "on_hand"}``: each sets on_hand; all lines or none."""
    from jobs.snapshot import SnapshotError, apply_snapshot, parse_json_lines

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
    """Open alerts first (``?all=1`` adds resolved ones); ``?kind=oversell`` filters."""
    with current_hub().engine.connect() as conn:
        return {"alerts": list_alerts(conn, kind=request.args.get("kind") or None,
                                      include_resolved=request.args.get("all") in ("1", "true"),
                                      limit=int_arg("limit", 100) or 100)}


def drift_rows(conn: Connection, *, channel: str | None = None, include_zero: bool = False,
               limit: int = 1000) -> list[dict[str, Any]]:
    """The last reconcile's readings per (channel, SKU): read, drift, what was published then."""
    q = select(stock_sync).where(stock_sync.c.read_at.is_not(None)).order_by(stock_sync.c.channel, stock_sync.c.sku)
    if channel:
        q = q.where(stock_sync.c.channel == channel)
    if not include_zero:
        q = q.where(stock_sync.c.drift != 0)
    return [{"channel": r.channel, "sku": r.sku, "read": r.read_quantity, "drift": r.drift,
             "published": None if r.read_quantity is None else r.read_quantity - (r.drift or 0),
             "read_at": iso(r.read_at), "pending_push": r.dirty} for r in conn.execute(q.limit(limit))]


@bp.get("/stock/drift")
def stock_drift():  # noqa: ANN201
    """What the last reconcile found: per channel and SKU, the channel's reading minus what the
    hub published at that moment (``?channel=`` filters; ``?all=1`` includes SKUs with no drift)."""
    with current_hub().engine.connect() as conn:
        rows = drift_rows(conn, channel=request.args.get("channel") or None,
                          include_zero=request.args.get("all") in ("1", "true"), limit=int_arg("limit", 1000) or 1000)
    return {"drift": rows}
