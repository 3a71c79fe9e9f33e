"""the units a shipment carries

An ERP delivery may ship part of an order (the rest goes later in a backorder): ``shipments.lines``
holds what this shipment carries, ``{sku: units}``, so that its tracking reaches the channel as a
fulfillment of those units (Shopify) or a note that leaves the order open (WooCommerce). NULL, as on
every existing row and on carriers' and channels' own shipments: the whole order.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shipments') as batch:
        batch.add_column(sa.Column('lines', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('shipments') as batch:
        batch.drop_column('lines')
