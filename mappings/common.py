"""Small pieces every platform mapper shares: the lenient base schema, id and money fields."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from connectors.base import parse_time

from . import Unmappable


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
