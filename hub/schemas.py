"""Marshmallow schemas of the admin API: query strings, request bodies and responses.

They are the API's contract: ``hub/openapi.py`` turns them into the OpenAPI document, views parse
their query strings with ``load_query``, and the tests check every answer against them. Response
schemas list every key the view returns (``REQ``: always there; ``NUL``: always there, may be
null) and refuse any other (``unknown = RAISE`` becomes ``additionalProperties: false``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import abort, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

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
    """Query-string base: an unknown parameter is a 400 (a misspelt filter must not list everything).
    Views treat an empty text filter as none; an empty number, flag or date is a 400."""

    class Meta:
        unknown = RAISE


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



# --- orders, customers, payments, shipments ------------------------------------------------------

class Money(Out):
    amount = fields.String(**REQ, validate=validate.Regexp(DECIMAL),
                           metadata={"description": "decimal string, at least the currency's minor units"})
    currency = fields.String(**REQ, metadata={"description": "ISO 4217 code"})


def money(**kw: Any) -> fields.Nested:
    return fields.Nested(Money, **kw)


class OrdersQuery(Query):
    channel = text(64)
    status = text(24)
    q = text(320, metadata={"description": "an order number, the channel's order id or the customer's email"})
    limit = limit(50, 500)


class OrderSummary(Out):
    id = fields.Integer(**REQ)
    channel = fields.String(**REQ)
    external_id = fields.String(**REQ, metadata={"description": "the order's id in its channel"})
    number = fields.String(**REQ)
    status = fields.String(**REQ)
    email = fields.String(**NUL)
    customer_id = fields.Integer(**NUL)
    payment_method = fields.String(**NUL)
    subtotal = money(**REQ)
    shipping = money(**REQ)
    tax = money(**REQ)
    discount = money(**REQ)
    total = money(**REQ)
    presentment_total = money(**NUL, metadata={"description": "the total in the shopper's currency"})
    placed_at = when(**NUL)
    updated_at = when(**NUL, metadata={"description": "when the channel last changed the order"})


class OrderList(Out):
    orders = fields.List(fields.Nested(OrderSummary), **REQ)


class OrderLine(Out):
    sku = fields.String(**NUL)
    title = fields.String(**NUL)
    quantity = fields.Integer(**REQ)
    unit_price = money(**REQ)
    tax = money(**NUL)
    discount = money(**NUL)


class CustomerChannel(Out):
    channel = fields.String(**REQ)
    external_id = fields.String(**REQ)


class Customer(Out):
    id = fields.Integer(**REQ)
    email = fields.String(**NUL)
    first_name = fields.String(**NUL)
    last_name = fields.String(**NUL)
    phone = fields.String(**NUL)
    accepts_marketing = fields.Boolean(**NUL)
    addresses = fields.List(fields.Dict(), **REQ)
    channels = fields.List(fields.Nested(CustomerChannel), **REQ)


class CustomersQuery(Query):
    email = text(320)
    limit = limit(50, 500)


class CustomerList(Out):
    customers = fields.List(fields.Nested(Customer), **REQ)


class Payment(Out):
    id = fields.Integer(**REQ)
    provider = fields.String(**REQ)
    channel = fields.String(**NUL)
    external_id = fields.String(**REQ)
    order_id = fields.Integer(**NUL, metadata={"description": "null: not matched to an order yet"})
    order_reference = fields.String(**NUL)
    status = fields.String(**REQ)
    customer_email = fields.String(**NUL)
    amount = money(**REQ)
    refunded = money(**NUL)
    occurred_at = when(**NUL)
    matched_at = when(**NUL)


class PaymentsQuery(Query):
    unmatched = fields.Boolean(load_default=False, metadata={"description": "only payments without an order"})
    limit = limit(50, 500)


class PaymentList(Out):
    payments = fields.List(fields.Nested(Payment), **REQ)


class Shipment(Out):
    id = fields.Integer(**REQ)
    carrier = fields.String(**REQ)
    tracking_number = fields.String(**REQ)
    status = fields.String(**REQ)
    channel = fields.String(**NUL)
    order_id = fields.Integer(**NUL)
    order_reference = fields.String(**NUL)
    events = fields.List(fields.Dict(), **REQ, metadata={"description": "the carrier's scans, each once"})
    estimated_delivery = when(**NUL)
    delivered_at = when(**NUL)
    shipped_at = when(**NUL)
    promised_at = when(**NUL)
    promised_by = fields.String(**NUL, validate=validate.OneOf(["carrier", "sla"]))
    pushed_at = when(**NUL, metadata={"description": "the tracking reached the order's channel"})
    push_ref = fields.String(**NUL)
    push_error = fields.String(**NUL)


class ShipmentsQuery(Query):
    status = text(24)
    limit = limit(50, 500)


class ShipmentList(Out):
    shipments = fields.List(fields.Nested(Shipment), **REQ)


class OrderEvent(Out):
    id = fields.Integer(**REQ)
    topic = fields.String(**REQ)
    channel = fields.String(**REQ)
    effect = fields.String(**REQ, metadata={"description": "created | updated | stale"})
    received_at = when(**REQ)


class OrderDetail(OrderSummary):
    shipping_address = fields.Dict(**NUL)
    billing_address = fields.Dict(**NUL)
    lines = fields.List(fields.Nested(OrderLine), **REQ)
    customer = fields.Nested(Customer, **NUL)
    payments = fields.List(fields.Nested(Payment), **REQ)
    shipments = fields.List(fields.Nested(Shipment), **REQ)
    events = fields.List(fields.Nested(OrderEvent), **REQ, metadata={"description": "the events that built it"})


# --- stock and links -----------------------------------------------------------------------------

class StockQuery(Query):
    sku = text(128, metadata={"description": "one SKU: its levels and its ledger"})


class StockLevel(Out):
    sku = fields.String(**REQ)
    warehouse = fields.String(**REQ)
    on_hand = fields.Integer(**REQ)
    committed = fields.Integer(**REQ)
    available = fields.Integer(**REQ, metadata={"description": "on_hand - committed"})
    updated_at = when(**REQ)


class StockMovement(Out):
    warehouse = fields.String(**REQ)
    delta = fields.Integer(**REQ, metadata={"description": "change of on_hand"})
    committed_delta = fields.Integer(**REQ)
    reason = fields.String(**REQ)
    channel = fields.String(**NUL)
    event_id = fields.Integer(**NUL)
    at = when(**REQ)


class Stock(Out):
    levels = fields.List(fields.Nested(StockLevel), **REQ)
    movements = fields.List(fields.Nested(StockMovement), **REQ,
                            metadata={"description": "the SKU's ledger, oldest first (empty without ?sku=)"})
    skus_total = fields.Integer(**REQ, metadata={"description": "stock rows (SKU x warehouse) in all"})


class SnapshotResult(Out):
    lines = fields.Integer(**REQ)
    changed = fields.Integer(**REQ)
    oversold = fields.List(fields.String(), **REQ, metadata={"description": "SKUs now below zero available"})


class LinksQuery(Query):
    channel = text(64)
    sku = text(128)


class SkuLink(Out):
    channel = fields.String(**REQ)
    sku = fields.String(**REQ)
    product_id = fields.String(**NUL)
    variant_id = fields.String(**NUL)
    inventory_item_id = fields.String(**NUL)
    title = fields.String(**NUL)


class LocationLink(Out):
    channel = fields.String(**REQ)
    location_id = fields.String(**REQ)
    warehouse = fields.String(**REQ)


class Links(Out):
    skus = fields.List(fields.Nested(SkuLink), **REQ)
    locations = fields.List(fields.Nested(LocationLink), **REQ)


class Ident(fields.String):
    """An id or a SKU: a string, or a JSON integer taken as its digits."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def ident(max_len: int = 255) -> Ident:
    return Ident(allow_none=True, validate=[validate.Length(max=max_len), NO_NUL],
                     metadata={"type": ["string", "integer"]})


