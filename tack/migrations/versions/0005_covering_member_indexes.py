"""covering indexes for "the conversations and meetings of a member"; open rooms across organizations

Without the conversation (room) id in the member index, SQLite's planner answers these queries by
scanning the organization's part of the primary key, which covers them too: every connection of a
school read every class membership of the school.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:45:00.000000
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_members_member')
        batch_op.create_index('ix_conversation_members_member', ['org_id', 'member_id', 'conversation_id'],
                              unique=False)
    with op.batch_alter_table('room_invitees', schema=None) as batch_op:
        batch_op.drop_index('ix_room_invitees_member')
        batch_op.create_index('ix_room_invitees_member', ['org_id', 'member_id', 'room_id'], unique=False)
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index('ix_rooms_status', ['status', 'scheduled_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index('ix_rooms_status')
    with op.batch_alter_table('room_invitees', schema=None) as batch_op:
        batch_op.drop_index('ix_room_invitees_member')
        batch_op.create_index('ix_room_invitees_member', ['org_id', 'member_id'], unique=False)
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_members_member')
        batch_op.create_index('ix_conversation_members_member', ['org_id', 'member_id'], unique=False)
