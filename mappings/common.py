"""Small pieces every platform mapper shares: the lenient base schema, id and money fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

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


def percent(value: Decimal) -> Decimal:
    """A tax rate as a percentage without trailing zeros: 21.00 -> 21, 7.50 -> 7.5 (never 2E+1)."""
    q = value.quantize(Decimal("0.0001"))
    return q.to_integral_value() if q == q.to_integral_value() else q.normalize()


def normalise_email(value: str | None) -> str | None:
    """The dedupe key of a person across channels: stripped, lower-case; empty -> None."""
    value = (value or "").strip().lower()
    return value or None


def when(value: Any) -> datetime | None:
    """A platform timestamp (ISO 8601 with any fraction length, offset or Z, naive = UTC, or unix seconds) -> aware
    UTC; None if absent. A number that is no time this machine holds is ``Unmappable``."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if isinstance(value, int | float) or text.isdigit():
        try:
            return datetime.fromtimestamp(int(text) if isinstance(value, str) else value, UTC)
        except (OverflowError, ValueError, OSError):  # past year 9999, NaN, or not a time this machine holds
            raise Unmappable(f"not a time: {text:.40}") from None
    text = text.replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # trim nanoseconds (Shopify sends 9 digits) to what datetime holds
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
