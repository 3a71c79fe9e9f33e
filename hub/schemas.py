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

from .models import ErrorClass, EventStatus, ReplayStatus, TaskStatus

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



# --- tasks and replays ---------------------------------------------------------------------------

TASK_KINDS = ("push_stock", "export_order", "sync_crm", "push_tracking", "process_event")
TASK_STATUSES = tuple(s.value for s in TaskStatus)
ERROR_CLASSES = tuple(c.value for c in ErrorClass)
REPLAY_MODES = ("payload", "refresh")
REPLAY_STATUSES = tuple(s.value for s in ReplayStatus)
ID = validate.Range(min=1, max=DB_INT_MAX)


def time_filter(description: str) -> fields.String:
    """A time the caller gives: ISO 8601 (UTC unless an offset is given) or an age: ``30m``, ``2h``, ``7d``."""
    return text(64, metadata={"description": f"{description}: ISO 8601 (UTC unless an offset is given) or an "
                                             "age such as 30m, 2h, 7d", "example": "2h"})


class TasksQuery(Query):
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    kind = fields.String(validate=validate.OneOf(TASK_KINDS))
    channel = text(64, metadata={"description": "the target: a channel id, erp or crm"})
    error_class = fields.String(validate=validate.OneOf(ERROR_CLASSES))
    entity = text(128, metadata={"description": "order:42, shipment:7, stock:woo, event:9"})
    since = time_filter("started at or after")
    until = time_filter("started before")
    unresolved = fields.Boolean(load_default=False, metadata={
        "description": "only failures that no later attempt of the same task has fixed"})
    limit = limit(50, 500)
    before = fields.Integer(validate=ID, metadata={"description": "cursor: attempts with a smaller id "
                                                                   "(next_before of a page)"})


class Task(Out):
    """One attempt of a sync task (or a failed, parked or resumed event processing)."""

    id = fields.Integer(**REQ)
    kind = fields.String(**REQ, validate=validate.OneOf(TASK_KINDS))
    channel = fields.String(**NUL, metadata={"description": "the target: a channel id, erp or crm; events: "
                                                            "the channel they came from"})
    entity = fields.String(**REQ, metadata={"description": "order:42, shipment:7, stock:woo, event:9"})
    idempotency_key = fields.String(**NUL, metadata={"description": "what makes a repeat a no-op at the "
                                                                    "target (client_order_ref, hub_order_key, ...)"})
    attempt = fields.Integer(**REQ)
    status = fields.String(**REQ, validate=validate.OneOf(TASK_STATUSES))
    error_class = fields.String(**NUL, validate=validate.OneOf(ERROR_CLASSES))
    error = fields.String(**NUL)
    job_id = fields.String(**NUL)
    replay_of = fields.Integer(**NUL, metadata={"description": "the task this attempt replays"})
    replay_id = fields.Integer(**NUL, metadata={"description": "the replay it ran in"})
    started_at = when(**REQ)
    finished_at = when(**NUL)
    resolved_by = fields.Integer(**NUL, metadata={"description": "a later successful attempt of the same task"})


class TaskDetail(Task):
    args = fields.Dict(**NUL, metadata={"description": "the job's arguments"})
    detail = fields.Dict(**NUL, metadata={"description": "what the attempt covered or made (a push's SKUs "
                                                         "and quantities, the sale order, ...)"})
    traceback = fields.String(**NUL)
    attempts = fields.List(fields.Nested(Task), **REQ, metadata={
        "description": "every attempt of the same task (kind and entity), oldest first"})
    replays = fields.List(fields.Nested(Task), **REQ, metadata={"description": "attempts that replayed this one"})


class TaskList(Out):
    tasks = fields.List(fields.Nested(Task), **REQ)
    next_before = fields.Integer(**NUL, metadata={"description": "pass as ?before= for the next page"})


class Body(Schema):
    """Request-body base: an unknown key is refused (a misspelt filter must not widen a replay)."""

    class Meta:
        unknown = RAISE


class ReplayMode(Body):
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES), metadata={
        "description": "payload: from the stored input; refresh: re-read the platform first where it allows. "
                       "Default per kind: refresh for stock pushes and order exports, payload otherwise"})


class ReplayFilterIn(Body):
    """What a replay covers: one task, one event, or the failed tasks matching the rest."""

    task_id = fields.Integer(validate=ID)
    event_id = fields.Integer(validate=ID)
    kind = fields.String(validate=validate.OneOf(TASK_KINDS))
    channel = text(64)
    error_class = fields.String(validate=validate.OneOf(ERROR_CLASSES))
    since = time_filter("failed attempts started at or after")
    until = time_filter("failed attempts started before")
    include_resolved = fields.Boolean(metadata={"description": "also failures a later attempt already fixed"})


