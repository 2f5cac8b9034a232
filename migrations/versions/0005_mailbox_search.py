"""mailbox search, sidebar counts and read-receipt answers

mail_message.search_text: the subject, sender's name, recipients and text of the message
as mailgate.models.search_key folds them (lower case, accents and ligatures dropped:
"Élève" → "eleve"; runs of spaces and line breaks made one space), which is how the
searched text is folded too; the mailbox search (portal/messagerie/search.py) is then a
containment test on one column, accent- and case-insensitive, with no per-row function in
the query. The model fills it on insert (messages are never updated); this migration fills
the messages already stored, with the same function (the keys must be equal).
On PostgreSQL a GIN trigram index (pg_trgm, a trusted extension since PostgreSQL 13) serves
`search_text LIKE '%…%'`; SQLite reads the account's messages. A word found in many
messages is still compared with each of them (the page says how many match), and most of
that time goes into decompressing search_text: lz4, when the server has it, takes about a
quarter off compared with the default pglz.

ix_mailbox_item_account_folder (account_id, folder_id, is_read) gives the sidebar's counts
(messages and unread per folder of one account) from the index alone.

mailbox_item.receipt_answered: the reader answered the read-receipt question (yes or no) for
this copy of the message; it is not asked again and a second answer sends nothing.

Revision ID: 0005_mailbox_search
Revises: 0004_mailgate
"""
from alembic import op
import sqlalchemy as sa

from directory.db import has_lz4
from mailgate.models import SEARCHED_COLUMNS as SEARCHED, search_key

revision = '0005_mailbox_search'
down_revision = '0004_mailgate'
branch_labels = None
depends_on = None

BATCH = 1000


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _fill_search_text() -> None:
    """The same key the model computes on insert, for the messages already stored."""
    message = sa.table("mail_message", sa.column("id"), sa.column("search_text"),
                       *(sa.column(name) for name in SEARCHED))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(message.c.id, *(message.c[name] for name in SEARCHED))
            .where(message.c.id > last).order_by(message.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(
            message.update().where(message.c.id == sa.bindparam("row_id"))
            .values(search_text=sa.bindparam("key")),
            [{"row_id": row[0], "key": search_key(*(part or "" for part in row[1:]))}
             for row in rows])
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=False,
                                      server_default=''))
    # resolve_fks=False: SQLite's batch mode need not reflect the tables mailbox_item points
    # to; reflecting `account` warned about its expression index (ix_account_redirect_lower)
    # at every `preau init`.
    with op.batch_alter_table('mailbox_item', schema=None,
                              reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.add_column(sa.Column('receipt_answered', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_index('ix_mailbox_item_account_folder',
                              ['account_id', 'folder_id', 'is_read'])
    if has_lz4(op.get_bind()):
        op.execute("ALTER TABLE mail_message ALTER COLUMN search_text SET COMPRESSION lz4")
    _fill_search_text()
    if _postgresql():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # The operator class is named with the schema the extension lives in, which need not
        # be on this database's search_path (a schema per test, for example).
        schema = op.get_bind().scalar(sa.text(
            "SELECT extnamespace::regnamespace::text FROM pg_extension "
            "WHERE extname = 'pg_trgm'"))
        op.execute(f"CREATE INDEX ix_mail_message_search_text_trgm ON mail_message "
                   f"USING gin (search_text {schema}.gin_trgm_ops)")


def downgrade():
    if _postgresql():
        op.execute("DROP INDEX ix_mail_message_search_text_trgm")
    # resolve_fks=False: SQLite's batch mode need not reflect the tables mailbox_item points
    # to; reflecting `account` warned about its expression index (ix_account_redirect_lower)
    # at every `preau init`.
    with op.batch_alter_table('mailbox_item', schema=None,
                              reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_index('ix_mailbox_item_account_folder')
        batch_op.drop_column('receipt_answered')
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_column('search_text')
