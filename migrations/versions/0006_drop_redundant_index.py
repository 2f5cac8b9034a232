"""drop mailbox_item's account_id index

ix_mailbox_item_account_folder (account_id, folder_id, is_read), added by 0005, begins with
account_id and serves every query the single-column index served; keeping both only made each
delivery write one more index entry.

Revision ID: 0006_drop_redundant_index
Revises: 0005_mailbox_search
"""
from alembic import op

revision = '0006_drop_redundant_index'
down_revision = '0005_mailbox_search'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_mailbox_item_account_id", table_name="mailbox_item")


def downgrade():
    op.create_index("ix_mailbox_item_account_id", "mailbox_item", ["account_id"])
