"""messages indexed after their 250

mail_message.indexed_at: when the indexer (mailgate/indexer.py) read the message's parts —
text, HTML, attachments — and filled its search text; NULL for a message the SMTP gateway
stored with its header only (the raw message as received), which the indexer reads right
after the commit. ix_mail_message_unindexed (id WHERE indexed_at IS NULL) is partial: it holds
only the messages waiting, so finding them stays cheap whatever the store's size. Messages
already stored were indexed when stored: indexed_at = stored_at.

Revision ID: 0016
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (SQLite has it): no batch copy of a table that may be large.
    op.add_column('mail_message', sa.Column('indexed_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE mail_message SET indexed_at = stored_at")
    op.create_index('ix_mail_message_unindexed', 'mail_message', ['id'],
                    postgresql_where=sa.text('indexed_at IS NULL'),
                    sqlite_where=sa.text('indexed_at IS NULL'))


def downgrade():
    op.drop_index('ix_mail_message_unindexed', table_name='mail_message')
    with op.batch_alter_table('mail_message') as batch:
        batch.drop_column('indexed_at')