class LinkIn(Schema):
    """A SKU link (sku + at least one channel id) or a location link (location_id + warehouse)."""

    class Meta:
        unknown = RAISE

    channel = text(64, required=True, metadata={"description": "a configured channel id"})
    sku = ident(128)
    product_id = ident()
    variant_id = ident()
    inventory_item_id = ident()
    location_id = ident()
    warehouse = text(64, allow_none=True)
    title = text(512, allow_none=True)


class LinksStored(Out):
    stored = fields.Integer(**REQ)
    resumed_events = fields.List(fields.Integer(), **REQ, metadata={"description": "parked events queued again"})


class AlertsQuery(Query):
    kind = text(32, metadata={"description": "oversell, payment_dispute, shipment_exception, ..."})
    all = fields.Boolean(load_default=False, metadata={"description": "resolved alerts too"})
    limit = limit(100, 500)


class Alert(Out):
    id = fields.Integer(**REQ)
    kind = fields.String(**REQ)
    key = fields.String(**REQ, metadata={"description": "what it is about (a SKU, a payment, ...)"})
    message = fields.String(**REQ)
    detail = fields.Dict(**REQ)
    created_at = when(**REQ)
    updated_at = when(**REQ)
    resolved_at = when(**NUL)


class AlertList(Out):
    alerts = fields.List(fields.Nested(Alert), **REQ)


class DriftQuery(Query):
    channel = text(64)
    all = fields.Boolean(load_default=False, metadata={"description": "SKUs without drift too"})
    limit = limit(1000, 10000)


class Drift(Out):
    channel = fields.String(**REQ)
    sku = fields.String(**REQ)
    read = fields.Integer(**NUL, metadata={"description": "what the channel showed at the last reconcile"})
    drift = fields.Integer(**NUL, metadata={"description": "read - published"})
    published = fields.Integer(**NUL)
    read_at = when(**REQ)
    pending_push = fields.Boolean(**REQ)


