"""mail gateway: message store, mailboxes, outbound queue

mail_message is stored once per message; mailbox_item is one mailbox's reference to it, and
ix_mailbox_item_folder_page (folder_id, received_at, id) gives a folder page, newest first, in
one index range scan. mailbox.used_bytes is the quota counter, updated in the same transaction
as the items (checked and reserved by one conditional UPDATE). mail_blob holds attachment
contents by SHA-256; mail_attachment points at them (indexed, for the "still referenced?"
check before a blob is removed). outbound_entry: ix_outbound_entry_due is partial (pending
entries only) so the workers' claim query reads only what is due. mail_correspondent lets a
recipient reply to an author they may not otherwise write to. The expression index on
lower(account.redirect_address) serves the gateway's "whose redirect address is this sender?"
(addresses compare case-insensitively).

Revision ID: 0004_mailgate
Revises: 0003_address_book
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_mailgate'
down_revision = '0003_address_book'
branch_labels = None
depends_on = None

FOLDER_KINDS = ('inbox', 'sent', 'drafts', 'trash', 'outbox', 'user')
ENTRY_KINDS = ('forward', 'report', 'system')
ENTRY_STATES = ('pending', 'sent', 'failed', 'bounced')


def _fk(table, column, target, ondelete=None):
    return sa.ForeignKeyConstraint([column], [f'{target}.{"sha256" if target == "mail_blob" else "id"}'],
                                   name=op.f(f'fk_{table}_{column}_{target}'), ondelete=ondelete)


def upgrade():
    op.create_table(
        'mailbox',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('used_bytes', sa.BigInteger(), nullable=False),
        _fk('mailbox', 'account_id', 'account', 'CASCADE'),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_mailbox')),
    )
    op.create_table(
        'mail_folder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*FOLDER_KINDS, name='folder_kind', native_enum=False,
                                  length=10), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        _fk('mail_folder', 'account_id', 'account', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_folder')),
        sa.UniqueConstraint('account_id', 'kind', 'name', name=op.f('uq_mail_folder_account_id')),
    )
    op.create_table(
        'mail_blob',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_mail_blob')),
    )
    op.create_table(
        'mail_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('from_name', sa.String(length=200), nullable=False),
        sa.Column('from_address', sa.String(length=254), nullable=False),
        sa.Column('to_display', sa.Text(), nullable=False),
        sa.Column('cc_display', sa.Text(), nullable=False),
        sa.Column('bcc_display', sa.Text(), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.Column('stored_at', sa.DateTime(), nullable=False),
        sa.Column('message_id_header', sa.String(length=250), nullable=False),
        sa.Column('in_reply_to', sa.String(length=250), nullable=False),
        sa.Column('references', sa.Text(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('text_body', sa.Text(), nullable=False),
        sa.Column('html_body', sa.Text(), nullable=True),
        sa.Column('has_attachments', sa.Boolean(), nullable=False),
        sa.Column('malformed', sa.Boolean(), nullable=False),
        sa.Column('automatic', sa.Boolean(), nullable=False),
        sa.Column('source', sa.LargeBinary(), nullable=False),
        _fk('mail_message', 'author_id', 'account', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_message')),
    )
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_message_author_id'), ['author_id'])
        batch_op.create_index(batch_op.f('ix_mail_message_message_id_header'),
                              ['message_id_header'])
    op.create_table(
        'mail_attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=255), nullable=False),
        sa.Column('content_id', sa.String(length=255), nullable=True),
        sa.Column('inline', sa.Boolean(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('blob_sha256', sa.String(length=64), nullable=False),
        _fk('mail_attachment', 'message_id', 'mail_message', 'CASCADE'),
        _fk('mail_attachment', 'blob_sha256', 'mail_blob'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attachment')),
    )
    with op.batch_alter_table('mail_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attachment_message_id'), ['message_id'])
        batch_op.create_index(batch_op.f('ix_mail_attachment_blob_sha256'), ['blob_sha256'])
    op.create_table(
        'mailbox_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('folder_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('is_read', sa.Boolean(), nullable=False),
        sa.Column('is_flagged', sa.Boolean(), nullable=False),
        sa.Column('is_answered', sa.Boolean(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        _fk('mailbox_item', 'account_id', 'account', 'CASCADE'),
        _fk('mailbox_item', 'folder_id', 'mail_folder', 'CASCADE'),
        _fk('mailbox_item', 'message_id', 'mail_message'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_item')),
    )
    with op.batch_alter_table('mailbox_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_item_account_id'), ['account_id'])
        batch_op.create_index(batch_op.f('ix_mailbox_item_message_id'), ['message_id'])
        batch_op.create_index('ix_mailbox_item_folder_page',
                              ['folder_id', 'received_at', 'id'])
    op.create_table(
        'mail_correspondent',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        _fk('mail_correspondent', 'account_id', 'account', 'CASCADE'),
        _fk('mail_correspondent', 'author_id', 'account', 'CASCADE'),
        sa.PrimaryKeyConstraint('account_id', 'author_id', name=op.f('pk_mail_correspondent')),
    )
    op.create_table(
        'outbound_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum(*ENTRY_KINDS, name='entry_kind', native_enum=False,
                                  length=10), nullable=False),
        sa.Column('state', sa.Enum(*ENTRY_STATES, name='entry_state', native_enum=False,
                                   length=10), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        _fk('outbound_entry', 'message_id', 'mail_message', 'SET NULL'),
        _fk('outbound_entry', 'account_id', 'account', 'SET NULL'),
        _fk('outbound_entry', 'author_id', 'account', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_entry')),
    )
    with op.batch_alter_table('outbound_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_entry_message_id'), ['message_id'])
        batch_op.create_index(batch_op.f('ix_outbound_entry_account_id'), ['account_id'])
        batch_op.create_index('ix_outbound_entry_finished', ['finished_at'])
        batch_op.create_index('ix_outbound_entry_due', ['next_attempt_at'],
                              postgresql_where=sa.text("state = 'pending'"),
                              sqlite_where=sa.text("state = 'pending'"))
    op.create_index('ix_account_redirect_lower', 'account',
                    [sa.text('lower(redirect_address)')])


def downgrade():
    op.drop_index('ix_account_redirect_lower', table_name='account')
    for table in ('outbound_entry', 'mail_correspondent', 'mailbox_item', 'mail_attachment',
                  'mail_message', 'mail_blob', 'mail_folder', 'mailbox'):
        op.drop_table(table)
