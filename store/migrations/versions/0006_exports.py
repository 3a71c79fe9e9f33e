"""exports to the ERP and the CRM

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _outcome_columns():
    return [
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
    ]


def upgrade():
    op.create_table('erp_orders',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('ref', sa.String(length=320), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=True),
    sa.Column('sale_order_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=True),
    *_outcome_columns(),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_erp_orders_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_orders')),
    sa.UniqueConstraint('order_id', name='uq_erp_orders_order_id')
    )
    op.create_index('ix_erp_orders_status', 'erp_orders', ['status'], unique=False)

    op.create_table('crm_deals',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('order_key', sa.String(length=320), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('deal_id', sa.String(length=64), nullable=True),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.String(length=32), nullable=True),
    *_outcome_columns(),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_crm_deals_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_deals')),
    sa.UniqueConstraint('order_id', name='uq_crm_deals_order_id')
    )
    op.create_index('ix_crm_deals_status', 'crm_deals', ['status'], unique=False)

    op.create_table('crm_notes',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('occurred_at', UTCDateTime(), nullable=False),
    sa.Column('note_id', sa.String(length=64), nullable=True),
    *_outcome_columns(),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_crm_notes_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_notes')),
    sa.UniqueConstraint('key', name='uq_crm_notes_key')
    )
    op.create_index('ix_crm_notes_order_id', 'crm_notes', ['order_id', 'status'], unique=False)


def downgrade():
    op.drop_index('ix_crm_notes_order_id', table_name='crm_notes')
    op.drop_table('crm_notes')
    op.drop_index('ix_crm_deals_status', table_name='crm_deals')
    op.drop_table('crm_deals')
    op.drop_index('ix_erp_orders_status', table_name='erp_orders')
    op.drop_table('erp_orders')
