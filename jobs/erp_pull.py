"""Pulls from the ERP (Odoo): done deliveries and stock counts, each followed by a cursor kept in the store.

``pull_deliveries``: every done outgoing delivery of a sale order the hub made (found by its
``client_order_ref``, the order's ``erp_orders.ref``) ships what the order holds committed
(``ledger.ship_order_stock``) and, when it carries a tracking reference, becomes the order's shipment
(``shipments.erp_delivery``), whose tracking is then pushed to the channel the order came from.
``pull_quants``: the SKUs whose quants changed are counted again over the ERP's internal locations,
summed per hub warehouse (``erp.locations``) and set as ``on_hand`` by the snapshot rule
(``snapshot.set_counts``: ``erp_snapshot`` movements, oversell alerts, pushes to the channels).

A pull reads the changes after its cursor (``pull_cursors``), applies them and stores the new cursor in
one transaction: a crash before the commit reads the same changes again, and applying them again changes
nothing. Odoo reads ``write_date`` back to the second, so the stored cursor keeps that second but not the
ids seen in it: the next pull reads the second again (no-ops), and a record written twice within one
second is never missed. One pull of each kind runs at a time (a Redis lock; a second one returns 0).
Run by ``hub scheduler`` every ``erp.pull_interval_s`` (``pull_erp``: deliveries, then quants) and by
``hub erp pull``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from connectors.odoo.client import Cursor, OdooClient
from domain import ledger
from domain.orders import raise_alert, resolve_alert
from domain.outcome import Outcome
from domain.shipments import erp_delivery, find_shipment
from domain.snapshot import Count, set_counts
from hub.config import ErpConfig
from hub.state import Hub, current_hub
from jobs.queueing import HeldLock, erp_pull_lock_key
from store.deliveries import insert_ignore, utcnow
from store.models import erp_orders, pull_cursors, stock_levels

from .fanout import Owed, owe, owing

logger = logging.getLogger(__name__)

DELIVERIES_CURSOR = "erp:deliveries"
QUANTS_CURSOR = "erp:quants"  # + ":<hash of erp.locations>": a new mapping counts everything afresh
STOCK_ALERT = "erp_stock"  # a count the ledger cannot take (fractional, negative)
LOCATION_ALERT = "erp_location"  # an ERP location erp.locations does not map: its stock is not counted
UNKNOWN_CARRIER = "unknown"


# ---- jobs ------------------------------------------------------------------------------------------------

def pull_deliveries() -> int:
    """RQ job / ``hub erp pull --deliveries``: apply the ERP's done deliveries since the last pull;
    returns how many changed something (stock shipped, a shipment created or tied to its order)."""
    hub = current_hub()
    if hub.config.erp is None:
        return 0
    with _exclusive(hub, "deliveries") as mine:
        return apply_deliveries(hub, erp_client(hub.config.erp)) if mine else 0


def pull_quants() -> int:
    """RQ job / ``hub erp pull --quants``: set on_hand from the ERP's counts changed since the last pull;
    returns how many (SKU, warehouse) levels changed."""
    hub = current_hub()
    if hub.config.erp is None:
        return 0
    with _exclusive(hub, "quants") as mine:
        return apply_quants(hub, erp_client(hub.config.erp)) if mine else 0


def pull_erp() -> dict[str, int]:
    """The scheduled pull: deliveries first, then the counts. In that order a delivery is never counted
    twice: every one the first pull ships is already out of the counts the second reads."""
    return {"deliveries": pull_deliveries(), "quants": pull_quants()}


def erp_client(erp: ErpConfig) -> OdooClient:
    return OdooClient(erp.url, erp.db, erp.login, erp.api_key, erp.timeout_s)


@contextmanager
def _exclusive(hub: Hub, kind: str) -> Iterator[bool]:
    lock = HeldLock(hub.redis.client, erp_pull_lock_key(kind), blocking=False)
    mine = lock.acquire()
    if not mine:
        logger.info("erp pull already running", extra={"pull": kind})
    try:
        yield mine
    finally:
        if mine:
            lock.release()


# ---- cursors ---------------------------------------------------------------------------------------------

def read_cursor(conn: Connection, name: str) -> str | None:
    return conn.execute(select(pull_cursors.c.value).where(pull_cursors.c.name == name)).scalar()


def write_cursor(conn: Connection, name: str, value: str | None) -> None:
    if value is None:
        return
    now = utcnow()
    insert_ignore(conn, pull_cursors, {"name": name, "value": value, "updated_at": now})
    conn.execute(pull_cursors.update().where(pull_cursors.c.name == name).values(value=value, updated_at=now))


def settled(cursor: str | None) -> str | None:
    """The cursor to keep: its second without the ids seen in it (that second is read again next time)."""
    cur = Cursor.decode(cursor)
    return Cursor(cur.second, ()).encode() if cur else None


def quants_cursor_name(locations: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(locations.items())).encode()).hexdigest()[:12]
    return f"{QUANTS_CURSOR}:{digest}"


# ---- deliveries ------------------------------------------------------------------------------------------

def apply_deliveries(hub: Hub, client: OdooClient) -> int:
    with hub.engine.connect() as conn:
        cursor = read_cursor(conn, DELIVERIES_CURSOR)
    rows, new_cursor = client.done_deliveries(cursor)
    out = Outcome(hub.stock_policy, rules=hub.order_rules)
    with owing(hub) as conn:
        wanted = sorted({r["sale_order_ref"] for r in rows if r["sale_order_ref"]})
        by_ref = dict(conn.execute(select(erp_orders.c.ref, erp_orders.c.order_id)
                                   .where(erp_orders.c.ref.in_(wanted))).all()) if wanted else {}
        applied = sum(apply_delivery(conn, out, by_ref.get(r["sale_order_ref"]), r) for r in rows)
        if out.touch.skus:
            ledger.finish(conn, out.touch, out.policy)
        write_cursor(conn, DELIVERIES_CURSOR, settled(new_cursor))
        owe(conn, Owed.of(hub, out))
    # a pull that changed nothing is not news: every erp_pull_interval_s it would be a line
    logger.log(logging.INFO if applied else logging.DEBUG, "erp deliveries pulled",
               extra={"read": len(rows), "applied": applied})
    return applied


def apply_delivery(conn: Connection, out: Outcome, order_id: int | None, row: dict[str, Any]) -> bool:
    """One done delivery, in the caller's transaction; True if it changed anything."""
    what = f"{row['picking']} ({row['sale_order']}, ref {row['sale_order_ref']})"
    if order_id is None:
        logger.info("erp delivery of a sale order the hub did not make: skipped", extra={"delivery": what})
        return False
    shipped = ledger.ship_order_stock(conn, out.touch, order_id, _units(row["shipped"]))
    tracking = (row["tracking_ref"] or "").strip()
    if not tracking:
        logger.info("erp delivery done without a tracking reference: nothing to send the shopper",
                    extra={"delivery": what, "order_id": order_id})
        return bool(shipped)
    carrier = (row["carrier"] or UNKNOWN_CARRIER).strip()
    before = find_shipment(conn, carrier.lower(), tracking, lock=False)
    erp_delivery(conn, out, order_id, tracking, carrier, row["date_done"], _units(row["lines"]) or None)
    new = before is None or before.order_id != order_id
    if new or shipped:
        out.notes.append(f"{what}: {carrier} {tracking}" + (f"; {', '.join(shipped)}" if shipped else ""))
    return bool(new or shipped)


