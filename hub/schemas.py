"""Marshmallow schemas of the admin API: query strings, request bodies and responses.

They are the API's contract: ``hub/openapi.py`` turns them into the OpenAPI document, views parse
their query strings with ``load_query``, and the tests check every answer against them. Response
schemas list every key the view returns (``REQ``: always there; ``NUL``: always there, may be
null) and refuse any other (``unknown = RAISE`` becomes ``additionalProperties: false``).
"""

from __future__ import annotations

from typing import Any

from flask import abort, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from .models import EventStatus

REQ: dict[str, Any] = {"required": True}
NUL: dict[str, Any] = {"required": True, "allow_none": True}
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
DB_INT_MAX = 2**63 - 1
DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"


def text(max_len: int = 255, **kw: Any) -> fields.String:
    """A string parameter that fits the column it is compared with (PostgreSQL refuses NUL and overlong)."""
    return fields.String(validate=[validate.Length(max=max_len), NO_NUL], **kw)


def limit(default: int, maximum: int) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=maximum),
                          metadata={"description": f"at most this many rows (default {default})"})


def load_query(schema: type[Schema]) -> dict[str, Any]:
    """The request's query string parsed by ``schema``; 400 naming each bad parameter."""
    try:
        return schema().load(request.args)
    except ValidationError as exc:
        abort(400, description=describe(exc.messages))


def describe(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"'{k}': {describe(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(describe(m) for m in messages)
    return str(messages)


class Query(Schema):
    """Query-string base: unknown parameters are ignored, an empty value is the same as none."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_is_absent(self, data: Any, **_kw: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v != ""}


class Out(Schema):
    """Response base: exactly the listed keys."""

    class Meta:
        unknown = RAISE


class Error(Out):
    error = fields.String(**REQ, metadata={"description": "what was wrong, for a person"})


def when(**kw: Any) -> fields.DateTime:
    """A time as the API writes it: ISO 8601 in UTC with a ``Z``."""
    return fields.DateTime(**kw)


# --- events --------------------------------------------------------------------------------------

class EventsQuery(Query):
    channel = text(64)
    topic = text(128)
    status = fields.String(validate=validate.OneOf([s.value for s in EventStatus]))
    limit = limit(50, 500)
    before = fields.Integer(validate=validate.Range(min=1, max=DB_INT_MAX),
                            metadata={"description": "cursor: events with a smaller id (next_before of a page)"})


class EventSummary(Out):
    id = fields.Integer(**REQ)
    channel = fields.String(**REQ)
    kind = fields.String(**REQ, metadata={"description": "the channel's platform (shopify, stripe, ...)"})
    topic = fields.String(**REQ)
    dedupe_key = fields.String(**REQ)
    status = fields.String(**REQ, validate=validate.OneOf([s.value for s in EventStatus]))
    status_reason = fields.String(**NUL)
    received_at = when(**REQ)
    occurred_at = when(**NUL)
    updated_at = when(**REQ)


class EventList(Out):
    events = fields.List(fields.Nested(EventSummary), **REQ)
    next_before = fields.Integer(**NUL, metadata={"description": "pass as ?before= for the next page"})


class StatusChange(Out):
    status = fields.String(**REQ)
    at = when(**REQ)
    note = fields.String(**NUL)


class EventDetail(EventSummary):
    headers = fields.Dict(keys=fields.String(), values=fields.String(), **REQ,
                          metadata={"description": "as received, credentials replaced by [redacted]"})
    body = fields.String(**REQ, metadata={"description": "the raw body as text (invalid UTF-8 replaced)"})
    history = fields.List(fields.Nested(StatusChange), **REQ)

