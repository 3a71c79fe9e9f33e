"""Shopify's error answers, for the sandbox: graphql-ruby's messages, codes and paths for documents
that fail to parse, validate or coerce their variables, and the cost and input limit errors.

Shapes follow answers captured from real shops (the conformance fixtures of
airhorns/shopify-draft-proxy, Admin API 2025-01 and 2026-04) and published client test fixtures.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_QUERY_COST = 1000  # points; a single query over this is refused before it runs
MAX_INPUT_ARRAY = 250  # items in any input array
THROTTLE_DOCS = "https://shopify.dev/api/usage/rate-limits"
COST_DOCS = "https://shopify.dev/api/usage/limits#rate-limits"


def location_of(node: Any) -> list[dict]:
    if node is None or node.loc is None:
        return []
    location = node.loc.source.get_location(node.loc.start)
    return [{"line": location.line, "column": location.column}]


def syntax_error(exc: GraphQLSyntaxError) -> dict:
    found = re.search(r"found (.+?)\.?$", exc.message)
    token = "end of file" if found and found.group(1) == "<EOF>" else (found.group(1) if found else "token")
    where = exc.locations[0] if exc.locations else None
    at = f" at [{where.line}, {where.column}]" if where else ""
    return {"message": f"syntax error, unexpected {token}{at}",
            "locations": [{"line": where.line, "column": where.column}] if where else [],
            "extensions": {"code": "PARSE_ERROR"}}


def ruby_paths(document: DocumentNode) -> dict[int, list[str]]:
    """graphql-ruby's static-validation path for each field/argument node: ``["query Name", "field", ...]``."""
    paths: dict[int, list[str]] = {}

    def walk(selection_set: SelectionSetNode, prefix: list[str]) -> None:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                path = [*prefix, sel.alias.value if sel.alias else sel.name.value]
                paths[id(sel)] = path
                for arg in sel.arguments or ():
                    paths[id(arg)] = paths[id(arg.value)] = [*path, arg.name.value]
                if sel.selection_set:
                    walk(sel.selection_set, path)
            elif isinstance(sel, InlineFragmentNode):
                cond = f"... on {sel.type_condition.name.value}" if sel.type_condition else "..."
                walk(sel.selection_set, [*prefix, cond])
            elif isinstance(sel, FragmentSpreadNode):
                paths[id(sel)] = [*prefix, f"... {sel.name.value}"]

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            head = definition.operation.value + (f" {definition.name.value}" if definition.name else "")
        elif isinstance(definition, FragmentDefinitionNode):
            head = f"fragment {definition.name.value}"
        else:
            continue
        paths[id(definition)] = [head]
        walk(definition.selection_set, [head])
    return paths


