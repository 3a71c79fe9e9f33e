"""Marshmallow schemas of the admin API's requests and answers (tasks, replays, needs-mapping, stats).

Requests are loaded through them (unknown keys refused, every error naming its field); answers are dumped
through them, so what the API sends is what the OpenAPI document (generated from these schemas and the
views' docstrings) says. Times are ISO 8601 strings in UTC (``...Z``).
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

TASK_KINDS = ("push_stock", "export_order", "sync_crm", "push_tracking", "process_event")
TASK_STATUSES = ("running", "ok", "retrying", "failed", "cancelled")
ERROR_CLASSES = ("retryable", "permanent", "needs_mapping")
REPLAY_MODES = ("payload", "refresh")
REPLAY_STATUSES = ("queued", "running", "done", "cancelled", "failed")
MAX_LIMIT = 500


def Time(**kw: Any) -> fields.String:  # noqa: N802 - reads as a field type
    """A time as the API writes it: ISO 8601, UTC."""
    return fields.String(metadata={"format": "date-time", **kw.pop("metadata", {})}, **kw)


def TimeFilter(description: str) -> fields.String:  # noqa: N802
    """A time the caller gives: ISO 8601 (UTC if no offset), or how long ago: ``30m``, ``2h``, ``7d``."""
    return fields.String(load_default=None, metadata={
        "description": f"{description}: ISO 8601 (UTC unless an offset is given) or an age such as 30m, 2h, 7d",
        "example": "2h"})


def error_text(exc: ValidationError) -> str:
    """``field: message; other: message`` from marshmallow's nested messages."""

    def walk(messages: Any, prefix: str) -> list[str]:
        if isinstance(messages, dict):
            return [m for k, v in messages.items() for m in walk(v, f"{prefix}.{k}" if prefix else str(k))]
        if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
            return [f"{prefix}: {' '.join(messages)}" if prefix else " ".join(messages)]
        if isinstance(messages, list):
            return [m for v in messages for m in walk(v, prefix)]
        return [f"{prefix}: {messages}" if prefix else str(messages)]

    return "; ".join(walk(exc.messages, ""))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "what was wrong, for a person"})


# ---- tasks ------------------------------------------------------------------------------------------------

