"""task records (every attempt of every sync task) and replays

Revision ID: 0009
Revises: 0007 (re-chained after 0008 on merge)
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('replays',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('filter', sa.JSON(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('job_id', sa.String(length=128), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replays'))
    )
    op.create_index('ix_replays_status', 'replays', ['status', 'id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('entity', sa.String(length=128), nullable=False),
    sa.Column('idempotency_key', sa.String(length=320), nullable=True),
    sa.Column('attempt', sa.Integer(), server_default='1', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_class', sa.String(length=16), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('job_id', sa.String(length=128), nullable=True),
    sa.Column('args', sa.JSON(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('replay_of', BigId, nullable=True),
    sa.Column('replay_id', BigId, nullable=True),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['replay_of'], ['tasks.id'], name=op.f('fk_tasks_replay_of_tasks'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['replay_id'], ['replays.id'], name=op.f('fk_tasks_replay_id_replays'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_status_id', 'tasks', ['status', 'id'], unique=False)
    op.create_index('ix_tasks_kind_entity', 'tasks', ['kind', 'entity', 'id'], unique=False)
    op.create_index('ix_tasks_channel_id', 'tasks', ['channel', 'id'], unique=False)
    op.create_index('ix_tasks_started_at', 'tasks', ['started_at'], unique=False)
    op.create_index('ix_tasks_replay_id', 'tasks', ['replay_id'], unique=False)
    op.create_index('ix_tasks_replay_of', 'tasks', ['replay_of'], unique=False)


def downgrade():
    op.drop_table('tasks')
    op.drop_table('replays')
