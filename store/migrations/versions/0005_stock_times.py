"""stock times: when a channel's own order happened, and when the hub's belief about a channel held

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stock_movements') as batch:
        batch.add_column(sa.Column('occurred_at', UTCDateTime(), nullable=True))
        batch.create_index('ix_stock_movements_channel_sku_occurred', ['channel', 'sku', 'occurred_at'])
    with op.batch_alter_table('stock_sync') as batch:
        batch.add_column(sa.Column('believed_at', UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('stock_sync') as batch:
        batch.drop_column('believed_at')
    with op.batch_alter_table('stock_movements') as batch:
        batch.drop_index('ix_stock_movements_channel_sku_occurred')
        batch.drop_column('occurred_at')
