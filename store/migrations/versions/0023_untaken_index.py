"""order lines whose channel has not said it took their stock, nor that it will

``ix_order_stock_untaken``: a partial index over the few lines of a paid WooCommerce order whose body came
before WooCommerce wrote what it took (``_reduced_stock``): the push reads those SKUs before a plain set
(``domain.ledger.may_take``).

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

UNTAKEN = "taken < committed + shipped AND to_take = 0"


def upgrade():
    op.create_index('ix_order_stock_untaken', 'order_stock', ['channel', 'sku'],
                    postgresql_where=sa.text(UNTAKEN), sqlite_where=sa.text(UNTAKEN))


def downgrade():
    op.drop_index('ix_order_stock_untaken', table_name='order_stock')
