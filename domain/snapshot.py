"""ERP / warehouse stock snapshots: counts that set ``on_hand``, all lines or none.

Accepted as JSON lines (``{"sku": "A", "warehouse": "main", "on_hand": 5}`` per line, from
``POST /api/stock/snapshot``) or CSV with the header ``sku,warehouse,on_hand`` (``hub stock
import FILE.csv``). Every line is checked before anything is written; errors name the line.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from sqlalchemy import Connection

from mappings.canonical import MovementReason

from . import ledger

CSV_HEADER = ["sku", "warehouse", "on_hand"]
MAX_ON_HAND = 2**31 - 1  # stock_levels.on_hand is a 32-bit INTEGER
MAX_SKU, MAX_WAREHOUSE = 128, 64  # their column lengths


class SnapshotError(ValueError):
    """The snapshot cannot be applied; the message names every bad line."""


@dataclass(frozen=True)
class Count:
    sku: str
    warehouse: str
    on_hand: int


def _count(raw: object, lineno: int, default_warehouse: str, seen: set[tuple[str, str]]) -> Count:
    if not isinstance(raw, dict):
        raise SnapshotError(f"line {lineno}: expected an object with sku, warehouse, on_hand")
    sku = str(raw.get("sku") or "").strip()
    warehouse = str(raw.get("warehouse") or default_warehouse).strip()
    value = raw.get("on_hand")
    if not sku:
        raise SnapshotError(f"line {lineno}: sku is required")
    if len(sku) > MAX_SKU or len(warehouse) > MAX_WAREHOUSE or "\x00" in sku + warehouse:
        raise SnapshotError(f"line {lineno}: sku (at most {MAX_SKU} characters) or warehouse (at most "
                            f"{MAX_WAREHOUSE}) too long or with a NUL character")
    try:
        on_hand = int(str(value).strip()) if value is not None and str(value).strip() != "" else None
    except ValueError:
        on_hand = None
    if on_hand is None or not 0 <= on_hand <= MAX_ON_HAND or (isinstance(value, float) and not value.is_integer()):
        raise SnapshotError(f"line {lineno}: on_hand must be a whole number >= 0, at most {MAX_ON_HAND} "
                            f"(got {value!r})")
    if (sku, warehouse) in seen:
        raise SnapshotError(f"line {lineno}: {sku} at {warehouse} is counted twice")
    seen.add((sku, warehouse))
    return Count(sku, warehouse, on_hand)


def _collect(items: list[tuple[int, object]], default_warehouse: str) -> list[Count]:
    counts, errors, seen = [], [], set()
    for lineno, raw in items:
        try:
            counts.append(_count(raw, lineno, default_warehouse, seen))
        except SnapshotError as exc:
            errors.append(str(exc))
    if errors:
        raise SnapshotError("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    if not counts:
        raise SnapshotError("the snapshot has no lines")
    return counts


def parse_json_lines(text: str, default_warehouse: str) -> list[Count]:
    items: list[tuple[int, object]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"line {lineno}: not JSON: {exc.msg}") from None
    return _collect(items, default_warehouse)


def parse_csv(text: str, default_warehouse: str) -> list[Count]:
    reader = csv.DictReader(io.StringIO(text))
    if [h.strip() for h in (reader.fieldnames or [])] != CSV_HEADER:
        raise SnapshotError(f"line 1: header must be exactly: {','.join(CSV_HEADER)}")
    return _collect([(n, row) for n, row in enumerate(reader, start=2)], default_warehouse)


@dataclass
class SnapshotResult:
    lines: int
    changed: int
    oversold: list[str]


def set_counts(conn: Connection, touch: ledger.StockTouch, policy: ledger.StockPolicy, counts: list[Count]) -> int:
    """The snapshot rule, in the caller's transaction: each count sets on_hand (``erp_snapshot``), then the
    oversell alerts and the pushes owed (``touch.dirty_channels``, for the caller to schedule after its
    commit). Returns how many counts changed on_hand."""
    changed = 0
    for c in counts:
        changed += bool(ledger.set_on_hand(conn, touch, c.sku, c.warehouse, c.on_hand, MovementReason.ERP_SNAPSHOT))
    ledger.finish(conn, touch, policy)
    return changed