class TaskQuerySchema(StrictSchema):
    """Filters of ``GET /api/tasks``."""

    status = fields.String(load_default=None, validate=validate.OneOf(TASK_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(TASK_KINDS))
    channel = fields.String(load_default=None, metadata={"description": "target channel id, erp or crm"})
    error_class = fields.String(load_default=None, validate=validate.OneOf(ERROR_CLASSES))
    entity = fields.String(load_default=None, metadata={"description": "order:42, shipment:7, stock:woo, event:9"})
    since = TimeFilter("started at or after")
    until = TimeFilter("started before")
    unresolved = fields.Boolean(load_default=False, metadata={
        "description": "only failures no later attempt of the same task has fixed"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1), metadata={
        "description": "id cursor: attempts older than this one (next_before of the previous page)"})


class TaskSchema(Schema):
    """One attempt of a task."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(TASK_KINDS))
    channel = fields.String(allow_none=True, metadata={"description": "the target: a channel id, erp or crm"})
    entity = fields.String(required=True)
    idempotency_key = fields.String(allow_none=True)
    attempt = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    error_class = fields.String(allow_none=True, validate=validate.OneOf(ERROR_CLASSES))
    error = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    replay_of = fields.Integer(allow_none=True, metadata={"description": "the task this attempt replays"})
    replay_id = fields.Integer(allow_none=True, metadata={"description": "the replay it ran in"})
    started_at = Time(required=True)
    finished_at = Time(allow_none=True)
    resolved_by = fields.Integer(allow_none=True, metadata={
        "description": "a later successful attempt of the same task, if any"})


class TaskDetailSchema(TaskSchema):
    args = fields.Dict(allow_none=True, metadata={"description": "the job's arguments"})
    detail = fields.Dict(allow_none=True, metadata={"description": "what the attempt covered or made"})
    traceback = fields.String(allow_none=True)
    attempts = fields.List(fields.Nested(TaskSchema), metadata={
        "description": "every attempt of the same task (kind and entity), oldest first"})
    replays = fields.List(fields.Nested(TaskSchema), metadata={"description": "attempts that replayed this one"})


class TaskListSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema), required=True)
    next_before = fields.Integer(allow_none=True, metadata={"description": "cursor for the next page"})


# ---- replays ---------------------------------------------------------------------------------------------

class ReplayModeSchema(StrictSchema):
    """Body of a single replay; the mode defaults per kind (refresh for stock and orders)."""

    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES), metadata={
        "description": "payload: from the stored input; refresh: re-read the platform first where it allows"})


class ReplayFilterSchema(StrictSchema):
    """What a replay covers: one task, one event, or the failed tasks matching the rest."""

    task_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    event_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    kind = fields.String(load_default=None, validate=validate.OneOf(TASK_KINDS))
    channel = fields.String(load_default=None)
    error_class = fields.String(load_default=None, validate=validate.OneOf(ERROR_CLASSES))
    since = TimeFilter("failed attempts started at or after")
    until = TimeFilter("failed attempts started before")
    include_resolved = fields.Boolean(load_default=False, metadata={
        "description": "also failures a later attempt already fixed"})

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("task_id") is not None and data.get("event_id") is not None:
            raise ValidationError("give a task or an event, not both", "task_id")


class ReplayRequestSchema(StrictSchema):
    """Body of ``POST /api/replay``."""

    filter = fields.Nested(ReplayFilterSchema, load_default=dict)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES))
    dry_run = fields.Boolean(load_default=False, metadata={"description": "only answer the plan"})


class ActionSchema(Schema):
    """One planned step of a replay, with its remote effect in words."""

    op = fields.String(required=True, validate=validate.OneOf(TASK_KINDS))
    key = fields.String(required=True, metadata={"description": "what it acts on: stock:woo, order:42, ..."})
    mode = fields.String(required=True, validate=validate.OneOf(REPLAY_MODES))
    text = fields.String(required=True, metadata={"example": "update stock of 312 SKUs on woo"})
    tasks = fields.Integer(required=True, metadata={"description": "failed attempts it covers"})
    task_ids = fields.List(fields.Integer(), metadata={"description": "the first 50 of them"})
    skus = fields.Integer(allow_none=True, metadata={"description": "push_stock: SKUs the failed pushes covered"})


class ReplaySchema(Schema):
    """A replay, its plan and its progress."""

    id = fields.Integer(required=True)
    filter = fields.Dict(required=True)
    mode = fields.String(required=True, metadata={"description": "payload, refresh, or auto (per kind)"})
    dry_run = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REPLAY_STATUSES))
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    progress = fields.Float(required=True, metadata={"description": "done / total, 0 to 1"})
    error = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    created_by = fields.String(allow_none=True)
    created_at = Time(required=True)
    started_at = Time(allow_none=True)
    finished_at = Time(allow_none=True)
    actions = fields.List(fields.Nested(ActionSchema), required=True)
    tasks = fields.List(fields.Nested(TaskSchema), metadata={"description": "the attempts it made so far"})


class PreviewSchema(Schema):
    """A dry run: what would run (stored as a replay with dry_run true, which never runs)."""

    id = fields.Integer(required=True)
    dry_run = fields.Boolean(required=True)
    total = fields.Integer(required=True)
    actions = fields.List(fields.Nested(ActionSchema), required=True)


# ---- needs-mapping and stats ------------------------------------------------------------------------------

class MissingLinkSchema(Schema):
    channel = fields.String(required=True)
    missing = fields.String(required=True, metadata={"description": "inventory_item_id, product_id or location_id"})
    key = fields.String(required=True, metadata={"description": "the channel's id that has no link"})
    events = fields.Integer(required=True)
    event_ids = fields.List(fields.Integer())
    since = Time(allow_none=True)


class MissingRecordSchema(Schema):
    kind = fields.String(required=True)
    channel = fields.String(allow_none=True)
    error = fields.String(required=True)
    tasks = fields.Integer(required=True)
    task_ids = fields.List(fields.Integer())


class NeedsMappingSchema(Schema):
    links = fields.List(fields.Nested(MissingLinkSchema), required=True, metadata={
        "description": "parked events grouped by the link they wait for; adding it resumes them"})
    tasks = fields.List(fields.Nested(MissingRecordSchema), required=True, metadata={
        "description": "failed tasks the target refused for want of a record (e.g. a SKU unknown to the ERP)"})


class MinuteCountSchema(Schema):
    minute = Time(required=True)
    channel = fields.String(required=True)
    count = fields.Integer(required=True)


class QueuesSchema(Schema):
    waiting = fields.Dict(keys=fields.String(), values=fields.Integer())
    failed = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "jobs in RQ's failed registry per queue"})
    inbox = fields.Integer(metadata={"description": "deliveries announced, not yet relayed"})
    error = fields.String()


class StatsSchema(Schema):
    window_s = fields.Integer(required=True)
    deliveries_per_minute = fields.List(fields.Nested(MinuteCountSchema), required=True)
    deliveries_by_channel = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    failures_by_class = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "open failures (no later success) by error class"})
    failures_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    tasks_last_hour = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    parked_events = fields.Integer(required=True)
    queues = fields.Nested(QueuesSchema, required=True)
    oldest_pending_delivery_at = Time(allow_none=True)
    oldest_pending_delivery_age_s = fields.Float(allow_none=True)
    oldest_pending_task_at = Time(allow_none=True)
    oldest_pending_task_age_s = fields.Float(allow_none=True)
