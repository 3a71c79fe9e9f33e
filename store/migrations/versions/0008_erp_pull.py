"""pull cursors: where the ERP delivery and stock pulls have got to

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pull_cursors',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_pull_cursors'))
    )


def downgrade():
    op.drop_table('pull_cursors')
