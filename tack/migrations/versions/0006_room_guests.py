"""room guests: meetings open to people without an account, by link and passcode

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guest_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('guest_passcode', sa.String(length=12), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_rooms_guest_code'), ['guest_code'])
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guest', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('member_id', existing_type=sa.String(length=26), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM room_participants WHERE member_id IS NULL")
    with op.batch_alter_table('room_participants', schema=None) as batch_op:
        batch_op.alter_column('member_id', existing_type=sa.String(length=26), nullable=False)
        batch_op.drop_column('guest')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_rooms_guest_code'), type_='unique')
        batch_op.drop_column('guest_passcode')
        batch_op.drop_column('guest_code')
