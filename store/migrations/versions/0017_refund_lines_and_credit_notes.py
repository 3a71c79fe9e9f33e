"""what a refund refunds, and which refunds have their credit note in the ERP

``refunds.lines``: every line item a refund names (restocked or not), so its credit note carries those
lines. ``erp_orders.credited``: the refunds ("<channel>:<refund id>") whose credit note the export posted
and paid in the ERP.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('refunds', sa.Column('lines', sa.JSON(), nullable=True))
    op.add_column('erp_orders', sa.Column('credited', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('erp_orders') as batch:
        batch.drop_column('credited')
    with op.batch_alter_table('refunds') as batch:
        batch.drop_column('lines')
