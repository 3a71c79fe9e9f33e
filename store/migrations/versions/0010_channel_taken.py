"""what each channel took off its own count for its orders

WooCommerce lowers its own stock only when an order is processing, on-hold or completed (the
line's ``_reduced_stock``), not while it is pending; Shopify at once. ``order_stock.taken`` is
what the order's channel took for the line and ``to_take`` what it will take by itself later;
``stock_movements.channel_delta`` is the change a movement made to its channel's own count (the
hub's belief of what the channel shows follows it). Existing rows keep the old rule: the channel
took everything its order holds, at once.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stock_movements') as batch:
        batch.add_column(sa.Column('channel_delta', sa.Integer(), nullable=True))
    op.execute("UPDATE stock_movements SET channel_delta = delta - committed_delta "
               "WHERE channel IS NOT NULL AND reason IN ('sale', 'cancel')")
    with op.batch_alter_table('order_stock') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('taken', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('to_take', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE order_stock SET taken = committed + shipped, "
               "channel = (SELECT orders.channel FROM orders WHERE orders.id = order_stock.order_id)")
    # the few lines whose channel will still take stock by itself (pending orders)
    op.create_index('ix_order_stock_to_take', 'order_stock', ['channel', 'sku'],
                    postgresql_where=sa.text('to_take > 0'), sqlite_where=sa.text('to_take > 0'))


def downgrade():
    op.drop_index('ix_order_stock_to_take', table_name='order_stock')
    with op.batch_alter_table('order_stock') as batch:
        batch.drop_column('to_take')
        batch.drop_column('taken')
        batch.drop_column('channel')
    with op.batch_alter_table('stock_movements') as batch:
        batch.drop_column('channel_delta')
