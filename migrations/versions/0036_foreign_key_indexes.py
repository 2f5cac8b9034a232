"""indexes under the foreign keys that had none

Deleting an account (or an agenda) makes the database visit every row that points to it:
SET NULL or CASCADE on each referencing column. Six such columns had no index led by them,
so each deletion read the whole of their tables — outbound_entry.author_id (every forward of
the last 30 days), mail_correspondent.author_id (every pair of correspondents of the region),
agenda_comment.author_id, agenda_answer.recorded_by_id, account_import.author_id — and
agenda_feed_token.agenda_id for an agenda. An administrator removing a school's leavers paid
one scan of each table per account. tests/portal/test_foreign_key_indexes.py keeps every
foreign key led by an index.

Plain CREATE INDEX in the upgrade's transaction: on PostgreSQL it holds off writes to each
table while its index is built (seconds on outbound_entry at a region's size), so the upgrade
is run with the gateway and the worker stopped, as the README says of every upgrade.

Revision ID: 0036
Revises: 0035
"""
from alembic import op

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None

INDEXED = (
    ('outbound_entry', 'author_id'),
    ('mail_correspondent', 'author_id'),
    ('agenda_comment', 'author_id'),
    ('agenda_answer', 'recorded_by_id'),
    ('account_import', 'author_id'),
    ('agenda_feed_token', 'agenda_id'),
)


def upgrade():
    for table, column in INDEXED:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column])


def downgrade():
    for table, column in reversed(INDEXED):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
