"""Canonical model (``canonical.py``) and one pure mapper module per platform.

Every platform module exposes ``TOPICS``: a dispatch table ``{topic: handler}`` where a handler
is ``handler(payload: dict, ctx: MapContext) -> Mapped``. A topic missing from the table is
``ignored`` by the hub (recorded with its topic, not an error). Handlers do no I/O: anything
they need from the store (links) comes through ``ctx``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from marshmallow import ValidationError
from marshmallow.experimental.context import Context

from .canonical import Mapped


class Unmappable(Exception):
    """The payload does not fit the platform's schema; the message says what to fix."""


class LinkLookup(Protocol):
    def sku_for(self, channel: str, *, inventory_item_id: str | None = None, product_id: str | None = None,
                variant_id: str | None = None) -> str | None: ...

    def warehouse_for(self, channel: str, location_id: str | None) -> str | None: ...


class NoLinks:
    """A lookup that knows nothing (mappers that need no links, and tests)."""

    def sku_for(self, channel: str, **_: Any) -> str | None:
        return None

    def warehouse_for(self, channel: str, location_id: str | None) -> str | None:
        return None


@dataclass(frozen=True)
class MapContext:
    channel: str
    links: LinkLookup = field(default_factory=NoLinks)
    settings: Mapping[str, Any] = field(default_factory=dict)  # the channel's config keys


Handler = Callable[[dict[str, Any], MapContext], Mapped]


def describe(err: ValidationError) -> str:
    """A marshmallow error as one line a person can act on: ``line_items.0.quantity: Not a valid integer.``"""
    out: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                walk(sub, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            out.append(f"{path or 'payload'}: {' '.join(node)}")
        elif isinstance(node, list):
            for sub in node:
                walk(sub, path)
        else:
            out.append(f"{path or 'payload'}: {node}")

    walk(err.messages, "")
    return "; ".join(out)


@functools.cache
def _schema(cls: type) -> Any:
    return cls()


def load_with(schema: Any, payload: Any, ctx: MapContext) -> Any:
    """Load ``payload`` with a platform schema (a class: one instance is kept and reused, as building
    one copies every field; or an instance); hooks read the MapContext with ``current_ctx()``.

    Validation errors become ``Unmappable`` with a one-line reason.
    """
    if isinstance(schema, type):
        schema = _schema(schema)
    try:
        with Context(ctx):
            return schema.load(payload)
    except ValidationError as err:
        raise Unmappable(describe(err)) from None


def current_ctx() -> MapContext:
    """The MapContext of the load in progress (marshmallow 4's replacement for Schema.context)."""
    return Context[MapContext].get()
