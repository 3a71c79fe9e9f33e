"""Odoo search domains and ``order`` strings, evaluated over the sandbox's in-memory records.

A domain is Odoo's prefix notation: ``'&'`` and ``'|'`` take the next two terms, ``'!'`` the next one,
consecutive terms are ANDed. Leaves are ``(field, operator, value)`` with ``= != > >= < <= in 'not in'
like ilike 'not like' 'not ilike' =like =ilike =?``; a dotted path follows many2one fields. NULL
behaves as in PostgreSQL with Odoo's additions: ``!=``, ``not in`` and the negative likes also match
NULL; ``= False`` matches NULL. Datetimes compare at full (microsecond) precision, like the database,
although a read only shows seconds. Orders sort NULLs last ascending and first descending.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.odoo.models import VALUE_ERROR, Field, OdooError, get_field, invalid_field, to_datetime

Record = dict[str, Any]
Resolver = Callable[[str, Record, str], Any]  # (model, record, field name) -> stored or computed value
Lookup = Callable[[str, int], Record | None]  # (model, id) -> record

OPERATORS = frozenset({"=", "!=", ">", ">=", "<", "<=", "in", "not in", "like", "not like", "ilike", "not ilike",
                       "=like", "=ilike", "=?"})
NEGATIVE = frozenset({"!=", "not in", "not like", "not ilike"})
TRUE_LEAF, FALSE_LEAF = (1, "=", 1), (0, "=", 1)


def compile_domain(model: str, domain: Any, value: Resolver, lookup: Lookup,
                   display: Callable[[str, Record], str]) -> Callable[[Record], bool]:
    """Parse ``domain`` once into a predicate over records of ``model``; Odoo's ValueErrors on bad input."""
    if domain in (None, False):
        domain = []
    if not isinstance(domain, list):
        raise OdooError(VALUE_ERROR, f"Invalid domain: {domain!r}")
    terms, pos = [], 0
    while pos < len(domain):
        pred, pos = _term(model, domain, pos, value, lookup, display)
        terms.append(pred)
    return lambda rec: all(t(rec) for t in terms)


def _term(model: str, domain: list, pos: int, value: Resolver, lookup: Lookup,
          display: Callable[[str, Record], str]) -> tuple[Callable[[Record], bool], int]:
    token = domain[pos]
    if token in ("&", "|"):
        left, pos = _term(model, domain, pos + 1, value, lookup, display) if pos + 1 < len(domain) else _bad(domain)
        right, pos = _term(model, domain, pos, value, lookup, display) if pos < len(domain) else _bad(domain)
        if token == "&":
            return (lambda rec: left(rec) and right(rec)), pos
        return (lambda rec: left(rec) or right(rec)), pos
    if token == "!":
        inner, pos = _term(model, domain, pos + 1, value, lookup, display) if pos + 1 < len(domain) else _bad(domain)
        return (lambda rec: not inner(rec)), pos
    return _leaf(model, token, value, lookup, display), pos + 1


def _bad(domain: list) -> tuple[Callable[[Record], bool], int]:
    raise OdooError(VALUE_ERROR, f"Domain {domain!r} syntax error: an operator is missing an operand")


def _leaf(model: str, leaf: Any, value: Resolver, lookup: Lookup,
          display: Callable[[str, Record], str]) -> Callable[[Record], bool]:
    if not isinstance(leaf, list | tuple) or len(leaf) != 3:
        raise OdooError(VALUE_ERROR, f"Invalid leaf {leaf!r}")
    left, op, right = leaf
    if tuple(leaf) == TRUE_LEAF:
        return lambda rec: True
    if tuple(leaf) == FALSE_LEAF:
        return lambda rec: False
    if not isinstance(left, str) or op not in OPERATORS:
        raise OdooError(VALUE_ERROR, f"Invalid leaf {tuple(leaf)!r}")
    head, _, rest = left.partition(".")
    f = get_field(model, head)
    if f is None:
        raise OdooError(VALUE_ERROR, f"Invalid field {model}.{head} in leaf {tuple(leaf)!r}")
    if rest:
        if f.type != "many2one":
            raise OdooError(VALUE_ERROR, f"Invalid field {model}.{left} in leaf {tuple(leaf)!r}")
        sub = _leaf(f.comodel or "", (rest, op, right), value, lookup, display)

        def follow(rec: Record) -> bool:
            target = value(model, rec, head)
            linked = lookup(f.comodel or "", target) if target else None
            return sub(linked) if linked is not None else op in NEGATIVE
        return follow
    if op == "=?":
        if right is False or right is None:
            return lambda rec: True
        op = "="
    test = _comparison(model, head, f, op, right, lookup, display)
    return lambda rec: test(value(model, rec, head))


