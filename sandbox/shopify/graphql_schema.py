"""GraphQL plumbing of the Shopify sandbox: Shopify's official Admin schema (loaded once), request
preparation that fails the way Shopify fails (shapes in ``errors``), and Shopify's calculated
query cost, requested before a call runs and actual after it.

Cost rules follow shopify.dev's "API limits" page, checked against figures in answers captured from
real shops (the conformance fixtures of airhorns/shopify-draft-proxy, Admin API 2026-04).
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_client_schema,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective

from sandbox.corpus import SCHEMA_REL, corpus_dir
from sandbox.shopify.errors import (
    MAX_INPUT_ARRAY,
    input_too_large,
    ruby_paths,
    syntax_error,
    validation_error,
    variable_errors,
)

MUTATION_COST = 10  # points per mutation field
CONNECTION_COST = 2  # points per connection, plus its page of nodes


_schema_lock = threading.Lock()


@functools.cache
def _load_schema(path: str) -> GraphQLSchema:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        introspection = json.load(fh)["data"]
    # graphql-core's schema self-check rejects Shopify's schema (e.g. Node.id is not deprecated while
    # ChannelDefinition.id is); documents still validate and execute, so the self-check is skipped.
    return build_client_schema(introspection, assume_valid=True)


def admin_schema() -> GraphQLSchema:
    """The 2026-07 Admin schema, loaded once per process (about 1 MB gzipped, half a second)."""
    with _schema_lock:
        return _load_schema(str(corpus_dir() / SCHEMA_REL))


class QueryMissing(Exception):
    """The body carries no query: Shopify answers 400 before any GraphQL runs."""


class RequestErrors(Exception):
    """The document cannot run: parse, validation or variable errors, already in Shopify's shape."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid request")
        self.errors = errors


@dataclass
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    raw_variables: dict[str, Any]
    variables: Any  # graphql-core VariableValues, for argument coercion

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation == OperationType.MUTATION

    @property
    def name(self) -> str:
        return self.operation.name.value if self.operation.name else "(anonymous)"

    def root_fields(self) -> list[str]:
        return [s.name.value for s in self.operation.selection_set.selections if isinstance(s, FieldNode)]


def prepare(schema: GraphQLSchema, query: object, variables: object, operation_name: object) -> Prepared:
    """Parse, validate and coerce variables; raise ``RequestErrors`` shaped as Shopify's."""
    if not isinstance(query, str) or not query.strip():
        raise QueryMissing
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        raise RequestErrors([syntax_error(exc)]) from exc
    errors = validate(schema, document)
    if errors:
        paths = ruby_paths(document)
        raise RequestErrors([validation_error(e, paths) for e in errors])
    operation = get_operation_ast(document, operation_name if isinstance(operation_name, str) else None)
    if operation is None:
        raise RequestErrors([{"message": "An operation name is required" if operation_name is None
                              else f'No operation named "{operation_name}"', "extensions": {"code": "BAD_REQUEST"}}])
    raw = variables if isinstance(variables, dict) else {}
    coerced = get_variable_values(schema, operation.variable_definitions or (), raw)
    if isinstance(coerced, list):
        raise RequestErrors(variable_errors(operation, raw, coerced))
    return Prepared(document, operation, raw, coerced)


# --- calculated query cost -------------------------------------------------------------------------
#
# shopify.dev "API limits": scalar and enum 0, object 1, interface/union the maximum of the possible
# selections, connection "sized by first and last" (2 + n x the cost of one node), mutation 10.
# Two details read off captured real answers: a plain list of objects (quantities, changes,
# userErrors) is priced like a single object, and the objects returned directly in a mutation's
# payload are covered by its 10 (inventorySetQuantities selecting changes{item location} costs 13,
# and 10 once inventoryAdjustmentGroup comes back null). Shopify prices some connections below
# first x node (a captured inventoryLevels(first: 5) read was charged as if for 3); the sandbox
# does not, so its requested cost is never lower than Shopify's.

def is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection") and "pageInfo" in type_.fields


