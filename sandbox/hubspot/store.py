"""The HubSpot sandbox's records: contacts, deals and notes by id, their unique values, and the associations
between them, kept both ways as sets (HubSpot stores one association per pair and type, so associating twice
changes nothing). Not thread-safe on its own: ``HubSpotSandbox`` holds its lock around every use.
"""

from __future__ import annotations

import itertools
from typing import Any

from sandbox.hubspot import wire
from sandbox.hubspot.wire import HubSpotError, Record


class Store:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Record]] = {t: {} for t in wire.OBJECT_TYPES}
        self.creates: dict[str, int] = {}  # object type -> records created (since the stats were reset)
        self.updates: dict[str, int] = {}
        self._links: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        self._ids = itertools.count(52_001)

    def new(self, kind: str, props: dict[str, str], lag_s: float) -> Record:
        now = wire.now_ms()
        rec = Record(str(next(self._ids)), kind, props, now, now, now + int(lag_s * 1000))
        self.records[kind][rec.id] = rec
        self.creates[kind] = self.creates.get(kind, 0) + 1
        return rec

    def update(self, rec: Record, props: dict[str, str], lag_s: float) -> None:
        rec.properties.update(props)
        rec.updated_ms = max(wire.now_ms(), rec.updated_ms + 1)
        rec.indexed_ms = rec.updated_ms + int(lag_s * 1000)
        self.updates[rec.type] = self.updates.get(rec.type, 0) + 1

    def by_unique(self, kind: str, prop: str, value: str) -> Record | None:
        value = value.lower() if prop == "email" else value
        return next((r for r in self.records[kind].values() if r.properties.get(prop) == value), None)

    def get(self, kind: str, object_id: str) -> Record:
        rec = self.records[kind].get(object_id)
        if rec is None or rec.archived:
            raise wire.not_found(object_id)
        return rec

    def check_unique(self, kind: str, props: dict[str, str], own_id: str | None) -> None:
        """A unique value held by another record is a 409 CONFLICT, as HubSpot answers a duplicate email
        ("Contact already exists. Existing ID: ..."); deals get the same shape for ``hub_order_key``."""
        for prop in wire.OBJECT_TYPES[kind]["unique"]:
            other = self.by_unique(kind, prop, props[prop]) if props.get(prop) else None
            if other is not None and other.id != own_id:
                noun = wire.OBJECT_TYPES[kind]["singular"]
                raise HubSpotError(409, f"{noun.capitalize()} already exists. Existing ID: {other.id}", "CONFLICT",
                                   errors=[{"message": f"A {noun} with {prop} {props[prop]} already exists. "
                                                       f"Existing ID: {other.id}", "in": prop}])

    def link(self, frm: str, from_id: str, to: str, to_id: str, type_id: int) -> None:
        self._links.setdefault((frm, from_id), {}).setdefault((to, to_id), set()).add(type_id)
        self._links.setdefault((to, to_id), {}).setdefault((frm, from_id), set()).add(wire.REVERSE_TYPE[type_id])

    def linked(self, frm: str, object_id: str, to: str) -> list[tuple[str, set[int]]]:
        """(to id, association type ids) for every record of type ``to`` linked to this one, by id."""
        found = [(tid, types) for (kind, tid), types in self._links.get((frm, object_id), {}).items() if kind == to]
        return sorted(found, key=lambda item: int(item[0]))

    def inline_associations(self, kind: str, raw: Any) -> list[tuple[str, str, int]]:
        """``associations`` on create: [{to: {id}, types: [{associationCategory, associationTypeId}]}],
        checked before the record is written: a HUBSPOT_DEFINED type from this object, an existing target."""
        out = []
        for item in raw if isinstance(raw, list) else []:
            to_id = str((item.get("to") or {}).get("id", ""))
            for spec in item.get("types") or []:
                type_id = int(spec.get("associationTypeId", 0))
                to = wire.ASSOCIATION_TYPES.get((kind, type_id))
                if spec.get("associationCategory") != "HUBSPOT_DEFINED" or to is None:
                    raise wire.bad_request(f"association type id {type_id} doesn't exist for "
                                           f"{wire.OBJECT_TYPES[kind]['singular']}")
                target = self.records[to].get(to_id)
                if target is None or target.archived:
                    raise wire.bad_request(f"One or more associations are invalid: "
                                           f"{wire.OBJECT_TYPES[to]['singular']} {to_id} does not exist")
                out.append((to, to_id, type_id))
        return out
