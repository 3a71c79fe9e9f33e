"""what an order's sale order was made from

``erp_orders.spec_hash``: the fingerprint of the lines, prices, taxes, currency and total the sale order
was made from; an export that finds them changed updates the sale order (or, once it went out, notes it
and alerts a person). Rows made before have none: their sale orders are taken as they are.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('erp_orders', sa.Column('spec_hash', sa.String(64), nullable=True))


def downgrade():
    with op.batch_alter_table('erp_orders') as batch:
        batch.drop_column('spec_hash')
