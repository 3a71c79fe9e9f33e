"""What applying one event's records leaves behind, and the store rules every record shares.

``Outcome`` collects what the records owe once the transaction commits (pushes, exports, tracking, CRM
syncs, backfills) and what they could not do (links missing, stock reports held). ``upsert_guarded`` is
the one version-guarded upsert; ``record_effect`` notes what an event did to a record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select

from store.deliveries import utcnow
from store.models import event_records

from . import ledger
from .orders import OrderRules

_EVENT_RECORD = event_records.insert()


class NeedsMapping(Exception):
    def __init__(self, missing: list[tuple[str, str, str]], message: str) -> None:
        super().__init__(message)
        self.missing = missing  # (channel, what, key)


class HoldReport(Exception):  # noqa: N818 - an outcome, like NeedsMapping
    """A channel's stock report of (``channel``, ``sku``) the hub cannot explain yet: judged again after
    ``seconds``, or as soon as that channel's own order for the SKU lands."""

    def __init__(self, seconds: float, message: str, channel: str, sku: str) -> None:
        super().__init__(message)
        self.seconds, self.key = seconds, (channel, sku)


@dataclass
class Outcome:
    policy: ledger.StockPolicy
    rules: OrderRules = field(default_factory=OrderRules)
    tracking: set[tuple[int, str]] = field(default_factory=set)  # (shipment id, channel): pushes owed
    mark_paid: set[tuple[int, str]] = field(default_factory=set)  # (order id, channel): paid, the channel unaware
    failed_payments: set[tuple[int, str]] = field(default_factory=set)  # (payment id, channel): tell the shopper
    touch: ledger.StockTouch = field(default_factory=ledger.StockTouch)
    notes: list[str] = field(default_factory=list)
    resolves: list[tuple[str, str, str]] = field(default_factory=list)  # links added by this event
    missing: list[tuple[str, str, str]] = field(default_factory=list)  # links it waits for (parked)
    orders: set[int] = field(default_factory=set)  # orders changed: exported to the ERP/CRM after the commit
    crm: set[int] = field(default_factory=set)  # orders with new CRM notes owed: synced to the CRM after the commit
    hold_until: datetime | None = None  # an unexplained stock report may wait until then for its channel's orders
    held: float | None = None  # seconds a report of this event waits before it is judged again
    held_keys: list[tuple[str, str]] = field(default_factory=list)  # (channel, sku) of the reports held
    backfills: set[str] = field(default_factory=set)  # channels to read (after commit): SKUs there await it
    verify: set[tuple[str, str]] = field(default_factory=set)  # (channel, SKU) to reconcile (after commit)




def is_stale(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and incoming < stored


def record_effect(conn: Connection, event_id: int, kind: str, record_id: int, effect: str) -> None:
    conn.execute(_EVENT_RECORD, {"event_id": event_id, "kind": kind, "record_id": record_id, "effect": effect})


@functools.cache
def _find_for_update(table: Table, keys: tuple[str, ...], with_status: bool) -> Any:
    """The stored row's id and version at a natural key, locked; built once per table and key."""
    cols = [table.c.id, table.c.source_updated_at] + ([table.c.channel_status] if with_status else [])
    return select(*cols).where(*[table.c[k] == bindparam(f"b_{k}") for k in keys]).with_for_update()


_UNREAD: Any = object()


def lock_row(conn: Connection, table: Table, key: dict[str, Any]) -> Any:
    """The stored row at a natural key, whole and locked (None: there is none), for ``upsert_guarded(stored=)``."""
    return conn.execute(select(table).where(*[table.c[k] == v for k, v in key.items()]).with_for_update()).one_or_none()


def upsert_guarded(conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any],
                   incoming: datetime | None, behind: Callable[[Any], bool] | None = None, *,
                   any_second: bool = False, stored: Any = _UNREAD) -> tuple[int, str]:
    """Insert or update the row at ``key`` unless the stored one is newer; -> (id, effect).

    ``behind(stored_row)``: whether the incoming version is the earlier of the two all the same, asked of a
    version from the same second as the stored one (platforms give whole seconds: an order's status does not go
    back) or, with ``any_second``, of every version (a payment's status does not go back, dated or not).
    ``stored``: the row at ``key`` as the caller read and locked it (``lock_row``) to build ``values`` from it."""
    row = stored if stored is not _UNREAD else conn.execute(
        _find_for_update(table, tuple(key), behind is not None),
        {f"b_{k}": v for k, v in key.items()}).one_or_none()
    now = utcnow()
    if row is None:
        new_id = conn.execute(table.insert().values(**key, **values, source_updated_at=incoming,
                                                    created_at=now, updated_at=now)).inserted_primary_key[0]
        return new_id, "created"
    same_second = incoming is not None and incoming == row.source_updated_at
    if is_stale(incoming, row.source_updated_at) or (behind and (any_second or same_second) and behind(row)):
        return row.id, "stale"
    conn.execute(table.update().where(table.c.id == row.id).values(
        **values, source_updated_at=incoming or row.source_updated_at, updated_at=now))
    return row.id, "updated"
