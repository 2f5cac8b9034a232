"""directory search: a name index per school, kept by the database

A pupil finds the people of her school (a thousand among the region's half million). Her page
was read from the school's members one by one through the primary key of `account`, filtered
by name and sorted: on PostgreSQL, for « mar » among 473,764 accounts, 2,920 buffers, 1.36–1.48
ms of execution and 0.40 ms of planning at every search (warm). Here `account_school` holds a copy of
what such a search reads of the account (folded names, suspension, profile), indexed from the
school: ix_account_school_names (school_id, search_name, account_id, search_first, suspended,
profile). The same page is one index-only range of 11 buffers: 0.18–0.20 ms of execution,
0.06–0.09 ms of planning. The index replaces ix_account_school_school_id, its prefix.

The copy is the database's to keep, by triggers, so that no write can forget it (the ORM, an
import's bulk statements, the worker suspending ended accounts):
- when a membership is inserted (or given another account), the account's values are copied
  into it (PostgreSQL: before the insert; SQLite, whose triggers cannot change the new row:
  right after it). On PostgreSQL the account's row is read FOR SHARE: a transaction changing
  that account at the same time is waited for and its values copied, or waits for this one
  and then copies its own; either way the copy ends up with the last values;
- when an account's names, suspension or profile change, every one of its memberships gets
  the new values.
The PostgreSQL functions keep the search_path of this migration, whatever the session's.

A later migration that recreates `account` or `account_school` on SQLite (a batch migration:
copy, drop, rename) must drop these triggers first and create them again after: each table's
triggers name the other, and SQLite checks them at the rename.

The upgrade holds `account_school` (and `account`, from the triggers' creation) locked until
it commits: 5.8 s for 473,764 accounts on PostgreSQL. The triggers are created before the copy
is filled, so no write to an account can slip between the two. The fill rewrites every row of
`account_school`: until autovacuum (or `VACUUM ANALYZE account_school`) has been through, the
index-only reads below visit the table too.

On PostgreSQL the names get the "C" collation, as `account`'s (0002): the order of the index is
the order of the keys' bytes, the order every search sorts by.

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

COPIED = ("search_name", "search_first", "suspended", "profile")

POSTGRESQL_TRIGGERS = """
CREATE FUNCTION account_school_copy_account() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    SELECT search_name, search_first, suspended, profile
      INTO NEW.search_name, NEW.search_first, NEW.suspended, NEW.profile
      FROM account WHERE id = NEW.account_id FOR SHARE;
    RETURN NEW;
END $$;

CREATE TRIGGER account_school_copies_account BEFORE INSERT OR UPDATE OF account_id
    ON account_school FOR EACH ROW EXECUTE FUNCTION account_school_copy_account();

CREATE FUNCTION account_copy_to_schools() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE account_school
       SET search_name = NEW.search_name, search_first = NEW.search_first,
           suspended = NEW.suspended, profile = NEW.profile
     WHERE account_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER account_copies_to_schools AFTER UPDATE OF search_name, search_first, suspended,
    profile ON account FOR EACH ROW
    WHEN (OLD.search_name IS DISTINCT FROM NEW.search_name
          OR OLD.search_first IS DISTINCT FROM NEW.search_first
          OR OLD.suspended IS DISTINCT FROM NEW.suspended
          OR OLD.profile IS DISTINCT FROM NEW.profile)
    EXECUTE FUNCTION account_copy_to_schools();
"""

_SQLITE_COPY = """
    UPDATE account_school
       SET search_name = (SELECT search_name FROM account WHERE id = NEW.account_id),
           search_first = (SELECT search_first FROM account WHERE id = NEW.account_id),
           suspended = (SELECT suspended FROM account WHERE id = NEW.account_id),
           profile = (SELECT profile FROM account WHERE id = NEW.account_id)
     WHERE account_id = NEW.account_id AND school_id = NEW.school_id;
"""

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER account_school_copies_account AFTER INSERT ON account_school "
    f"BEGIN {_SQLITE_COPY} END",
    f"CREATE TRIGGER account_school_copies_moved_account AFTER UPDATE OF account_id "
    f"ON account_school BEGIN {_SQLITE_COPY} END",
    """CREATE TRIGGER account_copies_to_schools AFTER UPDATE OF search_name, search_first,
           suspended, profile ON account
       WHEN OLD.search_name IS NOT NEW.search_name OR OLD.search_first IS NOT NEW.search_first
            OR OLD.suspended IS NOT NEW.suspended OR OLD.profile IS NOT NEW.profile
       BEGIN
           UPDATE account_school
              SET search_name = NEW.search_name, search_first = NEW.search_first,
                  suspended = NEW.suspended, profile = NEW.profile
            WHERE account_id = NEW.id;
       END""",
)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table('account_school', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.String(201), nullable=True))
        batch_op.add_column(sa.Column('search_first', sa.String(100), nullable=True))
        batch_op.add_column(sa.Column('suspended', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('profile', sa.Enum(
            'student', 'parent', 'teacher', 'staff', 'other', name='profile',
            native_enum=False, length=20), nullable=True))
    if postgresql:
        for column, length in (("search_name", 201), ("search_first", 100)):
            op.execute(f'ALTER TABLE account_school ALTER COLUMN {column} '
                       f'TYPE VARCHAR({length}) COLLATE "C"')
        op.execute(POSTGRESQL_TRIGGERS)
        op.execute("UPDATE account_school SET search_name = a.search_name, "
                   "search_first = a.search_first, suspended = a.suspended, "
                   "profile = a.profile FROM account a WHERE a.id = account_school.account_id")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("UPDATE account_school SET " + ", ".join(
            f"{column} = (SELECT {column} FROM account WHERE id = account_school.account_id)"
            for column in COPIED))
    op.create_index('ix_account_school_names', 'account_school',
                    ['school_id', 'search_name', 'account_id', 'search_first', 'suspended',
                     'profile'])
    op.drop_index('ix_account_school_school_id', table_name='account_school')


def downgrade():
    op.create_index('ix_account_school_school_id', 'account_school', ['school_id'])
    op.drop_index('ix_account_school_names', table_name='account_school')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER account_copies_to_schools ON account")
        op.execute("DROP TRIGGER account_school_copies_account ON account_school")
        op.execute("DROP FUNCTION account_copy_to_schools()")
        op.execute("DROP FUNCTION account_school_copy_account()")
    else:
        for trigger in ("account_copies_to_schools", "account_school_copies_moved_account",
                        "account_school_copies_account"):
            op.execute(f"DROP TRIGGER {trigger}")
    with op.batch_alter_table('account_school', schema=None) as batch_op:
        for column in reversed(COPIED):
            batch_op.drop_column(column)