class CostCalculator:
    """Requested cost of a prepared operation; also collects input arrays over the 250 limit."""

    def __init__(self, schema: GraphQLSchema, request: Prepared) -> None:
        self.schema, self.request = schema, request
        self.fragments = {d.name.value: d for d in request.document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.oversized: list[dict] = []

    def requested(self) -> int:
        root = self.schema.mutation_type if self.request.is_mutation else self.schema.query_type
        role = "mutation" if self.request.is_mutation else "object"
        return sum(self._field(root, nodes, [key], role)
                   for key, nodes in self._collect(root, [self.request.operation.selection_set]).items())

    def _collect(self, type_: GraphQLObjectType, sets: list[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        fields: dict[str, list[FieldNode]] = {}
        for selection_set in sets:
            for sel in selection_set.selections:
                if not self._included(sel):
                    continue
                if isinstance(sel, FieldNode):
                    fields.setdefault(sel.alias.value if sel.alias else sel.name.value, []).append(sel)
                    continue
                frag = self.fragments.get(sel.name.value) if isinstance(sel, FragmentSpreadNode) else sel
                if frag is None or not self._applies(frag.type_condition, type_):
                    continue
                for key, nodes in self._collect(type_, [frag.selection_set]).items():
                    fields.setdefault(key, []).extend(nodes)
        return fields

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.request.variables)
        include = get_directive_values(GraphQLIncludeDirective, node, self.request.variables)
        return not (skip and skip["if"]) and not (include and not include["if"])

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None or condition.name.value == type_.name:
            return True
        abstract = self.schema.get_type(condition.name.value)
        return is_abstract_type(abstract) and self.schema.is_sub_type(abstract, type_)

    def _field(self, parent: GraphQLObjectType, nodes: list[FieldNode], path: list, role: str) -> int:
        name = nodes[0].name.value
        if name.startswith("__"):
            return 0
        field = parent.fields[name]
        args = get_argument_values(field, nodes[0], self.request.variables)
        self._check_sizes(args, path, nodes[0])
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        subs = [n.selection_set for n in nodes if n.selection_set]
        if is_connection(named):
            size = args.get("first") or args.get("last") or 0
            return CONNECTION_COST + size * self._node_cost(named, subs, path)
        child_role = "payload" if role == "mutation" else "object"
        children = self._selection(named, subs, path, child_role)
        if role == "mutation":
            return MUTATION_COST + children
        own = 0 if role == "payload" else 1
        ids = args.get("ids")
        repeat = len(ids) if isinstance(ids, list) and is_list_type(get_nullable_type(field.type)) else 1
        return repeat * (own + children)

    def _selection(self, type_: Any, subs: list[SelectionSetNode], path: list, role: str) -> int:
        if not is_abstract_type(type_):
            return sum(self._field(type_, nodes, [*path, key], role)
                       for key, nodes in self._collect(type_, subs).items())
        conditions = {s.type_condition.name.value for ss in subs for s in ss.selections
                      if isinstance(s, InlineFragmentNode) and s.type_condition}
        conditions |= {self.fragments[s.name.value].type_condition.name.value for ss in subs
                       for s in ss.selections if isinstance(s, FragmentSpreadNode) and s.name.value in self.fragments}
        possible = self.schema.get_possible_types(type_)
        candidates = [t for t in possible if t.name in conditions] or possible[:1]
        return max((self._selection(t, subs, path, role) for t in candidates), default=0)

    def _node_cost(self, connection: GraphQLObjectType, subs: list[SelectionSetNode], path: list) -> int:
        cost = 1
        for key, nodes in self._collect(connection, subs).items():
            name = nodes[0].name.value
            inner = [n.selection_set for n in nodes if n.selection_set]
            if name == "nodes":
                cost += self._selection(get_named_type(connection.fields[name].type), inner, [*path, key], "object")
            elif name == "edges":
                edge = get_named_type(connection.fields[name].type)
                for edge_key, edge_nodes in self._collect(edge, inner).items():
                    if edge_nodes[0].name.value == "node":
                        node_sets = [n.selection_set for n in edge_nodes if n.selection_set]
                        cost += self._selection(get_named_type(edge.fields["node"].type), node_sets,
                                                [*path, key, edge_key], "object")
        return cost

    def _check_sizes(self, value: Any, path: list, node: FieldNode) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                self._check_sizes(inner, [*path, key], node)
        elif isinstance(value, list):
            if len(value) > MAX_INPUT_ARRAY:
                self.oversized.append(input_too_large(len(value), node, path))
                return
            for item in value:
                self._check_sizes(item, path, node)


class ActualCost:
    """graphql-core middleware pricing what was actually returned, by the same rules as requested."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.total = 0

    def resolve(self, next_: Any, root: Any, info: Any, **args: Any) -> Any:
        value = next_(root, info, **args)
        self.total += self._price(info, value, args)
        return value

    def _price(self, info: Any, value: Any, args: dict) -> int:
        named = get_named_type(info.return_type)
        if is_leaf_type(named) or not self._counted(info.path):
            return 0
        parent = info.parent_type
        if parent is self.schema.mutation_type:
            return MUTATION_COST
        in_payload = info.path.prev is not None and info.path.prev.prev is None
        if in_payload and info.operation.operation == OperationType.MUTATION:
            return 0  # an object straight in the mutation's payload
        if parent.name.endswith(("Connection", "Edge")) or value is None:
            return 0  # nodes, edges and pageInfo are priced with their connection
        if is_connection(named):
            return CONNECTION_COST + len(value.page)
        if is_list_type(get_nullable_type(info.return_type)) and "ids" in args:
            return sum(1 for v in value if v is not None)
        return 1

    @staticmethod
    def _counted(path: Any) -> bool:
        """False inside the 2nd+ element of a plain list: such lists are priced as one object."""
        while path is not None:
            if isinstance(path.key, int) and path.key > 0:
                owner = path.prev
                repeats = (owner.typename or "").endswith(("Connection", "Edge")) or owner.key == "nodes"
                if not repeats:
                    return False
            path = path.prev
        return True


# --- the leaky bucket ---------------------------------------------------------------------------

def as_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


@dataclass
class Bucket:
    """Shopify's leaky bucket of cost points: refills at ``rate`` points/s up to ``size``."""

    size: float
    rate: float
    available: float
    stamp: float
    clock: Callable[[], float] = time.monotonic  # seconds; a test may hand in one that moves only when told

    def refill(self) -> None:
        now = self.clock()
        self.available = min(self.size, self.available + (now - self.stamp) * self.rate)
        self.stamp = now

    def status(self) -> dict:
        return {"maximumAvailable": as_number(self.size), "currentlyAvailable": int(self.available),
                "restoreRate": as_number(self.rate)}