# graphql-core message -> (graphql-ruby message, extensions); the common mistakes, checked against
# Shopify's captured answers (undefinedField, selectionMismatch). Others keep graphql-core's wording.
_RUBY_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'"),
     lambda m: (f"Field '{m[1]}' doesn't exist on type '{m[2]}'",
                {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]})),
    (re.compile(r"Field '(\w+)' of type '\[*(\w+)[!\]]*' must have a selection of subfields"),
     lambda m: (f"Field must have selections (field '{m[1]}' returns {m[2]} but has no selections. "
                f"Did you mean '{m[1]} {{ ... }}'?)",
                {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]})),
    (re.compile(r"Field '(\w+)' must not have a selection since type '\[*(\w+)[!\]]*' has no subfields"),
     lambda m: (f"Selections can't be made on scalars (field '{m[1]}' returns {m[2]} but has selections)",
                {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]})),
    (re.compile(r"Unknown argument '(\w+)' on field '\w+\.(\w+)'"),
     lambda m: (f"Field '{m[2]}' doesn't accept argument '{m[1]}'",
                {"code": "argumentNotAccepted", "name": m[2], "typeName": "Field", "argumentName": m[1]})),
    (re.compile(r"Argument '\w+\.(\w+)\((\w+):\)' of type '[^']+' is required"),
     lambda m: (f"Field '{m[1]}' is missing required arguments: {m[2]}",
                {"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]})),
    (re.compile(r"Variable '\$(\w+)' is never used"),
     lambda m: (f"Variable ${m[1]} is declared but not used", {"code": "variableNotUsed", "variableName": m[1]})),
    (re.compile(r"Variable '\$(\w+)' is not defined"),
     lambda m: (f"Variable ${m[1]} is used but not declared", {"code": "variableNotDefined", "variableName": m[1]})),
    (re.compile(r"Fragment '(\w+)' is never used"),
     lambda m: (f"Fragment {m[1]} was defined, but not used", {"code": "useAndDefineFragment", "fragmentName": m[1]})),
]


def validation_error(error: GraphQLError, paths: dict[int, list[str]]) -> dict:
    node = error.nodes[0] if error.nodes else None
    message, extensions = error.message, {"code": "GRAPHQL_VALIDATION_FAILED"}
    for pattern, build in _RUBY_RULES:
        match = pattern.search(error.message)
        if match:
            message, extensions = build(match)
            break
    out: dict[str, Any] = {"message": message,
                           "locations": [{"line": x.line, "column": x.column} for x in error.locations or ()]}
    if node is not None and id(node) in paths:
        out["path"] = paths[id(node)]
    out["extensions"] = extensions
    return out


_VAR_ERROR = re.compile(r"Variable '\$(\w+)' has invalid value(?: at ([^:]+))?: (.*)", re.S)


def variable_errors(operation: OperationDefinitionNode, raw: dict, errors: list[GraphQLError]) -> list[dict]:
    """One INVALID_VARIABLE error per variable, listing its problems as graphql-ruby does."""
    problems: dict[str, list[dict]] = {}
    for error in errors:
        match = _VAR_ERROR.match(error.message)
        if not match:
            continue
        name, at, detail = match.groups()
        path: list[str | int] = [int(i) if i else k for k, i in re.findall(r"\.(\w+)|\[(\d+)\]", at or "")]
        problems.setdefault(name, []).append(_problem(path, detail))
    out = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in problems:
            continue
        type_text = _type_text(definition.type)
        detail = ", ".join(f"{'.'.join(map(str, p['path']))} ({p['explanation']})"
                           for p in problems[name] if p["path"])
        out.append({"message": f"Variable ${name} of type {type_text} was provided invalid value"
                               + (f" for {detail}" if detail else ""),
                    "locations": location_of(definition),
                    "extensions": {"code": "INVALID_VARIABLE", "value": raw.get(name),
                                   "problems": problems[name]}})
    return out


def _problem(path: list[str | int], detail: str) -> dict:
    if m := re.search(r"include required field '(\w+)'", detail):
        return {"path": [*path, m[1]], "explanation": "Expected value to not be null"}
    if m := re.search(r"of type '(\w+)' not to include unknown field '(\w+)'", detail):
        return {"path": [*path, m[2]], "explanation": f"Field is not defined on {m[1]}"}
    if "non-null" in detail or "not to be null" in detail:
        return {"path": path, "explanation": "Expected value to not be null"}
    if m := re.match(r"(\w+) cannot represent [^:]*: (.*)", detail):
        return {"path": path, "explanation": f"Could not coerce value {m[2]} to {m[1]}"}
    return {"path": path, "explanation": detail}


def _type_text(type_node: Any) -> str:
    kind = type_node.kind
    if kind == "non_null_type":
        return _type_text(type_node.type) + "!"
    if kind == "list_type":
        return f"[{_type_text(type_node.type)}]"
    return type_node.name.value


def cost_extension(requested: int | None, actual: int | None, throttle: dict) -> dict:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": throttle}}


def max_cost_error(requested: int) -> dict:
    return {"message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                       f"({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more "
                       "information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data "
                       "with fewer limits, bulk operations should be used instead.\nSee "
                       "https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                           "documentation": COST_DOCS}}


def input_too_large(size: int, node: FieldNode, path: list) -> dict:
    return {"message": f"The input array size of {size} is greater than the maximum allowed of {MAX_INPUT_ARRAY}.",
            "locations": location_of(node), "path": path, "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"}}


def throttled_error() -> dict:
    return {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": THROTTLE_DOCS}}


