"""Marshmallow schemas of the admin API: query strings, request bodies and responses.

They are the API's contract: ``hub/api/openapi.py`` turns them into the OpenAPI document, views parse
their query strings with ``load_query``, and the tests check every answer against them. Response
schemas list every key the view returns (``REQ``: always there; ``NUL``: always there, may be
null) and refuse any other (``unknown = RAISE`` becomes ``additionalProperties: false``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import abort, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from mappings import error_fields
from store.models import TASK_KINDS, ErrorClass, EventStatus, ReplayStatus, TaskStatus

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
    """marshmallow's messages as one line: ``limit: Must be greater than or equal to 1 ...; since: ...``."""
    return "; ".join(f"'{path}': {what}" for path, what in error_fields(messages))


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


EVENT_SOURCES = ("webhook", "backfill", "refresh")
SOURCE_TEXT = ("webhook: the platform sent it; backfill: read from the platform because no webhook came; "
               "refresh: re-read by a replay")


class EventSummary(Out):
    id = fields.Integer(**REQ)
    channel = fields.String(**REQ)
    kind = fields.String(**REQ, metadata={"description": "the channel's platform (shopify, stripe, ...)"})
    topic = fields.String(**REQ)
    source = fields.String(**REQ, validate=validate.OneOf(EVENT_SOURCES), metadata={"description": SOURCE_TEXT})
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
    lines = fields.Dict(keys=fields.String(), values=fields.Integer(), **NUL, metadata={
        "description": "the units it carries, {sku: units}, when it is part of the order (an ERP's partial "
                       "delivery); null: the whole order"})


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
    source = fields.String(**REQ, validate=validate.OneOf(EVENT_SOURCES), metadata={"description": SOURCE_TEXT})


class ReturnLine(Out):
    line_id = fields.String(**NUL, metadata={"description": "the channel's line item id"})
    sku = fields.String(**NUL)
    quantity = fields.Integer(**REQ)
    reason = fields.String(**NUL, metadata={"description": "the channel's reason code, e.g. unwanted"})
    note = fields.String(**NUL, metadata={"description": "the customer's words"})


class Return(Out):
    id = fields.Integer(**REQ)
    channel = fields.String(**REQ)
    external_id = fields.String(**REQ)
    name = fields.String(**NUL)
    status = fields.String(**REQ, validate=validate.OneOf(["requested", "open", "closed", "declined", "canceled"]))
    lines = fields.List(fields.Nested(ReturnLine), **REQ, metadata={"description": "empty: not said yet"})
    created_at = when(**REQ)
    updated_at = when(**REQ)
    closed_at = when(**NUL)


class OrderDetail(OrderSummary):
    shipping_address = fields.Dict(**NUL)
    billing_address = fields.Dict(**NUL)
    lines = fields.List(fields.Nested(OrderLine), **REQ)
    customer = fields.Nested(Customer, **NUL)
    payments = fields.List(fields.Nested(Payment), **REQ)
    shipments = fields.List(fields.Nested(Shipment), **REQ)
    returns = fields.List(fields.Nested(Return), **REQ, metadata={
        "description": "its channel's returns; their money and restock come with the refunds"})
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


# --- tasks and replays ---------------------------------------------------------------------------

TASK_STATUSES = tuple(s.value for s in TaskStatus)
ERROR_CLASSES = tuple(c.value for c in ErrorClass)
REPLAY_MODES = ("payload", "refresh")
REPLAY_STATUSES = tuple(s.value for s in ReplayStatus)
ID = validate.Range(min=1, max=DB_INT_MAX)


_AGO = r"^\s*[0-9]{1,5}\s*[smhd]\s*$"  # five digits: 99999 days ago is still a date


def _time_or_age(value: str) -> None:
    if re.match(_AGO, value):
        return
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("not a time: ISO 8601, or an age such as 30m, 2h, 7d") from None


def time_filter(description: str) -> fields.String:
    """A time the caller gives: ISO 8601 (UTC unless an offset is given) or an age: ``30m``, ``2h``, ``7d``.
    Checked here, so the document says exactly what passes (``parse_since`` turns it into a time)."""
    return fields.String(validate=[validate.Length(max=64), _time_or_age], metadata={
        "description": f"{description}: ISO 8601 (UTC unless an offset is given) or an age such as 30m, 2h, 7d",
        "example": "2h", "anyOf": [{"format": "date-time"}, {"pattern": _AGO}]})