def _units(quantities: dict[str, Decimal]) -> dict[str, int]:
    """Whole units per SKU (a fraction of a unit never left as a unit)."""
    return {sku: int(qty) for sku, qty in quantities.items() if int(qty) > 0}


# ---- stock counts ----------------------------------------------------------------------------------------

def apply_quants(hub: Hub, client: OdooClient) -> int:
    erp = hub.config.erp
    assert erp is not None
    name = quants_cursor_name(erp.locations)
    with hub.engine.connect() as conn:
        cursor = read_cursor(conn, name)
    changes, new_cursor = client.stock_quants(cursor)
    skus = sorted({c["sku"] for c in changes})
    quants = client.quants_of(skus) if skus else []
    default = hub.stock_policy.default_warehouse
    totals, unmapped = warehouse_totals(skus, quants, erp.locations, default)
    fed = tuple(sorted(set(erp.locations.values()) or {default}))
    touch = ledger.StockTouch()
    with hub.engine.begin() as conn:
        counts = _counts(conn, skus, fed, totals)
        changed = set_counts(conn, touch, hub.stock_policy, counts)
        for location in sorted({q["location"] for q in quants} - set(unmapped)):
            resolve_alert(conn, LOCATION_ALERT, location)
        for location in sorted(unmapped):
            raise_alert(conn, LOCATION_ALERT, location, f"ERP location {location} is not in erp.locations: its "
                        "stock is not counted", {"location": location, "skus": sorted(unmapped[location])[:50]})
        write_cursor(conn, name, settled(new_cursor))
    for channel in sorted(touch.dirty_channels):  # committed: push what the counts changed
        hub.queues.schedule_push(channel)
    logger.log(logging.INFO if changed else logging.DEBUG, "erp stock pulled",
               extra={"skus": len(skus), "counts": len(counts), "changed": changed})
    return changed


