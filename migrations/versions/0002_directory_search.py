"""directory search: indexes for name-prefix search and the rights engine

Name searches compare the folded keys (account.search_name "last first", account.search_first,
group.search_name) with ranges (`key >= 'zoe' AND key < 'zof'`, see directory/search.py) and
sort by the same key, so one B-tree index per key serves both the filter and the order.
On PostgreSQL the keys get the "C" collation: a linguistic collation (fr_FR, en_US…) ignores
spaces and punctuation at first level, which would make 'le g' ≤ key < 'le h' wrong and would
not let the index give byte order. SQLite compares text bytewise (BINARY) already. The keys
are ASCII by construction (directory/naming.py), so byte order is also the alphabetical order.
pg_trgm was considered and not used: it helps "contains" searches, not prefixes, and cannot
give the sort order.

A name matches the first name too, so a page of results is the union of two sorted, limited
SELECTs (directory/search.py `search_page`). The first-name side reads
ix_account_first_then_name (search_first, search_name, id, suspended), which holds everything
that side needs: it never visits the table to sort "mar" (tens of thousands of Marie, Marc…).

On PostgreSQL the keys also get a finer histogram (statistics target 1000): with the default
the planner misjudges how many names share a prefix and, for a student (one school), reads
every "Ber…" of the region instead of the school's thousand accounts.

The rights engine walks group_member by group_id (primary key prefix) and by account_id,
parent_link by parent_id (primary key prefix) and by child_id: all indexed by 0001.
The discipline filter gets its own index.

Revision ID: 0002_directory_search
Revises: 0001_directory
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401

revision = '0002_directory_search'
down_revision = '0001_directory'
branch_labels = None
depends_on = None

KEYS = (("account", "search_name", 201), ("account", "search_first", 100),
        ("group", "search_name", 120))


def _set_key_collation(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in KEYS:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN {column} '
                   f'TYPE VARCHAR({length}) COLLATE "{collation}"')


def _set_key_statistics(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in ("search_name", "search_first"):
        op.execute(f"ALTER TABLE account ALTER COLUMN {column} SET STATISTICS {target}")


def upgrade():
    _set_key_collation("C")
    _set_key_statistics(1000)
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index('ix_account_discipline', ['discipline'], unique=False)
        batch_op.create_index('ix_account_first_then_name',
                              ['search_first', 'search_name', 'id', 'suspended'], unique=False)


def downgrade():
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index('ix_account_first_then_name')
        batch_op.drop_index('ix_account_discipline')
    _set_key_statistics(-1)
    _set_key_collation("default")
