"""Links (bindings): which id a hub SKU or warehouse has in each channel.

Rows come from ``hub links import FILE.csv``, ``POST /api/links`` and product webhooks. Adding a
link resumes, by itself, every event parked ``needs_mapping`` for want of it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select

from .deliveries import utcnow
from .models import location_links, parked, sku_links

CSV_HEADER = ["sku", "channel", "product_id", "variant_id", "inventory_item_id", "location_id", "warehouse"]


class LinkError(ValueError):
    """A link that cannot be stored; the message says which row and why."""


@dataclass(frozen=True)
class Link:
    channel: str
    sku: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    inventory_item_id: str | None = None
    location_id: str | None = None
    warehouse: str | None = None
    title: str | None = None

    def check(self) -> None:
        if not self.channel:
            raise LinkError("channel is required")
        if self.sku and not (self.product_id or self.variant_id or self.inventory_item_id):
            raise LinkError("a SKU link needs at least one of product_id, variant_id, inventory_item_id")
        if (self.location_id or self.warehouse) and not (self.location_id and self.warehouse):
            raise LinkError("a location link needs both location_id and warehouse")
        if not self.sku and not self.location_id:
            raise LinkError("nothing to link: give a sku (with channel ids) or a location_id with a warehouse")


class StoreLinks:
    """The mappers' LinkLookup, answered from the store inside the caller's transaction."""

    def __init__(self, conn: Connection, locations: dict[str, dict[str, str]] | None = None) -> None:
        self.conn = conn
        self.locations = locations or {}  # from the config (channels.<id>.locations), ahead of stored links

    def sku_for(self, channel: str, *, inventory_item_id: str | None = None, product_id: str | None = None,
                variant_id: str | None = None) -> str | None:
        q = select(sku_links.c.sku).where(sku_links.c.channel == channel)
        if inventory_item_id:
            q = q.where(sku_links.c.inventory_item_id == inventory_item_id)
        elif variant_id:
            q = q.where(sku_links.c.variant_id == variant_id)
        elif product_id:  # a simple product (no variants) or a Woo variation id given as the item
            q = q.where(or_(and_(sku_links.c.product_id == product_id, sku_links.c.variant_id.is_(None)),
                            sku_links.c.variant_id == product_id))
        else:
            return None
        return self.conn.execute(q.limit(1)).scalar()

    def warehouse_for(self, channel: str, location_id: str | None) -> str | None:
        if location_id is None:
            return None
        if location_id in self.locations.get(channel, {}):
            return self.locations[channel][location_id]
        return self.conn.execute(select(location_links.c.warehouse).where(
            location_links.c.channel == channel, location_links.c.location_id == location_id)).scalar()


def upsert_link(conn: Connection, link: Link) -> list[tuple[str, str, str]]:
    """Store one link; returns the (channel, missing, key) it can resolve for parked events."""
    link.check()
    now = utcnow()
    resolves: list[tuple[str, str, str]] = []
    if link.sku:
        values = {"product_id": link.product_id, "variant_id": link.variant_id,
                  "inventory_item_id": link.inventory_item_id, "updated_at": now}
        if link.title:
            values["title"] = link.title
        done = conn.execute(sku_links.update().where(sku_links.c.channel == link.channel,
                                                     sku_links.c.sku == link.sku).values(**values)).rowcount
        if not done:
            conn.execute(sku_links.insert().values(channel=link.channel, sku=link.sku, **values))
        for key, value in (("inventory_item_id", link.inventory_item_id), ("product_id", link.product_id),
                           ("product_id", link.variant_id)):
            if value:
                resolves.append((link.channel, key, value))
    if link.location_id:
        done = conn.execute(location_links.update().where(
            location_links.c.channel == link.channel, location_links.c.location_id == link.location_id
        ).values(warehouse=link.warehouse)).rowcount
        if not done:
            conn.execute(location_links.insert().values(channel=link.channel, location_id=link.location_id,
                                                        warehouse=link.warehouse))
        resolves.append((link.channel, "location_id", link.location_id))
    return resolves


def release_parked(conn: Connection, resolves: list[tuple[str, str, str]]) -> list[int]:
    """Events parked for any of ``resolves``: their park rows are removed and their ids returned
    (the caller queues them once the transaction commits)."""
    ids: set[int] = set()
    for channel, missing, key in resolves:
        cond = and_(parked.c.channel == channel, parked.c.missing == missing, parked.c.key == key)
        ids.update(conn.execute(select(parked.c.event_id).where(cond)).scalars())
        conn.execute(delete(parked).where(cond))
    return sorted(ids)


def add_links(engine: Engine, links: list[Link], resume: Callable[[int], object]) -> list[int]:
    """Store ``links`` in one transaction (all or none) and, after the commit, ``resume`` every parked event they
    resolve (the hub queues it); -> those events' ids. Raises ``LinkError`` for a link that cannot be stored."""
    with engine.begin() as conn:
        resolves = [r for link in links for r in upsert_link(conn, link)]
        resumed = release_parked(conn, resolves)
    for event_id in resumed:  # after the commit: the links they wait for are now visible
        resume(event_id)
    return resumed


def parse_csv(text: str, known_channels: set[str]) -> list[Link]:
    """Every row validated before anything is written; errors name the line numbers."""
    reader = csv.DictReader(io.StringIO(text))
    if [h.strip() for h in (reader.fieldnames or [])] != CSV_HEADER:
        raise LinkError(f"line 1: header must be exactly: {','.join(CSV_HEADER)}")
    links, errors = [], []
    for lineno, row in enumerate(reader, start=2):
        values = {k: (row.get(k) or "").strip() or None for k in CSV_HEADER}
        link = Link(**{k: v for k, v in values.items()})  # type: ignore[arg-type]
        try:
            if link.channel not in known_channels:
                raise LinkError(f"unknown channel {link.channel!r}")
            link.check()
        except LinkError as exc:
            errors.append(f"line {lineno}: {exc}")
            continue
        links.append(link)
    if errors:
        raise LinkError("; ".join(errors))
    if not links:
        raise LinkError("the file has no rows")
    return links


def list_links(conn: Connection, channel: str | None = None, sku: str | None = None) -> dict[str, list[dict[str, Any]]]:
    sq = select(sku_links).order_by(sku_links.c.channel, sku_links.c.sku)
    lq = select(location_links).order_by(location_links.c.channel, location_links.c.location_id)
    if channel:
        sq, lq = sq.where(sku_links.c.channel == channel), lq.where(location_links.c.channel == channel)
    if sku:
        sq = sq.where(sku_links.c.sku == sku)
    skus = [{k: r._mapping[k] for k in ("channel", "sku", "product_id", "variant_id", "inventory_item_id", "title")}
            for r in conn.execute(sq)]
    locations = [{k: r._mapping[k] for k in ("channel", "location_id", "warehouse")} for r in conn.execute(lq)]
    return {"skus": skus, "locations": locations}
