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


def error_fields(messages: Any, prefix: str = "", dict_values: bool = False) -> list[tuple[str, str]]:
    """marshmallow's nested error messages as (field path, what is wrong), one per field: ``("line_items.0.quantity",
    "Not a valid integer.")``; with ``dict_values`` the ``value`` level a ``Dict(values=...)`` field adds is skipped
    (``channels.w.kind``). The one flattening the config, the API and the mappers share; each words the pairs its
    own way."""
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, sub in messages.items():
            if dict_values and key == "value" and prefix:
                out += error_fields(sub, prefix, dict_values)
                continue
            out += error_fields(sub, f"{prefix}.{key}" if prefix else str(key), dict_values)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, " ".join(messages))]
    if isinstance(messages, list):
        return [e for m in messages for e in error_fields(m, prefix, dict_values)]
    return [(prefix, str(messages))]


def describe(err: ValidationError) -> str:
    """A marshmallow error as one line: ``line_items.0.quantity: Not a valid integer.; ...``"""
    return "; ".join(f"{path or 'payload'}: {what}" for path, what in error_fields(err.messages))


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
