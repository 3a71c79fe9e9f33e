"""the customer invoice of an exported order, and whether it is paid; whether the channel took the money

``erp_orders.invoice_id`` / ``invoice_name``: the posted invoice the export made for a paid order;
``payment_state``: the invoice's, once the order's payments were registered on it.
``orders.paid_on_channel``: the channel itself says the shopper paid (Shopify's financial status, WooCommerce's
paid statuses), which an order's status, derived from gateway payments and shipments too, does not tell.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('orders', sa.Column('paid_on_channel', sa.Boolean(), nullable=True))
    op.add_column('erp_orders', sa.Column('invoice_id', sa.String(64), nullable=True))
    op.add_column('erp_orders', sa.Column('invoice_name', sa.String(64), nullable=True))
    op.add_column('erp_orders', sa.Column('payment_state', sa.String(16), nullable=True))


def downgrade():
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('paid_on_channel')
    with op.batch_alter_table('erp_orders') as batch:
        batch.drop_column('payment_state')
        batch.drop_column('invoice_name')
        batch.drop_column('invoice_id')
