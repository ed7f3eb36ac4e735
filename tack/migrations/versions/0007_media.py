"""media servers, rooms' media and join-token grants

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:56:12.791763
"""
from alembic import op
import sqlalchemy as sa
import tack.core.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_servers',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('api_url', sa.String(length=500), nullable=False),
    sa.Column('admin_url', sa.String(length=500), nullable=False),
    sa.Column('public_url', sa.String(length=500), nullable=False),
    sa.Column('admin_secret', sa.String(length=200), nullable=False),
    sa.Column('admin_key', sa.String(length=200), nullable=False),
    sa.Column('token_secret', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rooms', sa.Integer(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_seen_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_servers')),
    sa.UniqueConstraint('name', name=op.f('uq_media_servers_name'))
    )
    op.create_table('media_grants',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('room_id', sa.String(length=26), nullable=False),
    sa.Column('participant_id', sa.String(length=26), nullable=False),
    sa.Column('token', sa.String(length=300), nullable=False),
    sa.Column('expires_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'room_id'], ['rooms.org_id', 'rooms.id'], name=op.f('fk_media_grants_org_id_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_media_grants'))
    )
    with op.batch_alter_table('media_grants', schema=None) as batch_op:
        batch_op.create_index('ix_media_grants_expiry', ['expires_at'], unique=False)
        batch_op.create_index('ix_media_grants_participant', ['org_id', 'room_id', 'participant_id'], unique=False)

    op.create_table('room_media',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('room_id', sa.String(length=26), nullable=False),
    sa.Column('server_id', sa.String(length=26), nullable=False),
    sa.Column('publishers', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('broadcasting', sa.Boolean(), nullable=False),
    sa.Column('broadcast_owner', sa.String(length=100), nullable=True),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'room_id'], ['rooms.org_id', 'rooms.id'], name=op.f('fk_room_media_org_id_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'room_id', name=op.f('pk_room_media'))
    )
    with op.batch_alter_table('room_media', schema=None) as batch_op:
        batch_op.create_index('ix_room_media_server', ['server_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('room_media', schema=None) as batch_op:
        batch_op.drop_index('ix_room_media_server')

    op.drop_table('room_media')
    with op.batch_alter_table('media_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_media_grants_participant')
        batch_op.drop_index('ix_media_grants_expiry')

    op.drop_table('media_grants')
    op.drop_table('media_servers')
