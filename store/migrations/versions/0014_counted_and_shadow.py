"""when a stock level was first counted; what a shadow push would write

``stock_levels.counted_at``: set by the first count of the level (an ERP or warehouse snapshot, a channel's
report taken as its count, an edit the channel is the authority for). A level made only by sales has none:
the hub does not know how many there are, so it publishes nothing for it and opens no oversell alert; it
waits for a count (the needs-mapping view lists it). Existing levels with a count movement get their
first one's time.

``stock_sync.shadow`` / ``shadow_at``: what the last push to a channel in shadow mode (``push: shadow``)
would have written, and when; nothing is written there.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('stock_levels', sa.Column('counted_at', UTCDateTime(), nullable=True))
    op.add_column('stock_sync', sa.Column('shadow', sa.Integer(), nullable=True))
    op.add_column('stock_sync', sa.Column('shadow_at', UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE stock_levels SET counted_at = (SELECT MIN(m.created_at) FROM stock_movements m "
        "WHERE m.sku = stock_levels.sku AND m.warehouse = stock_levels.warehouse "
        "AND m.reason IN ('erp_snapshot', 'channel_edit', 'adjustment'))")


def downgrade():
    with op.batch_alter_table('stock_sync') as batch:
        batch.drop_column('shadow_at')
        batch.drop_column('shadow')
    with op.batch_alter_table('stock_levels') as batch:
        batch.drop_column('counted_at')
