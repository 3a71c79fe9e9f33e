"""Stock per SKU against every sales channel, for the console's stock page: the hub's levels, what
it publishes there (``domain.ledger.targets``: available less the buffer, plus what the channel's own
pending orders will still take by themselves), what it believes each channel shows
(``domain.ledger.shown_by_channel``), its last write, the channel's last report and the last
reconcile's reading and drift (the rows ``GET /api/stock/drift`` and ``jobs.reconcile`` use)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from connectors import SALES_KINDS
from domain import ledger
from store.deliveries import iso
from store.models import channel_stock, stock_levels, stock_sync

from .state import Hub


def stock_overview(conn: Connection, policy: ledger.StockPolicy, channels: list[str], *, prefix: str | None = None,
                   attention: bool = False, after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Per SKU (in SKU order, from ``after``): the hub's levels, and per channel what the hub
    publishes now, what it believes the channel shows, its last write, the channel's own last
    report and the last reconcile's reading with its drift. ``attention``: only SKUs with drift
    or a push owed."""
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
        uncounted: set[str] = set()
        published = ledger.targets(conn, policy, ch, skus, uncounted)  # what the hub writes there
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
                # None: never counted, nothing is published (it waits for a count)
                "published": None if s in uncounted else published[s], "shows": shows.get(s),
                "reported": reported.get(s),
                "would_write": row.shadow if row else None,  # push: shadow: what the last push would have written
                "pushed": row.pushed if row else None, "pushed_at": iso(row.pushed_at) if row else None,
                "read": row.read_quantity if row else None, "read_at": iso(row.read_at) if row else None,
                "drift": row.drift if row else None, "pending_push": bool(row and row.dirty),
                # the reading still what the hub knows the channel shows (no write or later reading since)
                "drift_current": bool(row and row.read_at and (row.believed_at is None
                                                               or row.believed_at <= row.read_at)),
                "unlisted": bool(row and row.unlisted)}
    return [out[s] for s in skus]


def sales_channels(hub: Hub) -> list[str]:
    """The channels stock is published to or reported from (Shopify and WooCommerce ones)."""
    return sorted(cid for cid, ch in hub.config.channels.items() if ch.kind in SALES_KINDS)
