"""The hub's tables (SQLAlchemy Core metadata), shared by the app and the Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times must be aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EventStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    NEEDS_MAPPING = "needs_mapping"
    FAILED = "failed"
    REJECTED = "rejected"


events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("topic", String(128), nullable=False),
    Column("dedupe_key", String(255), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text(), nullable=True),
    # a stock report of this event held for its channel's orders may wait until then (jobs.events), then is judged
    Column("hold_until", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("headers", JSON(), nullable=False),
    Column("body", LargeBinary(), nullable=False),
    UniqueConstraint("channel", "dedupe_key", name="uq_events_channel_dedupe_key"),
    Index("ix_events_status_received_at", "status", "received_at"),
    Index("ix_events_channel_id", "channel", "id"),
    Index("ix_events_topic_id", "topic", "id"),
    Index("ix_events_channel_topic_received_at", "channel", "topic", "received_at"),  # migration 0012
)

event_history = Table(
    "event_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", BigId, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", Text(), nullable=True),
    Index("ix_event_history_event_id", "event_id", "id"),
)


# ---- canonical store (migration 0003) --------------------------------------------------------

Money = Numeric(18, 4)

customers = Table(
    "customers", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=True, unique=True),  # normalised: stripped, lower-case
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("phone", String(64)),
    Column("accepts_marketing", Boolean()),
    Column("addresses", JSON(), nullable=False),
    Column("source_updated_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

customer_links = Table(
    "customer_links", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_customer_links_channel_external_id"),
)

orders = Table(
    "orders", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("number", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal", Money, nullable=False),
    Column("shipping", Money, nullable=False),
    Column("tax", Money, nullable=False),
    Column("discount", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("presentment_total", Money),
    Column("presentment_currency", String(3)),
    Column("email", String(320)),
    Column("customer_id", BigId, ForeignKey("customers.id", ondelete="SET NULL")),
    Column("shipping_address", JSON()),
    Column("billing_address", JSON()),
    Column("payment_method", String(64)),
    Column("placed_at", UTCDateTime()),
    Column("cancelled_at", UTCDateTime()),
    Column("channel_status", String(24)),  # what the channel last said; status adds payments and shipments
    Column("prices_include_tax", Boolean()),  # unit prices, line discounts and charges include the tax
    Column("charges", JSON()),  # [{"kind", "title", "amount", "discount", "tax", "tax_rates"}]: shipping, fees
    Column("paid_on_channel", Boolean()),  # the channel says it took the money (not derived from gateways)
    Column("source_updated_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_orders_channel_external_id"),
    Index("ix_orders_status", "status"),
    Index("ix_orders_email", "email"),
    Index("ix_orders_updated_at", "updated_at"),
)

order_lines = Table(
    "order_lines", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("sku", String(128)),
    Column("title", String(512)),
    Column("quantity", Integer(), nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("tax", Money),
    Column("discount", Money),
    Column("external_id", String(255)),
    Column("product_id", String(255)),
    Column("variant_id", String(255)),
    Column("tax_rates", JSON()),  # ["21", "7.5"]: the rates charged, in percent
    Index("ix_order_lines_order_id", "order_id", "position"),
)

payments = Table(
    "payments", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("channel", String(64)),
    Column("external_id", String(255), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="SET NULL")),
    Column("order_reference", String(255)),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("refunded", Money),
    Column("status", String(24), nullable=False),
    Column("customer_email", String(320)),
    Column("occurred_at", UTCDateTime()),
    Column("matched_at", UTCDateTime()),  # when the hub tied it to its order (None: unmatched)
    Column("source_updated_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("provider", "external_id", name="uq_payments_provider_external_id"),
    Index("ix_payments_order_reference", "order_reference"),
    Index("ix_payments_order_id", "order_id"),
)

refunds = Table(
    "refunds", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("order_reference", String(255)),
    Column("payment_external_id", String(255)),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", Text()),
    Column("occurred_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="SET NULL")),
    Column("restock", JSON()),  # [{"sku", "quantity"}] the refund puts back on the shelf
    Column("lines", JSON()),  # [{"sku", "quantity"}] every line item it refunds (None: not said)
    UniqueConstraint("channel", "external_id", name="uq_refunds_channel_external_id"),
    Index("ix_refunds_order_id", "order_id"),
)

returns = Table(  # migration 0019
    "returns", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("order_reference", String(255)),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="SET NULL")),
    Column("name", String(64)),  # the channel's own, e.g. "#1001-R1"
    Column("status", String(16), nullable=False),  # mappings.canonical.ReturnStatus
    Column("lines", JSON()),  # [{"line_id", "sku", "quantity", "reason", "note"}]
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),  # when the hub saw it closed, declined or canceled
    UniqueConstraint("channel", "external_id", name="uq_returns_channel_external_id"),
    Index("ix_returns_order_id", "order_id"),
    Index("ix_returns_order_reference", "channel", "order_reference"),
)

shipments = Table(
    "shipments", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("carrier", String(64), nullable=False),
    Column("tracking_number", String(128), nullable=False),
    Column("status", String(24), nullable=False),
    Column("channel", String(64)),
    Column("external_id", String(255)),
    Column("order_reference", String(255)),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="SET NULL")),
    Column("events", JSON(), nullable=False),
    Column("estimated_delivery", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("shipped_at", UTCDateTime()),
    Column("promised_at", UTCDateTime()),  # the delivery the carrier (or the SLA) promised
    Column("promised_by", String(16)),  # carrier | sla
    Column("pushed_at", UTCDateTime()),  # the tracking reached the order's channel (or came from it)
    Column("push_ref", String(255)),  # the channel's fulfillment / note id
    Column("push_error", Text()),
    Column("lines", JSON()),  # {sku: units} this shipment carries (part of the order); NULL: the whole order
    Column("source_updated_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_tracking_number"),
    Index("ix_shipments_status", "status"),
    Index("ix_shipments_tracking_number", "tracking_number"),
    Index("ix_shipments_order_id", "order_id"),
)

sku_links = Table(
    "sku_links", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("product_id", String(255)),
    Column("variant_id", String(255)),
    Column("inventory_item_id", String(255)),
    Column("title", String(512)),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel", "sku", name="uq_sku_links_channel_sku"),
    Index("ix_sku_links_inventory_item", "channel", "inventory_item_id"),
    Index("ix_sku_links_product_variant", "channel", "product_id", "variant_id"),
)

location_links = Table(
    "location_links", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("location_id", String(255), nullable=False),
    Column("warehouse", String(64), nullable=False),
    UniqueConstraint("channel", "location_id", name="uq_location_links_channel_location_id"),
)

parked = Table(
    "parked", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", BigId, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("missing", String(32), nullable=False),  # inventory_item_id | product_id | location_id
    Column("key", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("event_id", "missing", "key", name="uq_parked_event_id"),
    Index("ix_parked_lookup", "channel", "missing", "key"),
)

stock_levels = Table(
    "stock_levels", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sku", String(128), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("on_hand", Integer(), nullable=False),
    Column("committed", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # its first count (snapshot, a channel's report taken as its count): none, and the hub publishes nothing
    # for it (it does not know how many there are) and opens no oversell alert
    Column("counted_at", UTCDateTime()),
    UniqueConstraint("sku", "warehouse", name="uq_stock_levels_sku_warehouse"),
)

stock_movements = Table(
    "stock_movements", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sku", String(128), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("delta", Integer(), nullable=False),  # change of on_hand
    Column("committed_delta", Integer(), nullable=False, server_default="0"),  # change of committed
    Column("reason", String(24), nullable=False),
    Column("channel", String(64)),
    Column("source_event", BigId, ForeignKey("events.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime(), nullable=False),
    # a channel's own order: when it happened there (the channel's clock); see domain.ledger.own_moves_after
    Column("occurred_at", UTCDateTime()),
    # the change this movement made to its channel's own count, by the channel itself (its order took or
    # put back stock there); NULL: none. See domain.ledger.shown_by_channel
    Column("channel_delta", Integer()),
    Index("ix_stock_movements_sku", "sku", "id"),
    Index("ix_stock_movements_channel_sku_occurred", "channel", "sku", "occurred_at"),
)

channel_stock = Table(
    "channel_stock", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("quantity", Integer(), nullable=False),  # what the channel last reported
    Column("source_updated_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel", "sku", "warehouse", name="uq_channel_stock_channel_sku_warehouse"),
)

UNTAKEN = "taken < committed + shipped AND to_take = 0"

order_stock = Table(
    # what the ledger holds for each order line now, so every later version of the order moves
    # stock by the difference only (a re-delivered or updated order never commits twice)
    "order_stock", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("committed", Integer(), nullable=False),
    Column("shipped", Integer(), nullable=False),
    Column("channel", String(64)),  # the order's channel
    # units the order's channel took off its own count for the line (WooCommerce: not while pending) ...
    Column("taken", Integer(), nullable=False, server_default="0"),
    # ... and will take by itself later (a pending WooCommerce order, when it is paid): see domain.ledger.targets
    Column("to_take", Integer(), nullable=False, server_default="0"),
    UniqueConstraint("order_id", "sku", "warehouse", name="uq_order_stock_order_id"),
    Index("ix_order_stock_to_take", "channel", "sku", postgresql_where=text("to_take > 0"),
          sqlite_where=text("to_take > 0")),
    # lines whose channel has not said it took them, nor that it will (see domain.ledger.may_take; migration 0023)
    Index("ix_order_stock_untaken", "channel", "sku", postgresql_where=text(UNTAKEN),
          sqlite_where=text(UNTAKEN)),
)

stock_sync = Table(
    # one row per (channel, SKU) the hub publishes: what the channel shows as far as the hub
    # knows, what it last wrote, and whether a push is owed (``dirty``, versioned so a change
    # that lands during a push is not lost when the push clears the flag)
    "stock_sync", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("believed", Integer()),
    Column("believed_mark", BigId),  # stock_movements.id when ``believed`` was last known true
    Column("believed_at", UTCDateTime()),  # the moment ``believed`` held (write, read or report time)
    Column("pushed", Integer()),
    Column("pushed_at", UTCDateTime()),
    Column("dirty", Boolean(), nullable=False, server_default="0"),
    Column("dirty_version", Integer(), nullable=False, server_default="0"),
    Column("dirty_since", UTCDateTime()),
    Column("unlisted", Boolean(), nullable=False, server_default="0"),  # the channel does not sell it
    Column("read_quantity", Integer()),  # the last reconcile's reading
    Column("read_at", UTCDateTime()),
    Column("drift", Integer()),  # reading - what the hub published, at that reconcile
    Column("shadow", Integer()),  # push: shadow: what the last push would have written (nothing was)
    Column("shadow_at", UTCDateTime()),
    # a write here waits for a read of the channel's changes begun after this: what it shows may hold a sale the hub
    # has not heard of, and a plain set would go over it (migration 0022)
    Column("awaits_read_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel", "sku", name="uq_stock_sync_channel_sku"),
    Index("ix_stock_sync_dirty", "channel", "dirty"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # oversell | ...
    Column("key", String(255), nullable=False),  # what it is about, e.g. the SKU; one open alert per key
    Column("message", Text(), nullable=False),
    Column("detail", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Index("ix_alerts_kind_key", "kind", "key", "resolved_at"),
)

event_records = Table(
    "event_records", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", BigId, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(24), nullable=False),  # order | customer | payment | shipment | ...
    Column("record_id", BigId, nullable=False),
    Column("effect", String(16), nullable=False),  # created | updated | stale
    Index("ix_event_records_event_id", "event_id"),
    Index("ix_event_records_record", "kind", "record_id"),
)


# ---- exports to the ERP and the CRM (migration 0006) -------------------------------------------

class ExportStatus(enum.StrEnum):
    """The outcome of the last export attempt of a row."""

    PENDING = "pending"  # queued, never tried
    OK = "ok"
    RETRYING = "retrying"  # a retryable failure; another attempt is scheduled
    SENDING = "sending"  # notes: the create call is out; a retry first looks for the note it may have made
    FAILED = "failed"  # permanent, or out of attempts: ``error`` says why


erp_orders = Table(
    # one row per hub order exported to the ERP: the remote sale order and where it stands
    "erp_orders", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("ref", String(320), nullable=False),  # client_order_ref: "<channel>:<order number>", fixed at first try
    Column("partner_id", String(64)),
    Column("sale_order_id", String(64)),
    Column("name", String(64)),  # the ERP's order name (S00042)
    Column("state", String(16)),  # draft | confirmed | cancelled | None (nothing made in the ERP yet)
    Column("amount_total", Money),  # the ERP's total once it was made the channel's
    Column("adjustment", Money),  # what a line of the adjustment product adds to get there (0: nothing)
    Column("invoice_id", String(64)),  # the posted customer invoice (account.move)
    Column("invoice_name", String(64)),  # INV/2026/00001
    Column("payment_state", String(16)),  # the invoice's: not_paid | partial | in_payment | paid | ...
    Column("spec_hash", String(64)),  # what the sale order was made from (connectors.odoo.sale.fingerprint)
    Column("ship_hash", String(64)),  # what its delivery address was made from (connectors.odoo.sale.ship_hash)
    Column("credited", JSON()),  # ["<channel>:<refund id>", ...]: refunds whose credit note is posted and paid
    Column("status", String(16), nullable=False),  # ExportStatus
    Column("error", Text()),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("order_id", name="uq_erp_orders_order_id"),
    Index("ix_erp_orders_status", "status"),
)

crm_deals = Table(
    # one row per hub order synced to the CRM: its contact and deal
    "crm_deals", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("order_key", String(320), nullable=False),  # the deal's unique hub_order_key
    Column("contact_id", String(64)),
    Column("deal_id", String(64)),
    Column("stage", String(64)),
    Column("amount", String(32)),
    Column("status", String(16), nullable=False),  # ExportStatus
    Column("error", Text()),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("order_id", name="uq_crm_deals_order_id"),
    Index("ix_crm_deals_status", "status"),
)

crm_notes = Table(
    # one row per timeline note the CRM owes or got; ``key`` ("<order_id>:<kind>:<ref>") makes it once
    "crm_notes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(320), nullable=False),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),  # placed | paid | cancelled | shipped | delivered | refunded ...
    Column("body", Text(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),  # where the note sits on the timeline
    Column("note_id", String(64)),
    Column("status", String(16), nullable=False),  # ExportStatus; "sending" while a create call is out
    Column("error", Text()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("key", name="uq_crm_notes_key"),
    Index("ix_crm_notes_order_id", "order_id", "status"),
)


# ---- task records and replays (migration 0009) ---------------------------------------------------

# what a task record is of: a job the hub runs against another system, or an event's processing
TASK_KINDS = ("push_stock", "export_order", "sync_crm", "push_tracking", "process_event", "check_subscriptions",
              "backfill", "mark_paid", "payment_note")


class TaskStatus(enum.StrEnum):
    """Where one attempt of a sync task stands."""

    RUNNING = "running"
    OK = "ok"
    RETRYING = "retrying"  # this attempt failed retryably; the job's own policy tries again
    FAILED = "failed"  # permanent, out of attempts, or waiting for a mapping: ``error_class`` says which
    CANCELLED = "cancelled"


class ErrorClass(enum.StrEnum):
    """Why a task ended failed."""

    RETRYABLE = "retryable"  # a retryable error, and the attempts ran out
    PERMANENT = "permanent"  # the target refused; the same call cannot succeed
    NEEDS_MAPPING = "needs_mapping"  # a link or a record the target needs is missing (unknown SKU, ...)


class ReplayStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the replay itself broke off (not one of its items): ``error`` says why


tasks = Table(
    # one row per attempt of a sync task (push_stock, export_order, sync_crm, push_tracking) and per
    # failed or parked event processing: the record RQ's expiring registries are not
    "tasks", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # push_stock | export_order | sync_crm | push_tracking | process_event
    Column("channel", String(64)),  # the target: a channel id, "erp" or "crm"; events: the channel it came from
    Column("entity", String(128), nullable=False),  # order:42 | shipment:7 | stock:woo | event:9
    Column("idempotency_key", String(320)),  # what makes a repeat a no-op at the target (client_order_ref, ...)
    Column("attempt", Integer(), nullable=False, server_default="1"),
    Column("status", String(16), nullable=False),  # TaskStatus
    Column("error_class", String(16)),  # ErrorClass, when failed
    Column("error", Text()),
    Column("traceback", Text()),
    Column("job_id", String(128)),
    Column("args", JSON()),  # the job's own arguments
    Column("detail", JSON()),  # what the attempt did or covered (a push's SKUs, the remote ids, ...)
    Column("replay_of", BigId, ForeignKey("tasks.id", ondelete="SET NULL")),  # the task this one replays
    Column("replay_id", BigId, ForeignKey("replays.id", ondelete="SET NULL")),  # the replay it ran in
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_tasks_status_id", "status", "id"),
    Index("ix_tasks_kind_entity", "kind", "entity", "id"),
    Index("ix_tasks_channel_id", "channel", "id"),
    Index("ix_tasks_started_at", "started_at"),
    Index("ix_tasks_replay_id", "replay_id"),
    Index("ix_tasks_replay_of", "replay_of"),
)

replays = Table(
    # one row per replay (single or bulk): the filter, the plan it made, and its progress
    "replays", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("filter", JSON(), nullable=False),
    Column("mode", String(16), nullable=False),  # payload | refresh | auto (per kind: refresh for stock and orders)
    Column("dry_run", Boolean(), nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # ReplayStatus
    Column("plan", JSON(), nullable=False),  # the actions, as previewed
    Column("total", Integer(), nullable=False, server_default="0"),
    Column("done", Integer(), nullable=False, server_default="0"),  # actions finished (ok or failed)
    Column("failed", Integer(), nullable=False, server_default="0"),
    Column("error", Text()),
    Column("job_id", String(128)),
    Column("created_by", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Index("ix_replays_status", "status", "id"),
)


# ---- pulls from the ERP (migration 0008) -------------------------------------------------------

pull_cursors = Table(
    # where each pull from a remote system has got to; written in the transaction that applies the rows
    "pull_cursors", metadata,
    Column("name", String(128), primary_key=True),  # e.g. "erp:deliveries", "erp:quants:<locations hash>"
    Column("value", Text()),  # the connector's own cursor text (Odoo: "<write second>|<ids>")
    Column("updated_at", UTCDateTime(), nullable=False),
)


# ---- jobs owed by committed transactions (migration 0021) ----------------------------------------------------

owed = Table(
    # what a committed transaction owes the job queues (exports, tracking pushes, ...), written in that transaction
    # and deleted once the jobs are queued; a row left behind (the worker or Redis died in between) is queued by the
    # outbox sweep, or at once when the event's job runs again (jobs.fanout)
    "owed", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", BigId, nullable=True),  # the event whose processing owes them; none for an ERP pull
    Column("created_at", UTCDateTime(), nullable=False),
    Column("jobs", JSON(), nullable=False),  # jobs.fanout.Owed, as JSON
)
