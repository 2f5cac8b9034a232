"""account_import: the lines left out for an error, and the accounts created without a password

An import's result page said « 740 créés, 20 modifiés. » and nothing of the 40 rows it left
out (the command line counted them), and under the import's title it gave the number of the
whole school's accounts still without a password as if the import had made them. An import
now keeps the lines of its file it left out (`error_lines`, numbers each followed by a space:
the file itself is erased once applied, it may hold passwords) and how many accounts it
created without a password (`awaiting_sheet_count`), both recorded with each batch in the
batch's own transaction (directory.account_import.apply_batch). The imports applied before
keep neither: empty and 0.

Revision ID: 0031
Revises: 0030
"""
from alembic import op
import sqlalchemy as sa

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("account_import", sa.Column("error_lines", sa.Text(), nullable=False,
                                              server_default=""))
    op.add_column("account_import", sa.Column("awaiting_sheet_count", sa.Integer(),
                                              nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("account_import") as batch:
        batch.drop_column("awaiting_sheet_count")
        batch.drop_column("error_lines")
