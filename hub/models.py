"""The hub's tables (SQLAlchemy Core metadata), shared by the app and the Alembic migrations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("headers", JSON(), nullable=False),
    Column("body", LargeBinary(), nullable=False),
    UniqueConstraint("channel", "dedupe_key", name="uq_events_channel_dedupe_key"),
    Index("ix_events_status_received_at", "status", "received_at"),
    Index("ix_events_channel_id", "channel", "id"),
    Index("ix_events_topic_id", "topic", "id"),
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
