"""payments matched to orders, refunds with restock, shipments with SLA and push state

Revision ID: 0007
Revises: 0004 (re-chained after 0005/0006 on merge)
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_status', sa.String(length=24), nullable=True))
    op.execute("UPDATE orders SET channel_status = status")

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matched_at', UTCDateTime(), nullable=True))
        batch_op.create_index('ix_payments_order_id', ['order_id'], unique=False)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('restock', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_refunds_order_id_orders'), 'orders', ['order_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_refunds_order_id', ['order_id'], unique=False)

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipped_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('promised_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('promised_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('pushed_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('push_ref', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('push_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_shipments_tracking_number', ['tracking_number'], unique=False)
        batch_op.create_index('ix_shipments_order_id', ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_order_id')
        batch_op.drop_index('ix_shipments_tracking_number')
        for col in ('push_error', 'push_ref', 'pushed_at', 'promised_by', 'promised_at', 'shipped_at'):
            batch_op.drop_column(col)
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_order_id')
        batch_op.drop_constraint(batch_op.f('fk_refunds_order_id_orders'), type_='foreignkey')
        batch_op.drop_column('restock')
        batch_op.drop_column('order_id')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_order_id')
        batch_op.drop_column('matched_at')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('channel_status')
