"""event log: per-organization position counters and the events of the real-time stream

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import tack.core.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_streams',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('last_position', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.String(length=32), nullable=False),
    sa.Column('pruned_through', sa.BigInteger(), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_event_streams_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_event_streams'))
    )
    op.create_table('events',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['event_streams.org_id'], name=op.f('fk_events_org_id_event_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'position', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_channel', ['org_id', 'channel', 'position'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_channel')

    op.drop_table('events')
    op.drop_table('event_streams')
