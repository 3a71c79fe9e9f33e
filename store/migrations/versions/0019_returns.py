"""returns as their channel keeps them (Shopify's returns/* topics)

``returns``: one row per return, keyed by its channel's id: the order it is for, its status (requested, open,
closed, declined, canceled), the lines sent back and why. The money and the restock come with the refund.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'returns',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('channel', sa.String(length=64), nullable=False),
        sa.Column('external_id', sa.String(length=255), nullable=False),
        sa.Column('order_reference', sa.String(length=255), nullable=True),
        sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('name', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('closed_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_returns_order_id_orders'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_returns')),
        sa.UniqueConstraint('channel', 'external_id', name='uq_returns_channel_external_id'),
    )
    op.create_index('ix_returns_order_id', 'returns', ['order_id'])
    op.create_index('ix_returns_order_reference', 'returns', ['channel', 'order_reference'])


def downgrade():
    op.drop_table('returns')