def _comparison(model: str, fname: str, f: Field, op: str, right: Any, lookup: Lookup,
                display: Callable[[str, Record], str]) -> Callable[[Any], bool]:
    if f.type == "many2one" and isinstance(right, str):
        # name_search on the comodel: the leaf compares the linked record's display name
        cmp = _plain(op, right, "char")

        def by_name(stored: Any) -> bool:
            linked = lookup(f.comodel or "", stored) if stored else None
            return cmp(display(f.comodel or "", linked) if linked else None)
        return by_name
    if f.type == "datetime":
        right = _datetimes(right, model, fname)
    return _plain(op, right, f.type)


def _datetimes(right: Any, model: str, fname: str) -> Any:
    if isinstance(right, list | tuple):
        return [_datetimes(v, model, fname) for v in right]
    return right if right is False or right is None else to_datetime(right, model, fname)


def _plain(op: str, right: Any, ftype: str) -> Callable[[Any], bool]:
    def is_null(v: Any) -> bool:
        return v is None or (v is False and ftype != "boolean")

    if op in {"in", "not in"}:
        values = list(right) if isinstance(right, list | tuple) else [right]
        wants_null = any(v is False or v is None for v in values)
        members = [v for v in values if v is not False and v is not None]
        if op == "in":
            return lambda v: (wants_null and (is_null(v) or v is False)) or (not is_null(v) and v in members)
        return lambda v: (is_null(v) and not wants_null) or (not is_null(v) and v not in members)
    if right is False or right is None:
        if op == "=":
            return lambda v: is_null(v) or v is False
        if op == "!=":
            return lambda v: not (is_null(v) or v is False)
    if op in {"like", "not like", "ilike", "not ilike", "=like", "=ilike"}:
        pattern = like_regex(str(right), exact=op.startswith("="), ignore_case="ilike" in op)
        if op.startswith("not"):
            return lambda v: is_null(v) or not pattern.fullmatch(str(v))
        return lambda v: not is_null(v) and bool(pattern.fullmatch(str(v)))
    compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
               ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}[op]

    def test(v: Any) -> bool:
        if is_null(v):
            return op == "!="
        try:
            return bool(compare(v, right))
        except TypeError:  # PostgreSQL would refuse to compare; nothing matches
            return False
    return test


def like_regex(pattern: str, exact: bool, ignore_case: bool) -> re.Pattern[str]:
    """A SQL LIKE pattern (``%`` any run, ``_`` one character, backslash escapes) as a regex; ``like`` and
    ``ilike`` wrap the value in ``%...%`` and do not escape it, so a ``_`` in the value is a wildcard."""
    if not exact:
        pattern = f"%{pattern}%"
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def parse_order(model: str, order: Any) -> list[tuple[str, bool]]:
    """``"write_date asc, id desc"`` -> [(field, descending)]; an unknown field is Odoo's ValueError."""
    if not isinstance(order, str) or not order.strip():
        raise OdooError(VALUE_ERROR, f'Invalid "order" specified ({order!r}).')
    keys = []
    for part in order.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise OdooError(VALUE_ERROR, f'Invalid "order" specified ({order}). A valid "order" specification is '
                            "a comma-separated list of valid field names (optionally followed by asc/desc for the "
                            "direction)")
        f = get_field(model, words[0])
        if f is None or f.type == "one2many":
            raise invalid_field(model, words[0])
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return keys


def sort_records(model: str, records: list[Record], keys: list[tuple[str, bool]], value: Resolver) -> list[Record]:
    """PostgreSQL's ORDER BY: NULLS LAST ascending, NULLS FIRST descending; many2one by id (Odoo orders a
    many2one by the comodel's own order; the sandbox's callers order by dates and ids)."""
    out = list(records)
    for fname, desc in reversed(keys):  # stable sorts, least significant key first
        ftype = get_field(model, fname).type  # type: ignore[union-attr]

        def key(rec: Record, fname: str = fname, ftype: str = ftype) -> tuple:
            v = value(model, rec, fname)
            if v is None or (v is False and ftype != "boolean"):
                return (1, 0)  # reverse=True turns "last" into "first"
            return (0, v.timestamp() if isinstance(v, datetime) else v)
        out.sort(key=key, reverse=desc)
    return out
