"""account.login and allocated_address.local_part: the "C" collation on PostgreSQL; the form
keys of accounts created by hand

A new login or universal address takes the first free number after the names already taken
(directory/allocation.py), read as a range of the column's index: `base||'0' <= value <
base||':'`. The range holds `base2`, `base3`… only when the column sorts byte by byte. Under a
linguistic collation (fr_FR, en_US, ICU) `:` does not sort after the digits, the range came
back empty and a third « Jean Martin » got `…2` again: the unique login or the primary key of
allocated_address refused it (« Créer un compte » answered 500, an import batch could never
pass). Both hold ASCII in lower case (directory.naming), so "C" changes no comparison a reader
sees; as 0027 did for account.address. SQLite compares bytes already.

account_creation: the key the « Créer un compte » form carries (directory.import_models
.AccountCreation). The same form sent twice (a double click) finds the account its first
sending created instead of making a second one, with a second login and address burnt for
good.

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

COLUMNS = (("account", "login"), ("allocated_address", "local_part"))


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR(120) '
                   f'COLLATE "{collation}"')


def upgrade():
    _collate("C")
    op.create_table(
        'account_creation',
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['account.id'],
                                name=op.f('fk_account_creation_author_id_account'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                                name=op.f('fk_account_creation_account_id_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('author_id', 'form_key', name=op.f('pk_account_creation')))


def downgrade():
    op.drop_table('account_creation')
    _collate("default")
