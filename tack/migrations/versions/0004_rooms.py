"""rooms: meetings and classes, invitees, participants, timetables

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:00:07.222050
"""
from alembic import op
import sqlalchemy as sa
import tack.core.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lessons',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('conversation_id', sa.String(length=26), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('teacher_member_id', sa.String(length=26), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.String(length=5), nullable=False),
    sa.Column('ends_at', sa.String(length=5), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'teacher_member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_lessons_org_id_teacher_member_id_memberships')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_lessons_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_lessons'))
    )
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.create_index('ix_lessons_conversation', ['org_id', 'conversation_id'], unique=False)
        batch_op.create_index('ix_lessons_weekday_start', ['weekday', 'starts_at'], unique=False)

    op.create_table('rooms',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('conversation_id', sa.String(length=26), nullable=True),
    sa.Column('lesson_id', sa.String(length=26), nullable=True),
    sa.Column('lesson_date', sa.String(length=10), nullable=True),
    sa.Column('host_member_id', sa.String(length=26), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scheduled_start', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scheduled_end', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('waiting_room', sa.Boolean(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('seated', sa.Integer(), nullable=False),
    sa.Column('media_room', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=26), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'host_member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_rooms_org_id_host_member_id_memberships')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_rooms_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_rooms')),
    sa.UniqueConstraint('media_room', name=op.f('uq_rooms_media_room')),
    sa.UniqueConstraint('org_id', 'lesson_id', 'lesson_date', name=op.f('uq_rooms_org_id_lesson_id_lesson_date'))
    )
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index('ix_rooms_conversation', ['org_id', 'conversation_id', 'status'], unique=False)
        batch_op.create_index('ix_rooms_status_start', ['org_id', 'status', 'scheduled_start'], unique=False)

    op.create_table('room_invitees',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('room_id', sa.String(length=26), nullable=False),
    sa.Column('member_id', sa.String(length=26), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_room_invitees_org_id_member_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id', 'room_id'], ['rooms.org_id', 'rooms.id'], name=op.f('fk_room_invitees_org_id_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'room_id', 'member_id', name=op.f('pk_room_invitees'))
    )
    with op.batch_alter_table('room_invitees', schema=None) as batch_op:
        batch_op.create_index('ix_room_invitees_member', ['org_id', 'member_id'], unique=False)

    op.create_table('room_participants',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('room_id', sa.String(length=26), nullable=False),
    sa.Column('member_id', sa.String(length=26), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('hand_raised_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('muted', sa.Boolean(), nullable=False),
    sa.Column('first_joined_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('visit_started_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dropped_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('left_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('present_seconds', sa.Float(), nullable=False),
    sa.Column('joins', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_room_participants_org_id_member_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id', 'room_id'], ['rooms.org_id', 'rooms.id'], name=op.f('fk_room_participants_org_id_room_id_rooms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_room_participants')),
    sa.UniqueConstraint('org_id', 'room_id', 'member_id', name=op.f('uq_room_participants_org_id_room_id_member_id'))
    )
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.create_index('ix_room_participants_dropped', ['dropped_at'], unique=False)
        batch_op.create_index('ix_room_participants_member', ['org_id', 'member_id', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.drop_index('ix_room_participants_member')
        batch_op.drop_index('ix_room_participants_dropped')

    op.drop_table('room_participants')
    with op.batch_alter_table('room_invitees', schema=None) as batch_op:
        batch_op.drop_index('ix_room_invitees_member')

    op.drop_table('room_invitees')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index('ix_rooms_status_start')
        batch_op.drop_index('ix_rooms_conversation')

    op.drop_table('rooms')
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.drop_index('ix_lessons_weekday_start')
        batch_op.drop_index('ix_lessons_conversation')

    op.drop_table('lessons')
