"""mailbox search: the recipients in Cc are searched too

mail_message.search_text held the subject, sender's name, To recipients and text: searching
for a person's name did not find the messages where that person was only in Cc. The model and
the indexer now put `cc_display` into it, after To (mailgate.models SEARCHED_COLUMNS; never
Bcc, which only the author may see). This migration writes the key again, with the model's
own function (the keys must be equal, as in 0005), and its distinct words (search_words,
0020), for the messages already stored that have someone in Cc: the others' key is unchanged.

It goes by batches of BATCH messages in primary key order (`id > last`), each one SELECT and
one UPDATE sent as a batch, so neither memory nor any statement grows with the table: it runs
at several million messages. The columns are named here as they are at this revision: a
column the search takes later is the later migration's to fill. A message still waiting for
the indexer gets the key of what is stored so far; the indexer writes it again with the text.

The downgrade leaves the values as they are: a key with the Cc in it only lets the older code
find more; the messages stored after the downgrade get keys without it.

Revision ID: 0033
Revises: 0032
"""
import sqlalchemy as sa
from alembic import op

from mailgate.models import search_text_of, search_words_of

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

BATCH = 1000
#: mailgate.models SEARCHED_COLUMNS at this revision
SEARCHED = ("subject", "from_name", "to_display", "cc_display", "text_body")


def upgrade():
    message = sa.table("mail_message", sa.column("id"), sa.column("search_text"),
                       sa.column("search_words"), *(sa.column(name) for name in SEARCHED))
    read = (sa.select(message.c.id, message.c.search_text,
                      *(message.c[name] for name in SEARCHED))
            .where(message.c.id > sa.bindparam("last"), message.c.cc_display != "")
            .order_by(message.c.id).limit(BATCH))
    write = (message.update().where(message.c.id == sa.bindparam("row_id"))
             .values(search_text=sa.bindparam("key"), search_words=sa.bindparam("words")))
    connection = op.get_bind()
    last = 0
    while rows := connection.execute(read, {"last": last}).all():
        changed = []
        for row in rows:
            key = search_text_of(row._mapping)
            if key != row.search_text:
                changed.append({"row_id": row.id, "key": key, "words": search_words_of(key)})
        if changed:
            connection.execute(write, changed)
        last = rows[-1].id


def downgrade():
    """Nothing: the keys keep the Cc recipients (see above)."""
