"""events and their status history

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from store.models import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("channel", "dedupe_key", name="uq_events_channel_dedupe_key"),
    )
    op.create_index("ix_events_status_received_at", "events", ["status", "received_at"])
    op.create_index("ix_events_channel_id", "events", ["channel", "id"])
    op.create_index("ix_events_topic_id", "events", ["topic", "id"])
    op.create_table(
        "event_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_history"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_event_history_event_id_events",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_event_history_event_id", "event_history", ["event_id", "id"])


def downgrade():
    op.drop_table("event_history")
    op.drop_table("events")
