"""what an order's sale order delivery address was made from

``erp_orders.ship_hash``: the hash of the delivery address (a delivery contact under the customer) the sale
order was given; an export that finds the order's shipping address corrected on its channel gives the sale
order, and its open transfers, the new one (or, once it went out, notes it and alerts a person). Rows made
before have none: their sale orders are taken as they are.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('erp_orders', sa.Column('ship_hash', sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table('erp_orders') as batch:
        batch.drop_column('ship_hash')
