"""mailgate: erase the messages nothing holds any more, left by earlier account deletions

Until deleting an account erased them with it (mailgate.mailbox.delete_accounts), the
account's drafts and what only it had received stayed in mail_message, with their
attachments, when the foreign keys removed its mailbox: personal data of an erased account.
This erases those, by the rule of mailgate.store.collect_garbage: a message no mailbox
holds, no pending outbound entry will send and no running fan-out still places is
garbage; then the attachments' blobs no attachment points at. Three statements, whatever
the number of messages (each look is an index: mailbox_item, outbound_entry and fanout_job
by message_id).

Nothing comes back on downgrade: what was erased is gone.

Revision ID: 0022
Revises: 0021
"""
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UNHELD = """
    NOT EXISTS (SELECT 1 FROM mailbox_item WHERE mailbox_item.message_id = mail_message.id)
    AND NOT EXISTS (SELECT 1 FROM outbound_entry
                    WHERE outbound_entry.message_id = mail_message.id
                      AND outbound_entry.state = 'pending')
    AND NOT EXISTS (SELECT 1 FROM fanout_job
                    WHERE fanout_job.message_id = mail_message.id
                      AND fanout_job.finished_at IS NULL)"""


def upgrade():
    op.execute("DELETE FROM mail_attachment WHERE message_id IN "
               f"(SELECT id FROM mail_message WHERE {UNHELD})")
    op.execute(f"DELETE FROM mail_message WHERE {UNHELD}")
    op.execute("DELETE FROM mail_blob WHERE NOT EXISTS "
               "(SELECT 1 FROM mail_attachment WHERE mail_attachment.blob_sha256 = mail_blob.sha256)")


def downgrade():
    pass