class DriftList(Out):
    drift = fields.List(fields.Nested(Drift), **REQ)


# --- reports -------------------------------------------------------------------------------------

class CarriersQuery(Query):
    carrier = text(64)
    since = fields.AwareDateTime(default_timezone=UTC, metadata={
        "description": "ISO date or date-time (UTC unless it says otherwise): shipments created from then"})


class LateShipment(Out):
    id = fields.Integer(**REQ)
    tracking_number = fields.String(**REQ)
    status = fields.String(**REQ)
    order_id = fields.Integer(**NUL)
    order_number = fields.String(**NUL)
    shipped_at = when(**NUL)
    promised_at = when(**REQ)
    promised_by = fields.String(**NUL)
    delivered_at = when(**NUL)
    days_late = fields.Integer(**REQ)


class CarrierReport(Out):
    carrier = fields.String(**REQ)
    shipments = fields.Integer(**REQ)
    delivered = fields.Integer(**REQ)
    on_time = fields.Integer(**REQ)
    late = fields.Integer(**REQ, metadata={"description": "delivered after the promise"})
    overdue = fields.Integer(**REQ, metadata={"description": "not delivered, past the promise"})
    on_time_rate = fields.Float(**NUL, metadata={"description": "on_time / (on_time + late)"})
    late_shipments = fields.List(fields.Nested(LateShipment), **REQ)


class CarrierReportList(Out):
    carriers = fields.List(fields.Nested(CarrierReport), **REQ)


# --- tasks, replays, needs-mapping, stats (from the tasks branch) --------------------------------------

TASK_KINDS = ("push_stock", "export_order", "sync_crm", "push_tracking", "process_event")
TASK_STATUSES = ("running", "ok", "retrying", "failed", "cancelled")
ERROR_CLASSES = ("retryable", "permanent", "needs_mapping")
REPLAY_MODES = ("payload", "refresh")
REPLAY_STATUSES = ("queued", "running", "done", "cancelled", "failed")
MAX_LIMIT = 500


def Time(**kw: Any) -> fields.String:  # noqa: N802 - reads as a field type
    """A time as the API writes it: ISO 8601, UTC."""
    return fields.String(metadata={"format": "date-time", **kw.pop("metadata", {})}, **kw)


_AGO = r"^\s*[0-9]{1,5}\s*[smhd]\s*$"  # five digits: 99999 days ago is still a date


def _time_or_age(value: str) -> None:
    if re.match(_AGO, value):
        return
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("not a time: ISO 8601, or an age such as 30m, 2h, 7d") from None


def TimeFilter(description: str) -> fields.String:  # noqa: N802
    """A time the caller gives: ISO 8601 (UTC if no offset), or how long ago: ``30m``, ``2h``, ``7d``."""
    return fields.String(load_default=None, validate=_time_or_age, metadata={
        "description": f"{description}: ISO 8601 (UTC unless an offset is given) or an age such as 30m, 2h, 7d",
        "example": "2h", "anyOf": [{"format": "date-time"}, {"pattern": _AGO}]})


class JsonBool(fields.Boolean):
    """A boolean in a JSON body: true or false, not 0, 1 or "yes" (those are for query strings)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


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


# ---- tasks ------------------------------------------------------------------------------------------------

class TaskQuerySchema(StrictSchema):
    """Filters of ``GET /api/tasks``."""

    status = fields.String(load_default=None, validate=validate.OneOf(TASK_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(TASK_KINDS))
    channel = text(64, load_default=None, metadata={"description": "target channel id, erp or crm"})
    error_class = fields.String(load_default=None, validate=validate.OneOf(ERROR_CLASSES))
    entity = text(255, load_default=None, metadata={"description": "order:42, shipment:7, stock:woo, event:9"})
    since = TimeFilter("started at or after")
    until = TimeFilter("started before")
    unresolved = fields.Boolean(load_default=False, metadata={
        "description": "only failures no later attempt of the same task has fixed"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=DB_INT_MAX), metadata={
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

    task_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=DB_INT_MAX))
    event_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=DB_INT_MAX))
    kind = fields.String(load_default=None, validate=validate.OneOf(TASK_KINDS))
    channel = text(64, load_default=None)
    error_class = fields.String(load_default=None, validate=validate.OneOf(ERROR_CLASSES))
    since = TimeFilter("failed attempts started at or after")
    until = TimeFilter("failed attempts started before")
    include_resolved = JsonBool(load_default=False, metadata={
        "description": "also failures a later attempt already fixed"})

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("task_id") is not None and data.get("event_id") is not None:
            raise ValidationError("give a task or an event, not both", "task_id")


class ReplayRequestSchema(StrictSchema):
    """Body of ``POST /api/replay``."""

    filter = fields.Nested(ReplayFilterSchema, load_default=dict)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES))
    dry_run = JsonBool(load_default=False, metadata={"description": "only answer the plan"})


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
