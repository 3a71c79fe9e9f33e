"""what an order charged beyond its lines, and at which tax rates

``orders.prices_include_tax``: whether the order's unit prices, line discounts and charges include the
tax (Shopify's ``taxes_included``). ``orders.charges``: its shipping and fee lines, each with its amount,
discount, tax and rates. ``order_lines.tax_rates``: the rates charged on each line, in percent. The ERP
export builds its sale order from them, so the ERP's total is the channel's. Orders stored before have
none: the export says so and puts the difference on its own line. ``erp_orders.amount_total`` and
``adjustment``: the sale order's total once it equals the channel's, and what an adjustment line added.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from store.models import Money  # Numeric(18, 4)

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('orders', sa.Column('prices_include_tax', sa.Boolean(), nullable=True))
    op.add_column('orders', sa.Column('charges', sa.JSON(), nullable=True))
    op.add_column('order_lines', sa.Column('tax_rates', sa.JSON(), nullable=True))
    op.add_column('erp_orders', sa.Column('amount_total', Money, nullable=True))
    op.add_column('erp_orders', sa.Column('adjustment', Money, nullable=True))


def downgrade():
    with op.batch_alter_table('erp_orders') as batch:
        batch.drop_column('adjustment')
        batch.drop_column('amount_total')
    with op.batch_alter_table('order_lines') as batch:
        batch.drop_column('tax_rates')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('charges')
        batch.drop_column('prices_include_tax')
