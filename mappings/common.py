"""Small pieces every platform mapper shares: the lenient base schema, id and money fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

from connectors.base import parse_time

from . import Handler, MapContext, Unmappable, load_with
from .canonical import EventType, Mapped


class Lenient(Schema):
    """Platform input: keys the hub does not use are dropped, not errors."""

    class Meta:
        unknown = EXCLUDE


class IdString(fields.Field):
    """Platform ids arrive as JSON numbers (Shopify, Woo) or strings; the hub keeps strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            raise ValidationError("Not a valid id.")
        return str(value)


def decimal_str(value: Any, what: str) -> Decimal:
    """An exact Decimal from a platform amount (a string, or a JSON number parsed as Decimal)."""
    if isinstance(value, float):  # never expected: bodies are parsed with parse_float=Decimal
        value = str(value)
    try:
        out = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Unmappable(f"{what}: not a decimal amount: {value!r}") from None
    if not out.is_finite():
        raise Unmappable(f"{what}: not a finite amount: {value!r}")
    return out


def normalise_email(value: str | None) -> str | None:
    """The dedupe key of a person across channels: stripped, lower-case; empty -> None."""
    value = (value or "").strip().lower()
    return value or None


def when(value: Any) -> datetime | None:
    """A platform timestamp (ISO 8601 with offset or Z, naive = UTC, or unix seconds) -> aware UTC."""
    return parse_time(value)


class UtcDateTime(fields.AwareDateTime):
    """ISO 8601 (offset or Z; a bare date is midnight) -> aware UTC. A time without an offset is
    taken as UTC: the platforms that send one (EasyPost, Shippo, AfterShip checkpoints) mean UTC
    or a local zone they do not name, and UTC is the documented reading for each."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


def optional(field: type[fields.Field], **kwargs: Any) -> fields.Field:
    """A field that may be absent or null (-> None)."""
    return field(load_default=None, allow_none=True, **kwargs)


class PlaceSchema(Lenient):
    """A carrier scan location ``{city, state, country}`` -> ``"City, State, Country"`` (or None)."""

    city = optional(fields.String)
    state = optional(fields.String)
    country = optional(fields.String)

    @post_load
    def _join(self, data: dict[str, Any], **_: Any) -> str | None:
        return ", ".join(part for part in (data["city"], data["state"], data["country"]) if part) or None


def schema_handler(schema: type[Schema], event_type: EventType) -> Handler:
    """A TOPICS entry whose schema's post_load returns the list of records."""

    def handle(payload: dict[str, Any], ctx: MapContext) -> Mapped:
        return Mapped(event_type, load_with(schema(), payload, ctx))

    handle.__qualname__ = f"handle_{schema.__name__}"
    return handle
