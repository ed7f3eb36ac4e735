"""chat: conversations, members and read positions, messages, reactions, DINGs, uploads

Message search is dialect-specific: on SQLite an FTS5 index over messages.body kept up to date by
triggers (external content, keyed by the messages table's rowid); on PostgreSQL a GIN index over
to_tsvector('simple', body), the expression tack.chat.service.search queries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import tack.core.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

SQLITE_SEARCH = [
    # unicode61 splits words on spaces and punctuation in every script and folds case and accents.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='rowid', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body); "
    "INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body); END",
]
POSTGRES_SEARCH = [
    "CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple'::regconfig, coalesce(body, '')))",
]


def upgrade() -> None:
    op.create_table('conversations',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('announcement', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.String(length=26), nullable=True),
    sa.Column('department_id', sa.String(length=26), nullable=True),
    sa.Column('direct_key', sa.String(length=53), nullable=True),
    sa.Column('created_by', sa.String(length=26), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_message_id', sa.String(length=26), nullable=True),
    sa.Column('last_activity_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_conversations_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('org_id', 'department_id', name=op.f('uq_conversations_org_id_department_id')),
    sa.UniqueConstraint('org_id', 'direct_key', name=op.f('uq_conversations_org_id_direct_key'))
    )
    op.create_table('conversation_members',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('conversation_id', sa.String(length=26), nullable=False),
    sa.Column('member_id', sa.String(length=26), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('read_seq', sa.BigInteger(), nullable=False),
    sa.Column('read_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('joined_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'conversation_id'], ['conversations.org_id', 'conversations.id'], name=op.f('fk_conversation_members_org_id_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id', 'member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_conversation_members_org_id_member_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'conversation_id', 'member_id', name=op.f('pk_conversation_members'))
    )
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_members_member', ['org_id', 'member_id'], unique=False)

    op.create_table('messages',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('conversation_id', sa.String(length=26), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('sender_id', sa.String(length=26), nullable=False),
    sa.Column('client_msg_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('mentions', sa.JSON(), nullable=False),
    sa.Column('mention_all', sa.Boolean(), nullable=False),
    sa.Column('attachment', sa.JSON(), nullable=True),
    sa.Column('upload_id', sa.String(length=26), nullable=True),
    sa.Column('reply_to_id', sa.String(length=26), nullable=True),
    sa.Column('is_ding', sa.Boolean(), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('edited_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recalled_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recalled_by', sa.String(length=26), nullable=True),
    sa.ForeignKeyConstraint(['org_id', 'conversation_id'], ['conversations.org_id', 'conversations.id'], name=op.f('fk_messages_org_id_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_messages')),
    sa.UniqueConstraint('org_id', 'conversation_id', 'sender_id', 'client_msg_id', name=op.f('uq_messages_org_id_conversation_id_sender_id_client_msg_id')),
    sa.UniqueConstraint('org_id', 'conversation_id', 'seq', name=op.f('uq_messages_org_id_conversation_id_seq'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_upload', ['org_id', 'upload_id'], unique=False)

    op.create_table('uploads',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('uploader_id', sa.String(length=26), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'uploader_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_uploads_org_id_uploader_id_memberships')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_uploads_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_uploads'))
    )
    op.create_table('dings',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('conversation_id', sa.String(length=26), nullable=False),
    sa.Column('sender_id', sa.String(length=26), nullable=False),
    sa.Column('remind_after_minutes', sa.Integer(), nullable=True),
    sa.Column('max_reminders', sa.Integer(), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('next_remind_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'id'], ['messages.org_id', 'messages.id'], name=op.f('fk_dings_org_id_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'id', name=op.f('pk_dings'))
    )
    with op.batch_alter_table('dings', schema=None) as batch_op:
        batch_op.create_index('ix_dings_next_remind_at', ['next_remind_at'], unique=False)
        batch_op.create_index('ix_dings_sender', ['org_id', 'sender_id', 'created_at'], unique=False)

    op.create_table('message_reactions',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('message_id', sa.String(length=26), nullable=False),
    sa.Column('emoji', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.String(length=26), nullable=False),
    sa.Column('created_at', tack.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id', 'message_id'], ['messages.org_id', 'messages.id'], name=op.f('fk_message_reactions_org_id_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'message_id', 'emoji', 'member_id', name=op.f('pk_message_reactions'))
    )
    op.create_table('ding_recipients',
    sa.Column('org_id', sa.String(length=26), nullable=False),
    sa.Column('ding_id', sa.String(length=26), nullable=False),
    sa.Column('member_id', sa.String(length=26), nullable=False),
    sa.Column('acknowledged_at', tack.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id', 'ding_id'], ['dings.org_id', 'dings.id'], name=op.f('fk_ding_recipients_org_id_ding_id_dings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id', 'member_id'], ['memberships.org_id', 'memberships.id'], name=op.f('fk_ding_recipients_org_id_member_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', 'ding_id', 'member_id', name=op.f('pk_ding_recipients'))
    )
    with op.batch_alter_table('ding_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_ding_recipients_member', ['org_id', 'member_id', 'acknowledged_at'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH if dialect == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("messages_fts_update", "messages_fts_delete", "messages_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_messages_search")
    with op.batch_alter_table('ding_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_ding_recipients_member')

    op.drop_table('ding_recipients')
    op.drop_table('message_reactions')
    with op.batch_alter_table('dings', schema=None) as batch_op:
        batch_op.drop_index('ix_dings_sender')
        batch_op.drop_index('ix_dings_next_remind_at')

    op.drop_table('dings')
    op.drop_table('uploads')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_upload')

    op.drop_table('messages')
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_members_member')

    op.drop_table('conversation_members')
    op.drop_table('conversations')
