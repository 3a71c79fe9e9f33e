"""The Shopify sandbox's shop: locations, products, variants, inventory levels and orders in memory,
the compare-and-set write of ``inventorySetQuantities``, and Shopify's search syntax (SKUs, and
orders by the time they changed).

Plain state only: no locking (the sandbox holds one lock around every call) and no I/O (changed
levels are returned, the sandbox turns them into webhooks).
"""

from __future__ import annotations

import operator
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

# Shopify-sized ids (2026 shops): sequential per kind from a realistic base, below 2**53.
ID_BASE = {
    "Location": 106_318_430_000, "LevelGroup": 143_273_001_000, "Product": 10_224_126_500_000,
    "ProductVariant": 51_384_734_800_000, "InventoryItem": 53_489_632_200_000, "Order": 6_512_345_600_000,
    "LineItem": 16_123_456_700_000, "InventoryAdjustmentGroup": 54_640_716_200_000,
    "FulfillmentOrder": 7_987_654_300_000, "FulfillmentOrderLineItem": 19_663_777_100_000,
    "Fulfillment": 5_912_345_600_000, "FulfillmentLineItem": 17_274_240_200_000, "Customer": 8_812_345_600_000,
    "Refund": 8_900_881_860_000, "RefundLineItem": 4_878_176_720_000, "Transaction": 3_892_345_600_000,
    "Return": 3_547_267_200, "ReturnLineItem": 6_200_524_900,
}
FINANCIAL_STATUSES = ("paid", "pending", "authorized")  # what a placed order can start as
FIRST_ORDER_NUMBER = 1001
QUANTITY_LIMIT = 1_000_000_000  # Shopify rejects set quantities beyond +/- this
QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming", "reserved", "damaged",
                  "quality_control", "safety_stock")
SET_NAMES = ("available", "on_hand")
# Valid ``reason`` values, as listed by Shopify's INVALID_REASON message (2026-04 capture).
REASONS = ("correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created",
           "movement_received", "movement_updated", "other", "promotion", "quality_control", "received",
           "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
           "shrinkage")
