"""mailbox search: the recipients in Cc are searched too

mail_message.search_text held the subject, sender's name, To recipients and text: searching
for a person's name did not find the messages where that person was only in Cc. The model and
the indexer now put `cc_display` into it, after To (mailgate.models SEARCHED_COLUMNS; never
Bcc, which only the author may see). This migration writes the key again, and its distinct
words (search_words, 0020), for the messages already stored that have someone in Cc: the
others' key is unchanged.

The key is built by the functions below, copies of mailgate.models `search_key`,
`search_text_of` and `search_words_of` and of the placeholder pattern of
mailgate/personalise.py as they are at this revision (equal to the model's today, which
tests/portal/test_search_cc_upgrade.py checks), so that what this migration writes does
not change when the model does: a later change of the key is the later migration's to
apply. `fold` is imported: its output is the rule first written in directory/naming.py,
unchanged since and pinned by tests/directory (test_fold_is_the_rule_as_first_written), and
every stored login, address and name key depends on it as well.

It goes by batches of BATCH messages in primary key order (`id > last`), each one SELECT and
one UPDATE sent as a batch, and each batch committed on its own: neither memory, nor any
statement, nor any transaction grows with the table, and progress is logged. Alembic runs
the whole upgrade in one transaction (migrations/env.py), so `autocommit_block` commits the
migrations before this one first, and the batches go through a connection of their own,
one transaction each (the block's own connection would commit each row's UPDATE alone on
PostgreSQL, and on SQLite its BEGIN, directory.db's hook, makes the block one transaction).
Stopped midway, the database stays at 0032 with the batches done kept; run again, it writes
only the keys still to change. A message still waiting for the indexer gets the key of what
is stored so far; the indexer writes it again with the text.

The downgrade leaves the values as they are: a key with the Cc in it only lets the older code
find more; the messages stored after the downgrade get keys without it.

Revision ID: 0033
Revises: 0032
"""
import logging
import re
import time
from collections.abc import Mapping

import sqlalchemy as sa
from alembic import op

from directory.db import writing_from_the_start
from directory.naming import fold

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

BATCH = 1000
PROGRESS_EVERY = 10.0   # seconds between two progress lines
#: mailgate.models SEARCHED_COLUMNS at this revision
SEARCHED = ("subject", "from_name", "to_display", "cc_display", "text_body")
#: mailgate.personalise: a placeholder, which each reader reads with their own value
PLACEHOLDER = re.compile(r"\[\[preau:([a-z_]+)\]\]")
logger = logging.getLogger("alembic.runtime.migration")


def search_key(*parts: str) -> str:
    """Each part folded, its runs of spaces and line breaks made one space; one non-empty
    part per line."""
    folded = (" ".join(fold(part).split()) for part in parts)
    return "\n".join(part for part in folded if part)


def search_text_of(row: Mapping) -> str:
    """The search key of a row of mail_message, each placeholder made a space."""
    return search_key(*(PLACEHOLDER.sub(" ", row[name] or "") for name in SEARCHED))


def search_words_of(search_text: str) -> str:
    """The distinct words of a key, in order of first appearance."""
    return " ".join(dict.fromkeys(search_text.split()))


def upgrade():
    message = sa.table("mail_message", sa.column("id"), sa.column("search_text"),
                       sa.column("search_words"), *(sa.column(name) for name in SEARCHED))
    read = (sa.select(message.c.id, message.c.search_text,
                      *(message.c[name] for name in SEARCHED))
            .where(message.c.id > sa.bindparam("last"), message.c.cc_display != "")
            .order_by(message.c.id).limit(BATCH))
    write = (message.update().where(message.c.id == sa.bindparam("row_id"))
             .values(search_text=sa.bindparam("key"), search_words=sa.bindparam("words")))
    last, seen, written = 0, 0, 0
    shown = time.monotonic()
    with op.get_context().autocommit_block():
        engine = op.get_bind().engine
        while True:
            with writing_from_the_start(), engine.begin() as connection:
                rows = connection.execute(read, {"last": last}).all()
                changed = [{"row_id": row.id, "key": key, "words": search_words_of(key)}
                           for row in rows
                           if (key := search_text_of(row._mapping)) != row.search_text]
                if changed:
                    connection.execute(write, changed)
            if not rows:
                break
            last, seen, written = rows[-1].id, seen + len(rows), written + len(changed)
            if time.monotonic() - shown >= PROGRESS_EVERY:
                logger.info("0033: %d messages with a Cc read up to id %d, %d keys written",
                            seen, last, written)
                shown = time.monotonic()
    logger.info("0033: %d messages with a Cc read, %d keys written", seen, written)


def downgrade():
    """Nothing: the keys keep the Cc recipients (see above)."""
