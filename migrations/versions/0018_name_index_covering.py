"""directory search: the last-name index covers what a search counts

A name search counts its matches up to a cap (1,001: "more than 1,000 results") and reads
one page. The count visited the table for every match only to read `suspended`: a thousand
random row reads for "mar", most of a search page's time in the database. With
(search_name, id, suspended) the last-name side of the count and of the page is read from the
index alone, as the first-name side already is from ix_account_first_then_name (0002); the
count is written as those two sides (directory/search.py `count_query`).

Revision ID: 0018
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401

revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_account_name_then_id', 'account', ['search_name', 'id', 'suspended'])


def downgrade():
    op.drop_index('ix_account_name_then_id', table_name='account')
