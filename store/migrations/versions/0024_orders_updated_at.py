"""orders by when the hub last changed them

``ix_orders_updated_at``: the outbox sweep finds the orders changed lately whose ERP export or CRM sync has
not run since (``jobs.outbox.sweep_exports``).

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_orders_updated_at', 'orders', ['updated_at'])


def downgrade():
    op.drop_index('ix_orders_updated_at', table_name='orders')