class ReplayRequest(Body):
    filter = fields.Nested(ReplayFilterIn, load_default=dict)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES))
    dry_run = fields.Boolean(load_default=False, metadata={"description": "only answer the plan"})


class ReplayAction(Out):
    """One planned step of a replay, with its remote effect in words."""

    op = fields.String(**REQ, validate=validate.OneOf(TASK_KINDS))
    key = fields.String(**REQ, metadata={"description": "what it acts on: stock:woo, order:42, ..."})
    mode = fields.String(**REQ, validate=validate.OneOf(REPLAY_MODES))
    text = fields.String(**REQ, metadata={"example": "update stock of 312 SKUs on woo"})
    tasks = fields.Integer(**REQ, metadata={"description": "failed attempts it covers"})
    task_ids = fields.List(fields.Integer(), **REQ, metadata={"description": "the first 50 of them"})
    skus = fields.Integer(**NUL, metadata={"description": "push_stock: SKUs the failed pushes covered"})


class Replay(Out):
    """A replay: its plan and its progress."""

    id = fields.Integer(**REQ)
    filter = fields.Dict(**REQ)
    mode = fields.String(**REQ, metadata={"description": "payload, refresh, or auto (the default per kind)"})
    dry_run = fields.Boolean(**REQ)
    status = fields.String(**REQ, validate=validate.OneOf(REPLAY_STATUSES))
    total = fields.Integer(**REQ)
    done = fields.Integer(**REQ)
    failed = fields.Integer(**REQ)
    progress = fields.Float(**REQ, metadata={"description": "done / total, from 0 to 1"})
    error = fields.String(**NUL)
    job_id = fields.String(**NUL)
    created_by = fields.String(**NUL)
    created_at = when(**REQ)
    started_at = when(**NUL)
    finished_at = when(**NUL)
    actions = fields.List(fields.Nested(ReplayAction), **REQ)
    tasks = fields.List(fields.Nested(Task), **REQ, metadata={"description": "the attempts it made so far"})


class MissingLink(Out):
    channel = fields.String(**REQ)
    missing = fields.String(**REQ, metadata={"description": "inventory_item_id, product_id or location_id"})
    key = fields.String(**REQ, metadata={"description": "the channel's id that has no link"})
    events = fields.Integer(**REQ)
    event_ids = fields.List(fields.Integer(), **REQ)
    since = when(**NUL)


class MissingRecord(Out):
    kind = fields.String(**REQ)
    channel = fields.String(**NUL)
    error = fields.String(**REQ)
    tasks = fields.Integer(**REQ)
    task_ids = fields.List(fields.Integer(), **REQ)


class NeedsMapping(Out):
    links = fields.List(fields.Nested(MissingLink), **REQ, metadata={
        "description": "parked events grouped by the link they wait for; adding it resumes them"})
    tasks = fields.List(fields.Nested(MissingRecord), **REQ, metadata={
        "description": "failed tasks the target refused for want of a record (e.g. a SKU unknown to the ERP)"})


class MinuteCount(Out):
    minute = when(**REQ)
    channel = fields.String(**REQ)
    count = fields.Integer(**REQ)


class QueueDepths(Out):
    waiting = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ)
    failed = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ,
                         metadata={"description": "jobs in RQ's failed registry per queue"})
    inbox = fields.Integer(**NUL, metadata={"description": "deliveries announced, not yet relayed"})
    error = fields.String(**NUL, metadata={"description": "set when Redis could not be read"})


class Stats(Out):
    window_s = fields.Integer(**REQ)
    deliveries_per_minute = fields.List(fields.Nested(MinuteCount), **REQ)
    deliveries_by_channel = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ)
    failures_by_class = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ, metadata={
        "description": "open failures (no later success) by error class"})
    failures_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ)
    tasks_last_hour = fields.Dict(keys=fields.String(), values=fields.Integer(), **REQ)
    parked_events = fields.Integer(**REQ)
    queues = fields.Nested(QueueDepths, **REQ)
    oldest_pending_delivery_at = when(**NUL)
    oldest_pending_delivery_age_s = fields.Float(**NUL)
    oldest_pending_task_at = when(**NUL)
    oldest_pending_task_age_s = fields.Float(**NUL)
