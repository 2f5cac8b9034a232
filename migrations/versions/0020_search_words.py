"""mailbox search: the trigram index reads each message's distinct words, not its whole text

mail_message.search_words holds the distinct words of search_text (mailgate.models
`search_words_of`), written with it. pg_trgm takes its trigrams word by word, so a word
repeated a hundred times was read a hundred times to find the same trigrams; indexing the
distinct words finds exactly the same ones. The search asks the index for the messages whose
words contain each searched word, then keeps those whose search_text contains the searched
text (portal/messagerie/search.py): the same results as `search_text LIKE '%…%'` alone.

Measured on PostgreSQL, one UPDATE per message as the indexer writes them: 10 KB of a
repeated line, 413 µs with the index on search_text, 227 on search_words (209 without any
index); 10 KB of varied text, 3,039 µs against 2,428 (289 without). In the 10,000-message
forwarding bench the indexer's UPDATE was 272 µs per message, a third of the database's time.

The migration fills search_words for the messages already stored, by batches, with the
model's function. On SQLite the column is filled as well (nothing indexes it there).

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

from directory.db import has_lz4
from mailgate.models import search_words_of

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BATCH = 1000


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _trigram_index(column: str) -> None:
    """The GIN trigram index of `column`, its operator class named with the schema pg_trgm
    lives in (which need not be on the search_path: a schema per test, for example)."""
    schema = op.get_bind().scalar(sa.text(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"))
    op.execute(f"CREATE INDEX ix_mail_message_{column}_trgm ON mail_message "
               f"USING gin ({column} {schema}.gin_trgm_ops)")


def _fill_search_words() -> None:
    message = sa.table("mail_message", sa.column("id"), sa.column("search_text"),
                       sa.column("search_words"))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(message.c.id, message.c.search_text)
            .where(message.c.id > last).order_by(message.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(
            message.update().where(message.c.id == sa.bindparam("row_id"))
            .values(search_words=sa.bindparam("words")),
            [{"row_id": row[0], "words": search_words_of(row[1] or "")} for row in rows])
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_words', sa.Text(), nullable=False,
                                      server_default=''))
    if has_lz4(op.get_bind()):
        op.execute("ALTER TABLE mail_message ALTER COLUMN search_words SET COMPRESSION lz4")
    _fill_search_words()
    if _postgresql():
        op.execute("DROP INDEX ix_mail_message_search_text_trgm")
        _trigram_index("search_words")


def downgrade():
    if _postgresql():
        op.execute("DROP INDEX ix_mail_message_search_words_trgm")
        _trigram_index("search_text")
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_column('search_words')
