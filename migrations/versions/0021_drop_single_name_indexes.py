"""directory: drop the single-column name indexes, which the covering ones make redundant

ix_account_search_name (search_name) and ix_account_search_first (search_first) date from
0001. Since ix_account_name_then_id (search_name, id, suspended; 0018) and
ix_account_first_then_name (search_first, search_name, id, suspended; 0002), every look-up or
range on either column is served by an index that starts with it and also holds what the
searches read. The two old ones only cost: every account written updates them, and the planner
weighs them at each of the six account scans of a search page.
Measured on PostgreSQL (473,764 accounts): 100,000 accounts copied into a table like `account`,
3.7–4.3 s with them, 3.0–3.3 s without; planning the Annuaire's search statement 0.82–0.94 ms
with them, 0.79–0.85 ms without.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_account_search_name', table_name='account')
    op.drop_index('ix_account_search_first', table_name='account')


def downgrade():
    op.create_index('ix_account_search_first', 'account', ['search_first'])
    op.create_index('ix_account_search_name', 'account', ['search_name'])
