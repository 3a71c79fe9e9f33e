"""an event's hold deadline as a column

An event whose stock report waits for its channel's orders kept the deadline of that wait only in its
status note ("held until <time>; ..."), parsed back each time it was judged again. It is now a column;
the note still says it for people. Nullable and without a default, so PostgreSQL adds it without
rewriting the table; set_status writes it with every status (a status that is not a hold clears it).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('events', sa.Column('hold_until', UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('events') as batch:
        batch.drop_column('hold_until')