_GID = re.compile(r"^gid://shopify/(\w+)/(\d+)(?:\?inventory_item_id=(\d+))?$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Location:
    id: int
    name: str
    group_id: int  # Shopify's InventoryLevel ids use a per-location number that is not the location id
    created_at: datetime


@dataclass
class Product:
    id: int
    title: str
    created_at: datetime


@dataclass
class Variant:
    id: int
    product_id: int
    item_id: int
    sku: str
    title: str
    price: str
    position: int
    created_at: datetime


@dataclass
class Level:
    item_id: int
    location_id: int
    available: int
    committed: int = 0
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def on_hand(self) -> int:
        return self.available + self.committed

    def quantity(self, name: str) -> int:
        return {"available": self.available, "on_hand": self.on_hand, "committed": self.committed}.get(name, 0)


@dataclass
class OrderLine:
    id: int
    variant_id: int
    quantity: int


@dataclass
class Order:
    id: int
    number: int
    location_id: int
    lines: list[OrderLine]
    created_at: datetime
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    financial_status: str = "paid"
    buyer: dict = field(default_factory=dict)  # customer, email, shipping_address, billing_address as given
    updated_at: datetime | None = None
    refunds: list[dict] = field(default_factory=list)  # id, created_at, note, amount, lines [(line, qty, restock)]


@dataclass
class SetResult:
    group: dict | None
    user_errors: list[dict]
    changed: list[Level]


class Store:
    """One shop's state."""

    def __init__(self) -> None:
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.by_sku: dict[str, Variant] = {}
        self.by_item: dict[int, Variant] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.orders: dict[int, Order] = {}
        self._counters: dict[str, int] = {}

    def next_id(self, kind: str) -> int:
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return ID_BASE[kind] + self._counters[kind]

    # --- seeding and lookups -----------------------------------------------------------------

    def seed(self, locations: list[dict], products: list[dict]) -> dict:
        now = datetime.now(UTC)
        for spec in locations:
            if self.location_named(spec["name"], required=False):
                raise ValueError(f"location {spec['name']!r} already exists")
            loc = Location(self._location_id(spec.get("id")), spec["name"], self.next_id("LevelGroup"), now)
            self.locations[loc.id] = loc
        out: dict[str, dict] = {"locations": {loc.name: gid("Location", loc.id) for loc in self.locations.values()},
                                "variants": {}}
        for spec in products:
            product = Product(self.next_id("Product"), spec["title"], now)
            self.products[product.id] = product
            for position, v in enumerate(spec.get("variants") or [{}], start=1):
                out["variants"][v["sku"]] = self._add_variant(product, v, position, now)
        return out

    def _location_id(self, wanted: int | str | None) -> int:
        """The next location id, or ``wanted`` (a shop's id a hub config already names); the sequence
        moves past it so later locations never collide with it."""
        if wanted is None:
            return self.next_id("Location")
        number = int(wanted)
        if number in self.locations:
            raise ValueError(f"location id {number} already exists")
        if number > ID_BASE["Location"]:
            self._counters["Location"] = max(self._counters.get("Location", 0), number - ID_BASE["Location"])
        return number

    def _add_variant(self, product: Product, spec: dict, position: int, now: datetime) -> dict:
        sku = spec["sku"]
        if sku in self.by_sku:
            raise ValueError(f"SKU {sku!r} already exists")
        variant = Variant(self.next_id("ProductVariant"), product.id, self.next_id("InventoryItem"), sku,
                          spec.get("title", "Default Title"), str(spec.get("price", "0.00")), position, now)
        self.variants[variant.id] = self.by_sku[sku] = self.by_item[variant.item_id] = variant
        stocked = spec.get("available")
        # no "available" map: stocked at every location with 0, as a new product is in Shopify
        for name, qty in (stocked.items() if stocked is not None else ((n.name, 0) for n in self.locations.values())):
            loc = self.location_named(name)
            self.levels[(variant.item_id, loc.id)] = Level(variant.item_id, loc.id, int(qty), updated_at=now)
        return {"product_id": product.id, "variant_id": variant.id, "inventory_item_id": variant.item_id,
                "inventory_item_gid": gid("InventoryItem", variant.item_id),
                "variant_gid": gid("ProductVariant", variant.id)}

    def location_named(self, name: str | None, required: bool = True) -> Location | None:
        for loc in self.locations.values():
            if loc.name == name:
                return loc
        if required:
            raise ValueError(f"unknown location {name!r}")
        return None

    def variant_for_sku(self, sku: str) -> Variant:
        if sku not in self.by_sku:
            raise ValueError(f"unknown SKU {sku!r}")
        return self.by_sku[sku]

    def levels_of(self, item_id: int) -> list[Level]:
        # by location (a shop has a handful), not by scanning every level: O(locations), not O(SKUs)
        return [self.levels[(item_id, loc)] for loc in self.locations if (item_id, loc) in self.levels]

    def levels_at(self, location_id: int) -> list[Level]:
        return [lv for (_, loc), lv in self.levels.items() if loc == location_id]

    def level_for(self, sku: str, location: str | None) -> Level:
        variant = self.variant_for_sku(sku)
        if location is None:
            levels = self.levels_of(variant.item_id)
            if not levels:
                raise ValueError(f"SKU {sku!r} is not stocked anywhere")
            return levels[0]
        loc = self.location_named(location)
        level = self.levels.get((variant.item_id, loc.id))
        if level is None:
            raise ValueError(f"SKU {sku!r} is not stocked at {location!r}")
        return level

    def parse_gid(self, value: str, kind: str) -> int | None:
        match = _GID.match(value or "")
        return int(match[2]) if match and match[1] == kind else None

    def level_by_gid(self, value: str) -> Level | None:
        match = _GID.match(value or "")
        if not match or match[1] != "InventoryLevel" or not match[3]:
            return None
        group, item_id = int(match[2]), int(match[3])
        return next((lv for lv in self.levels_of(item_id) if self.locations[lv.location_id].group_id == group), None)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {sku: {self.locations[lv.location_id].name: lv.available for lv in self.levels_of(v.item_id)}
                for sku, v in self.by_sku.items()}

    # --- merchant and customer actions ---------------------------------------------------------

    def set_available(self, level: Level, available: int) -> bool:
        if level.available == available:
            return False
        level.available, level.updated_at = available, datetime.now(UTC)
        return True

    def place_order(self, lines: list[dict], location: str | None, financial_status: str = "paid",
                    buyer: dict | None = None) -> tuple[Order, list[Level]]:
        if financial_status not in FINANCIAL_STATUSES:
            raise ValueError(f"financial_status must be one of {', '.join(FINANCIAL_STATUSES)}")
        if not lines:
            raise ValueError("an order needs at least one line")
        loc = self.location_named(location) if location else next(iter(self.locations.values()), None)
        if loc is None:
            raise ValueError("the shop has no location")
        wanted: dict[int, int] = {}
        for line in lines:
            variant = self.variant_for_sku(line["sku"])
            if int(line["quantity"]) <= 0:
                raise ValueError(f"quantity for {line['sku']!r} must be positive")
            wanted[variant.item_id] = wanted.get(variant.item_id, 0) + int(line["quantity"])
        for item_id, qty in wanted.items():  # all or nothing: no overselling (inventory policy "deny")
            level = self.levels.get((item_id, loc.id))
            if level is None or level.available < qty:
                have = level.available if level else 0
                raise ValueError(f"not enough stock of {self.by_item[item_id].sku!r} at {loc.name!r}: "
                                 f"{have} available, {qty} ordered")
        now = datetime.now(UTC)
        order = Order(self.next_id("Order"), FIRST_ORDER_NUMBER + len(self.orders), loc.id,
                      [OrderLine(self.next_id("LineItem"), self.variant_for_sku(x["sku"]).id, int(x["quantity"]))
                       for x in lines], now, financial_status=financial_status, buyer=dict(buyer or {}),
                      updated_at=now)
        self.orders[order.id] = order
        return order, self._commit(order, +1, now)

    def cancel_order(self, order_id: int, reason: str) -> tuple[Order, list[Level]]:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        if order.cancelled_at is not None:
            raise ValueError(f"order {order_id} is already cancelled")
        now = datetime.now(UTC)
        order.cancelled_at, order.cancel_reason, order.updated_at = now, reason, now
        return order, self._commit(order, -1, now)

    def refund(self, order_id: int, wanted: list[tuple[int, int]], restock_type: str, shipped: dict[int, int],
               note: str | None) -> tuple[dict, list[Level]]:
        """A refund of ``wanted`` [(line id, units)]: ``cancel`` puts unshipped units back (committed ->
        available), ``return`` shipped ones (back on hand, available), ``no_restock`` moves no stock. The order
        becomes partially_refunded, or refunded once every unit is. ``shipped``: units shipped per line."""
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        if restock_type not in ("cancel", "return", "no_restock"):
            raise ValueError(f"restock_type must be cancel, return or no_restock, not {restock_type!r}")
        lines = {line.id: line for line in order.lines}
        now, picked, changed = datetime.now(UTC), [], []
        for line_id, qty in wanted:
            line = lines.get(line_id)
            done = sum(q for r in order.refunds for ln, q, _ in r["lines"] if ln.id == line_id)
            if line is None or qty < 1 or qty > line.quantity - done:
                raise ValueError(f"cannot refund {qty} of line {line_id}")
            left_to_ship = line.quantity - shipped.get(line_id, 0) - done
            if restock_type == "cancel" and qty > left_to_ship:
                raise ValueError("Cannot restock (cancel) units that were fulfilled: use return")
            picked.append((line, qty, restock_type))
            if restock_type != "no_restock":
                level = self.levels[(self.variants[line.variant_id].item_id, order.location_id)]
                level.available += qty
                if restock_type == "cancel":
                    level.committed -= qty
                level.updated_at = now
                if level not in changed:
                    changed.append(level)
        refund = {"id": self.next_id("Refund"), "created_at": now, "note": note, "lines": picked,
                  "amount": sum((Decimal(self.variants[ln.variant_id].price) * q for ln, q, _ in picked), Decimal(0))}
        order.refunds.append(refund)
        units = sum(line.quantity for line in order.lines)
        refunded = sum(q for r in order.refunds for _, q, _ in r["lines"])
        order.financial_status = "refunded" if refunded >= units else "partially_refunded"
        order.updated_at = now
        return refund, changed

    def _commit(self, order: Order, sign: int, now: datetime) -> list[Level]:
        """An order moves units from available to committed (on_hand unchanged); a cancel moves them back."""
        changed: list[Level] = []
        for line in order.lines:
            level = self.levels[(self.variants[line.variant_id].item_id, order.location_id)]
            level.available -= sign * line.quantity
            level.committed += sign * line.quantity
            level.updated_at = now
            if level not in changed:
                changed.append(level)
        return changed

    # --- inventorySetQuantities ----------------------------------------------------------------

    def set_quantities(self, data: dict) -> SetResult:
        """Validate every quantity, then apply all or nothing (compare-and-set on ``changeFromQuantity``)."""
        name, errors = data["name"], []
        if name not in SET_NAMES:
            errors.append(user_error(["input", "name"], "The quantity name must be either 'available' or 'on_hand'.",
                                     "INVALID_NAME"))
        if data["reason"] not in REASONS:
            errors.append(user_error(["input", "reason"], "The specified reason is invalid. Valid values are: "
                                     + ", ".join(REASONS) + ".", "INVALID_REASON"))
        uri = data.get("referenceDocumentUri")
        if uri is not None and not _URI.match(uri):
            errors.append(user_error(["input", "referenceDocumentUri"],
                                     "The specified reference document is invalid.", "INVALID_REFERENCE_DOCUMENT"))
        if errors:
            return SetResult(None, errors, [])
        plans, seen = [], set()
        for i, q in enumerate(data["quantities"]):
            plan = self._plan(name, q, ["input", "quantities", str(i)], seen, errors)
            if plan:
                plans.append(plan)
        if errors:
            return SetResult(None, errors, [])
        now, changes, changed = datetime.now(UTC), [], []
        for level, delta in plans:
            if delta == 0:
                continue  # Shopify records no change for an unchanged quantity
            level.available += delta
            level.updated_at = now
            changed.append(level)
            for quantity_name in ("available", "on_hand"):
                changes.append({"name": quantity_name, "delta": delta, "level": level})
        if not changes:
            return SetResult(None, [], [])
        group = {"id": gid("InventoryAdjustmentGroup", self.next_id("InventoryAdjustmentGroup")),
                 "createdAt": gql_time(now), "reason": data["reason"], "referenceDocumentUri": uri,
                 "changes": changes}
        return SetResult(group, [], changed)

    def _plan(self, name: str, q: dict, path: list[str], seen: set, errors: list) -> tuple[Level, int] | None:
        item_id = self.parse_gid(q["inventoryItemId"], "InventoryItem")
        loc_id = self.parse_gid(q["locationId"], "Location")
        if item_id not in self.by_item:
            errors.append(user_error([*path, "inventoryItemId"], "The specified inventory item could not be found.",
                                     "INVALID_INVENTORY_ITEM"))
            return None
        if loc_id not in self.locations:
            errors.append(user_error([*path, "locationId"], "The specified location could not be found.",
                                     "INVALID_LOCATION"))
            return None
        if (item_id, loc_id) in seen:
            errors.append(user_error(path, "The combination of inventoryItemId and locationId must be unique.",
                                     "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
            return None
        seen.add((item_id, loc_id))
        level = self.levels.get((item_id, loc_id))
        if level is None:
            errors.append(user_error([*path, "locationId"], "The specified inventory item is not stocked at the "
                                     "location.", "ITEM_NOT_STOCKED_AT_LOCATION"))
            return None
        qty = q["quantity"]
        bound = _bound_error(name, qty, [*path, "quantity"])
        if bound:
            errors.append(bound)
            return None
        current = level.quantity(name)
        expected = q.get("changeFromQuantity")
        if expected is not None and expected != current:
            errors.append(user_error([*path, "changeFromQuantity"],
                                     "The changeFromQuantity value does not match persisted value.",
                                     "CHANGE_FROM_QUANTITY_STALE"))
            return None
        return level, qty - current


def _bound_error(name: str, qty: int, path: list[str]) -> dict | None:
    if name == "on_hand" and qty < 0:
        return user_error(path, "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE")
    if qty > QUANTITY_LIMIT:
        return user_error(path, "The quantity can't be higher than 1,000,000,000.", "INVALID_QUANTITY_TOO_HIGH")
    if qty < -QUANTITY_LIMIT:
        return user_error(path, "The quantity can't be lower than -1,000,000,000.", "INVALID_QUANTITY_TOO_LOW")
    return None


def user_error(path: list[str] | None, message: str, code: str) -> dict:
    return {"field": path, "message": message, "code": code}


# --- Shopify search syntax (the part the hub uses: field terms joined by OR, comparators on times and ids) ---

_TERM = re.compile(r'\(|\)|(\w+):(<=|>=|<|>)?(?:"([^"]*)"|\'([^\']*)\'|([^\s()]+))|(\S+)')
_COMPARE = {":": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SearchValue = str | int | datetime  # a record's field as a search compares it: text, a number, a UTC time


def parse_search(query: str) -> list[list[tuple[str, str, str]]]:
    """``sku:A OR sku:"B 2"`` -> [[("sku", ":", "A")], [("sku", ":", "B 2")]]: OR of AND-groups of field
    terms; ``updated_at:>'2026-12-04T10:00:00Z'`` -> ("updated_at", ">", "2026-12-04T10:00:00Z")."""
    groups: list[list[tuple[str, str, str]]] = [[]]
    for match in _TERM.finditer(query):
        word = match[6]
        if word == "OR":
            groups.append([])
        elif word == "AND" or match[0] in "()":
            continue
        elif word is not None:
            raise ValueError(f"free-text search {word!r} is not simulated; use field:value terms")
        else:
            value = next(v for v in (match[3], match[4], match[5]) if v is not None)
            groups[-1].append((match[1].lower(), match[2] or ":", value))
    return [g for g in groups if g]


def search_matches(groups: list[list[tuple[str, str, str]]], fields: dict[str, SearchValue]) -> bool:
    """Whether a record with ``fields`` matches: text by equality (``abc*``: a prefix), numbers and times
    (in whole seconds, as Shopify keeps them) by the term's comparator."""
    def term(key: str, op: str, value: str) -> bool:
        if key not in fields:
            raise ValueError(f"search field {key!r} is not simulated (supported: {', '.join(sorted(fields))})")
        have = fields[key]
        if isinstance(have, datetime):
            return _COMPARE[op](have.replace(microsecond=0), search_time(value))
        if isinstance(have, int):
            return _COMPARE[op](have, int(value))
        if op != ":":
            raise ValueError(f"a range on the text field {key!r} is not simulated")
        text = have.lower()
        return text.startswith(value[:-1].lower()) if value.endswith("*") else text == value.lower()

    return not groups or any(all(term(*t) for t in group) for group in groups)


def search_time(value: str) -> datetime:
    """A time in a search term, aware UTC. It must name its zone (``Z`` or an offset): Shopify reads one
    without in the shop's zone, which the model does not know."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"a search time without a zone ({value!r}) is not simulated: add Z or an offset")
    return moment.astimezone(UTC)
