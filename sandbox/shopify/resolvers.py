"""Resolvers of the Shopify sandbox: views that present the in-memory shop as the Admin GraphQL
types the hub reads (Location, ProductVariant, InventoryItem, InventoryLevel), Relay pagination with
Shopify's cursors, and the ``inventorySetQuantities`` mutation with its ``@idempotent`` key.

graphql-core calls ``resolve_field`` for every field: an attribute of the view is returned, a method
is called with the field's arguments. A field no view defines is reported as not simulated instead
of quietly answering null.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLError, VariableNode
from graphql.execution.values import get_directive_values

from sandbox.shopify.model import QUANTITY_NAMES, Level, Store, Variant, gid, gql_time, parse_search, search_matches

MISSING_KEY = "The @idempotent directive is required for this mutation but was not provided."
KEY_MISMATCH = "The same idempotency key cannot be used with different operation parameters."


def bad_request(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def resolve_field(source: Any, info: Any, **args: Any) -> Any:
    value = source.get(info.field_name, _ABSENT) if isinstance(source, dict) else getattr(source, info.field_name,
                                                                                          _ABSENT)
    if value is _ABSENT:
        raise GraphQLError(f"{info.parent_type.name}.{info.field_name} is not simulated by the sandbox",
                           extensions={"code": "SANDBOX_NOT_SIMULATED"})
    return value(info, **args) if callable(value) else value


def resolve_type(value: Any, info: Any, abstract_type: Any) -> str:
    return value.typename


_ABSENT = object()


# --- pagination ------------------------------------------------------------------------------------

def encode_cursor(number: int) -> str:
    """Shopify's cursor shape: base64 of ``{"last_id":N,"last_value":"N"}``."""
    return base64.b64encode(json.dumps({"last_id": number, "last_value": str(number)},
                                       separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        return int(json.loads(base64.b64decode(cursor, validate=True))["last_id"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"Invalid cursor: {cursor!r}") from exc


@dataclass
class Connection:
    page: list[tuple[int, Any]]  # (sort id, view), sorted by id as Shopify's default ID sort
    has_next: bool
    has_previous: bool

    @property
    def nodes(self) -> list[Any]:
        return [view for _, view in self.page]

    @property
    def edges(self) -> list[dict]:
        return [{"cursor": encode_cursor(n), "node": view} for n, view in self.page]

    @property
    def pageInfo(self) -> dict:  # noqa: N802 - GraphQL field name
        return {"hasNextPage": self.has_next, "hasPreviousPage": self.has_previous,
                "startCursor": encode_cursor(self.page[0][0]) if self.page else None,
                "endCursor": encode_cursor(self.page[-1][0]) if self.page else None}


def paginate(records: list[tuple[int, Any]], args: dict) -> Connection:
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise bad_request("you must provide one of first or last")
    if first is not None and last is not None:
        raise bad_request("providing both first and last is not supported")
    records = sorted(records, key=lambda r: r[0], reverse=bool(args.get("reverse")))
    start, end = 0, len(records)
    if args.get("after"):
        after = decode_cursor(args["after"])
        start = next((i + 1 for i, (n, _) in enumerate(records) if n == after), len(records))
    if args.get("before"):
        before = decode_cursor(args["before"])
        end = next((i for i, (n, _) in enumerate(records) if n == before), end)
    window = records[start:end]
    if first is not None:
        return Connection(window[:first], len(window) > first, start > 0)
    page = window[len(window) - last:] if last else []
    return Connection(page, end < len(records), len(window) > last)


def _search(query: str | None, fields_of: Any, records: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    if not query:
        return records
    try:
        groups = parse_search(query)
        return [r for r in records if search_matches(groups, fields_of(r[1]))]
    except ValueError as exc:
        raise GraphQLError(str(exc), extensions={"code": "SANDBOX_NOT_SIMULATED"}) from exc


# --- views -----------------------------------------------------------------------------------------

class LocationView:
    typename = "Location"

    def __init__(self, store: Store, location_id: int) -> None:
        self._s, self._loc = store, store.locations[location_id]
        self.id = gid("Location", self._loc.id)
        self.legacyResourceId = str(self._loc.id)
        self.name = self._loc.name
        self.isActive = self.fulfillsOnlineOrders = self.shipsInventory = self.hasActiveInventory = True
        self.isFulfillmentService = False
        self.createdAt = self.updatedAt = gql_time(self._loc.created_at)

    def inventoryLevel(self, info: Any, inventoryItemId: str, **_: Any) -> LevelView | None:  # noqa: N802,N803
        level = self._s.levels.get((self._s.parse_gid(inventoryItemId, "InventoryItem"), self._loc.id))
        return LevelView(self._s, level) if level else None

    def inventoryLevels(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        return paginate([(lv.item_id, LevelView(self._s, lv)) for lv in self._s.levels_at(self._loc.id)], args)


class LevelView:
    typename = "InventoryLevel"

    def __init__(self, store: Store, level: Level) -> None:
        self._s, self._lv = store, level
        group = store.locations[level.location_id].group_id
        self.id = f"gid://shopify/InventoryLevel/{group}?inventory_item_id={level.item_id}"
        self.isActive = self.canDeactivate = True
        self.deactivationAlert = None
        self.createdAt = self.updatedAt = gql_time(level.updated_at)

    @property
    def item(self) -> ItemView:
        return ItemView(self._s, self._s.by_item[self._lv.item_id])

    @property
    def location(self) -> LocationView:
        return LocationView(self._s, self._lv.location_id)

    def quantities(self, info: Any, names: list[str]) -> list[dict]:
        unknown = [n for n in names if n not in QUANTITY_NAMES]
        if unknown:
            raise bad_request(f"Invalid quantity names: {', '.join(unknown)}. Valid names: {', '.join(QUANTITY_NAMES)}")
        return [{"id": f"{self.id}&name={n}", "name": n, "quantity": self._lv.quantity(n),
                 # Shopify stamps updatedAt on the quantity that was written (available), null on the rest
                 "updatedAt": gql_time(self._lv.updated_at) if n == "available" else None} for n in names]


class ItemView:
    typename = "InventoryItem"

    def __init__(self, store: Store, variant: Variant) -> None:
        self._s, self._v = store, variant
        self.id = gid("InventoryItem", variant.item_id)
        self.legacyResourceId = str(variant.item_id)
        self.sku = variant.sku
        self.tracked = self.requiresShipping = True
        self.duplicateSkuCount = 0
        self.createdAt = self.updatedAt = gql_time(variant.created_at)

    @property
    def variant(self) -> VariantView:
        return VariantView(self._s, self._v)

    def inventoryLevel(self, info: Any, locationId: str, **_: Any) -> LevelView | None:  # noqa: N802,N803
        level = self._s.levels.get((self._v.item_id, self._s.parse_gid(locationId, "Location")))
        return LevelView(self._s, level) if level else None

    def inventoryLevels(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        levels = self._s.levels_of(self._v.item_id)
        return paginate([(self._s.locations[lv.location_id].group_id, LevelView(self._s, lv)) for lv in levels], args)


class VariantView:
    typename = "ProductVariant"

    def __init__(self, store: Store, variant: Variant) -> None:
        self._s, self._v = store, variant
        product = store.products[variant.product_id]
        self.id = gid("ProductVariant", variant.id)
        self.legacyResourceId = str(variant.id)
        self.sku, self.title, self.price, self.position = variant.sku, variant.title, variant.price, variant.position
        self.displayName = f"{product.title} - {variant.title}"
        self.inventoryPolicy = "DENY"
        self.barcode = self.compareAtPrice = None
        self.taxable = True
        self.createdAt = self.updatedAt = gql_time(variant.created_at)

    @property
    def inventoryQuantity(self) -> int:  # noqa: N802
        return sum(lv.available for lv in self._s.levels_of(self._v.item_id))

    @property
    def availableForSale(self) -> bool:  # noqa: N802
        return self.inventoryQuantity > 0

    @property
    def inventoryItem(self) -> ItemView:  # noqa: N802
        return ItemView(self._s, self._v)

    @property
    def product(self) -> ProductView:
        return ProductView(self._s, self._v.product_id)


class ProductView:
    typename = "Product"

    def __init__(self, store: Store, product_id: int) -> None:
        self._s, self._p = store, store.products[product_id]
        self.id = gid("Product", product_id)
        self.legacyResourceId = str(product_id)
        self.title = self._p.title
        self.status = "ACTIVE"
        self.tracksInventory = True
        self.createdAt = self.updatedAt = gql_time(self._p.created_at)

    def _variants(self) -> list[Variant]:
        return [v for v in self._s.variants.values() if v.product_id == self._p.id]

    @property
    def totalInventory(self) -> int:  # noqa: N802
        return sum(lv.available for v in self._variants() for lv in self._s.levels_of(v.item_id))

    def variants(self, info: Any, **args: Any) -> Connection:
        return paginate([(v.id, VariantView(self._s, v)) for v in self._variants()], args)


class AdjustmentGroupView:
    typename = "InventoryAdjustmentGroup"

    def __init__(self, store: Store, group: dict) -> None:
        self._s = store
        self.id, self.createdAt, self.reason = group["id"], group["createdAt"], group["reason"]
        self.referenceDocumentUri = group["referenceDocumentUri"]
        self.app = self.staffMember = None
        self._changes = group["changes"]

    def changes(self, info: Any, inventoryItemIds: list[str] | None = None,  # noqa: N803
                locationIds: list[str] | None = None, quantityNames: list[str] | None = None) -> list[dict]:  # noqa: N803
        out = []
        for change in self._changes:
            level: Level = change["level"]
            item, location = gid("InventoryItem", level.item_id), gid("Location", level.location_id)
            if (inventoryItemIds is None or item in inventoryItemIds) and \
                    (locationIds is None or location in locationIds) and \
                    (quantityNames is None or change["name"] in quantityNames):
                # quantityAfterChange is null in Shopify's answers (2026-04 captures); so here
                out.append({"name": change["name"], "delta": change["delta"], "quantityAfterChange": None,
                            "ledgerDocumentUri": None, "item": ItemView(self._s, self._s.by_item[level.item_id]),
                            "location": LocationView(self._s, level.location_id)})
        return out


# --- root fields -----------------------------------------------------------------------------------

class Root:
    """QueryRoot and Mutation fields. ``changed`` collects levels written by the mutation."""

    def __init__(self, store: Store, idempotency: dict[tuple[str, str], tuple[str, dict]]) -> None:
        self._s = store
        self._idempotency = idempotency
        self.changed: list[Level] = []

    def locations(self, info: Any, **args: Any) -> Connection:
        if args.get("query"):
            raise GraphQLError("locations(query:) is not simulated", extensions={"code": "SANDBOX_NOT_SIMULATED"})
        return paginate([(n, LocationView(self._s, n)) for n in self._s.locations], args)

    def location(self, info: Any, id: str | None = None) -> LocationView | None:  # noqa: A002
        if id is None:  # no id: the shop's primary location
            return LocationView(self._s, next(iter(self._s.locations))) if self._s.locations else None
        number = self._s.parse_gid(id, "Location")
        return LocationView(self._s, number) if number in self._s.locations else None

    def productVariants(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        records = [(v.id, VariantView(self._s, v)) for v in self._s.variants.values()]
        records = _search(args.get("query"), lambda view: {"sku": view.sku, "id": view.legacyResourceId}, records)
        return paginate(records, args)

    def productVariant(self, info: Any, id: str) -> VariantView | None:  # noqa: N802,A002
        number = self._s.parse_gid(id, "ProductVariant")
        return VariantView(self._s, self._s.variants[number]) if number in self._s.variants else None

    def inventoryItems(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        records = [(v.item_id, ItemView(self._s, v)) for v in self._s.variants.values()]
        records = _search(args.get("query"), lambda view: {"sku": view.sku, "id": view.legacyResourceId}, records)
        return paginate(records, args)

    def inventoryItem(self, info: Any, id: str) -> ItemView | None:  # noqa: N802,A002
        number = self._s.parse_gid(id, "InventoryItem")
        return ItemView(self._s, self._s.by_item[number]) if number in self._s.by_item else None

    def product(self, info: Any, id: str | None = None, **_: Any) -> ProductView | None:  # noqa: A002
        number = self._s.parse_gid(id or "", "Product")
        return ProductView(self._s, number) if number in self._s.products else None

    def node(self, info: Any, id: str) -> Any:  # noqa: A002
        for kind, lookup in (("Location", self.location), ("ProductVariant", self.productVariant),
                             ("InventoryItem", self.inventoryItem), ("Product", self.product)):
            if id.startswith(f"gid://shopify/{kind}/"):
                return lookup(info, id=id)
        level = self._s.level_by_gid(id)
        return LevelView(self._s, level) if level else None

    def nodes(self, info: Any, ids: list[str]) -> list[Any]:
        return [self.node(info, id=i) for i in ids]

    def inventorySetQuantities(self, info: Any, input: dict) -> dict:  # noqa: N802,A002
        key = self._idempotency_key(info)
        self._require_change_from(info, input)
        fingerprint = json.dumps(input, sort_keys=True)
        seen = self._idempotency.get((info.field_name, key))
        if seen is not None:
            if seen[0] != fingerprint:
                return {"inventoryAdjustmentGroup": None,
                        "userErrors": [{"field": None, "message": KEY_MISMATCH,
                                        "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"}]}
            return seen[1]  # a retry: the first answer, nothing applied again
        result = self._s.set_quantities(input)
        payload = {"inventoryAdjustmentGroup": AdjustmentGroupView(self._s, result.group) if result.group else None,
                   "userErrors": result.user_errors}
        self._idempotency[(info.field_name, key)] = (fingerprint, payload)
        self.changed.extend(result.changed)
        return payload

    @staticmethod
    def _idempotency_key(info: Any) -> str:
        # Required as of 2026-04 (shopify.dev changelog); a runtime error, not a schema one.
        directive = info.schema.get_directive("idempotent")
        values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
        if values is None:
            raise bad_request(MISSING_KEY)
        if not values["key"].strip():
            raise bad_request("The idempotency key cannot be an empty string or whitespace only.")
        return values["key"]

    @staticmethod
    def _require_change_from(info: Any, data: dict) -> None:
        """2026-04+: each quantity must carry changeFromQuantity, explicitly null to skip the check."""
        if all("changeFromQuantity" in q for q in data["quantities"]):
            return
        field: FieldNode = info.field_nodes[0]
        arg = next(a for a in field.arguments if a.name.value == "input")
        nodes: list[Any] = [field, arg]
        if isinstance(arg.value, VariableNode):
            nodes[1] = next(d for d in info.operation.variable_definitions
                            if d.variable.name.value == arg.value.name.value)
        raise GraphQLError("InventoryQuantityInput must include the following argument: changeFromQuantity.",
                           nodes=nodes, extensions={"code": "INVALID_FIELD_ARGUMENTS"})
