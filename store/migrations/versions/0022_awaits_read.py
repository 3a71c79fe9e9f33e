"""a SKU's write that waits for a read of its channel's changes

``stock_sync.awaits_read_at``: set where a channel written by plain sets shows a level the hub cannot explain (a
sale whose order it may not have heard of); that SKU's push waits until a backfill of the channel begun after
then has run. Before, the whole channel's pushes waited (its backfill gate), and at 50 orders/s the Shopify
sales reached WooCommerce 7-28 s late.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('stock_sync', sa.Column('awaits_read_at', UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('stock_sync') as batch:
        batch.drop_column('awaits_read_at')
