"""directory: an index of the access ends still to enforce

The outbound worker looks once a minute for accounts whose access has ended and which are not
suspended yet (directory.accounts.end_ended_access). Ended accounts stay suspended with their
last day, a whole year group at each summer, so the index of every end (ix_account_access_ends_at,
0014) would walk them all at every look; this one holds only the accounts not suspended that
have an end.

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_account_access_ends_unsuspended', 'account', ['access_ends_at'],
                    postgresql_where=sa.text('access_ends_at IS NOT NULL AND suspended = false'),
                    sqlite_where=sa.text('access_ends_at IS NOT NULL AND suspended = 0'))


def downgrade():
    op.drop_index('ix_account_access_ends_unsuspended', table_name='account')
