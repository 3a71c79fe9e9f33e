"""jobs owed by committed transactions

``owed``: one row per committed transaction (an event's processing, an ERP pull) that owes the job queues
something, written in that transaction and deleted once its jobs are queued. A row left behind, because the
worker or Redis died between the commit and the queueing, is queued by the outbox sweep.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'owed',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('jobs', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_owed')),
    )


def downgrade():
    op.drop_table('owed')
