"""account.address: the "C" collation on PostgreSQL

The compose form looks a typed address up by its beginning, as a range of the unique index on
`address` (portal/messagerie/typed.py); the range is the index's order only when the column
sorts byte by byte. A linguistic collation (fr_FR, en_US…) does not: « jean.martinez » fell
outside the range of « jean.martinez »'s own prefix ending in « z ». Addresses are ASCII in
lower case (directory.naming), so "C" changes no comparison a reader sees. SQLite compares
bytes already.

Revision ID: 0027
Revises: 0026
"""
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'ALTER TABLE account ALTER COLUMN address TYPE VARCHAR(120) '
               f'COLLATE "{collation}"')


def upgrade():
    _collate("C")


def downgrade():
    _collate("default")