class JsonBool(fields.Boolean):
    """A boolean in a JSON body: true or false, not 0, 1 or "yes" (those are for query strings)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


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
    include_resolved = JsonBool(metadata={"description": "also failures a later attempt already fixed"})


class ReplayRequest(Body):
    filter = fields.Nested(ReplayFilterIn, load_default=dict)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REPLAY_MODES))
    dry_run = JsonBool(load_default=False, metadata={"description": "only answer the plan"})


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


# --- channel health ------------------------------------------------------------------------------

HEALTH_STATUSES = ("ok", "unknown", "warning", "failing")


class ChannelVerdict(Out):
    status = fields.String(**REQ, validate=validate.OneOf(HEALTH_STATUSES), metadata={
        "description": "failing: webhooks are being lost or the hub cannot check or backfill the channel; warning: "
                       "the hub repaired its webhooks in the last 24 h; unknown: no webhook yet; ok"})
    reason = fields.String(**REQ, metadata={"description": "the findings in plain words, the worst first",
                                            "example": "webhooks repaired 10 min ago: order.created was disabled"})


class SubscriptionFinding(Out):
    topic = fields.String(**REQ)
    problem = fields.String(**REQ, metadata={"example": "disabled (the platform stopped sending it)"})
    action = fields.String(**REQ, metadata={"example": "set active again"})


class SubscriptionCheck(Out):
    task_id = fields.Integer(**REQ)
    started_at = when(**REQ)
    finished_at = when(**NUL)
    status = fields.String(**REQ, validate=validate.OneOf(TASK_STATUSES))
    error = fields.String(**NUL)
    checked = fields.Integer(**NUL, metadata={"description": "topics checked"})
    repaired = fields.List(fields.Nested(SubscriptionFinding), **REQ)


class SubscriptionRepair(Out):
    task_id = fields.Integer(**NUL, metadata={"description": "the check that repaired them"})
    at = when(**REQ)
    repaired = fields.List(fields.Nested(SubscriptionFinding), **REQ)
    backfilled_after = fields.Integer(**NUL, metadata={
        "description": "changes the backfill found in the 7 days after it (first what the platform did not send "
                       "while its webhooks were broken); null: the channel is not backfilled"})


class ChannelSubscriptions(Out):
    managed = fields.Boolean(**REQ, metadata={"description": "the hub keeps this channel's webhooks subscribed"})
    topics = fields.List(fields.String(), **REQ, metadata={"description": "the topics it keeps (managed only)"})
    last_check = fields.Nested(SubscriptionCheck, **NUL)
    last_repair = fields.Nested(SubscriptionRepair, **NUL, metadata={
        "description": "the newest repair that still has an open alert"})
    open_alerts = fields.List(fields.Nested(Alert), **REQ, metadata={
        "description": "open subscription_repaired alerts of the channel, newest first"})


class TopicDeliveries(Out):
    topic = fields.String(**REQ)
    last_at = when(**NUL, metadata={"description": "the newest webhook the platform sent (null: none)"})
    webhooks_24h = fields.Integer(**REQ, metadata={
        "description": "webhooks received in the last 24 h (a replay's re-read of a delivery counts as one)"})
    backfilled_24h = fields.Integer(**REQ, metadata={
        "description": "changes the backfill read from the platform and stored in the last 24 h (no webhook had "
                       "brought them)"})


class ChannelDeliveries(Out):
    last_at = when(**NUL, metadata={"description": "the newest webhook of any topic"})
    topics = fields.List(fields.Nested(TopicDeliveries), **REQ, metadata={
        "description": "the topics delivered and those the hub keeps subscribed"})


class BackfillRun(Out):
    task_id = fields.Integer(**REQ)
    started_at = when(**REQ)
    finished_at = when(**NUL)
    status = fields.String(**REQ, validate=validate.OneOf(TASK_STATUSES))
    error = fields.String(**NUL)
    since = fields.String(**NUL, metadata={"description": "read what changed after this (platform's UTC clock)"})
    read = fields.Integer(**NUL)
    stored = fields.Integer(**NUL, metadata={"description": "changes the hub did not hold: stored and processed"})
    known = fields.Integer(**NUL, metadata={"description": "changes the hub held already (their webhook came)"})
    calls = fields.Integer(**NUL)
    watermark = fields.String(**NUL)


class ChannelBackfill(Out):
    enabled = fields.Boolean(**REQ, metadata={"description": "the hub can read this channel's changes"})
    resource = fields.String(**NUL, metadata={"example": "orders"})
    watermark = fields.String(**NUL, metadata={"description": "the newest change read (platform's UTC clock)"})
    last_run = fields.Nested(BackfillRun, **NUL)
    last_stored = fields.Nested(BackfillRun, **NUL, metadata={
        "description": "the newest run, within 7 days, that found changes no webhook had brought"})
    last_webhook_at = when(**NUL, metadata={"description": "the newest webhook of the resource's topics"})
    missed = fields.Integer(**REQ, metadata={
        "description": "changes the backfill found that were made after that webhook and after the last repair, "
                       "more than 2 min ago, and that no webhook brought: the webhooks are being lost"})


class ChannelHealth(Out):
    id = fields.String(**REQ)
    kind = fields.String(**REQ)
    health = fields.Nested(ChannelVerdict, **REQ)
    subscriptions = fields.Nested(ChannelSubscriptions, **REQ)
    deliveries = fields.Nested(ChannelDeliveries, **REQ)
    backfill = fields.Nested(ChannelBackfill, **REQ)


class ChannelList(Out):
    generated_at = when(**REQ)
    channels = fields.List(fields.Nested(ChannelHealth), **REQ)