def warehouse_of(location: str, locations: dict[str, str], default: str) -> str | None:
    """The hub warehouse an ERP location counts for: the longest mapped location it is (or is under);
    with no mapping, every internal location counts for the default warehouse."""
    if not locations:
        return default
    best = max((p for p in locations if location == p or location.startswith(p + "/")), key=len, default=None)
    return locations[best] if best is not None else None


def warehouse_totals(skus: list[str], quants: list[dict[str, Any]], locations: dict[str, str],
                     default: str) -> tuple[dict[tuple[str, str], Decimal], dict[str, set[str]]]:
    """({(sku, warehouse): quantity summed over its locations}, {unmapped location: its skus})."""
    totals: dict[tuple[str, str], Decimal] = {}
    unmapped: dict[str, set[str]] = {}
    for q in quants:
        warehouse = warehouse_of(q["location"], locations, default)
        if warehouse is None:
            unmapped.setdefault(q["location"], set()).add(q["sku"])
            continue
        totals[(q["sku"], warehouse)] = totals.get((q["sku"], warehouse), Decimal(0)) + q["quantity"]
    return totals, unmapped


def _counts(conn: Connection, skus: list[str], fed: tuple[str, ...],
            totals: dict[tuple[str, str], Decimal]) -> list[Count]:
    """The counts to set: every changed SKU at every warehouse the ERP feeds where it has stock or a level
    (a SKU whose quants are gone counts 0). A count the ledger cannot hold (negative, fractional) is not
    set: it opens an ``erp_stock`` alert, closed by the next count that fits."""
    levels = {(r.sku, r.warehouse) for r in conn.execute(select(stock_levels.c.sku, stock_levels.c.warehouse).where(
        stock_levels.c.sku.in_(skus), stock_levels.c.warehouse.in_(fed)))} if skus else set()
    counts = []
    for sku in skus:
        for warehouse in fed:
            qty = totals.get((sku, warehouse), Decimal(0))
            key = f"{sku}@{warehouse}"
            if qty < 0 or qty != qty.to_integral_value():
                shown = format(qty.normalize(), "f")
                raise_alert(conn, STOCK_ALERT, key, f"ERP count of {sku} at {warehouse} is {shown}: on_hand must be "
                            "a whole number >= 0; not applied", {"sku": sku, "warehouse": warehouse,
                                                                 "quantity": shown})
                continue
            resolve_alert(conn, STOCK_ALERT, key)
            if qty or (sku, warehouse) in levels:  # no level made for nothing
                counts.append(Count(sku, warehouse, int(qty)))
    return counts


def shipment_from_erp(conn: Connection, order_id: int, tracking_ref: str, carrier: str,
                      date_done: datetime | None, hub: Hub | None = None) -> int:
    """A done ERP delivery: the order's shipment by ``tracking_ref`` (created or updated) and, once
    the caller's transaction (``fanout.owing``) commits, its ``push_tracking`` job (and the ERP/CRM jobs it
    owes). Returns the shipment id."""
    hub = hub or current_hub()
    out = Outcome(hub.stock_policy, rules=hub.order_rules)
    change = erp_delivery(conn, out, order_id, tracking_ref, carrier, date_done)
    if out.touch.skus:
        ledger.finish(conn, out.touch, out.policy)
    owe(conn, Owed.of(hub, out))
    return change.id
