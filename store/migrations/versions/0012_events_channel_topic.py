"""deliveries per channel and topic, by time

The channel health view (``hub.channel_health``, ``GET /api/channels``, the console's Channels page) asks,
per channel and topic, for the newest delivery and the count over the last 24 hours. Neither existing
index answers that without reading every delivery of the channel: ``(channel, topic, received_at)`` makes
each a short range. PostgreSQL builds it without locking the table (``CONCURRENTLY``): the receiver keeps
storing deliveries meanwhile, and WooCommerce never sends again one that was refused.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

NAME = 'ix_events_channel_topic_received_at'


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(NAME, 'events', ['channel', 'topic', 'received_at'], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name='events', postgresql_concurrently=True)
