"""feed_token: the SHA-256 of each rubric feed's token instead of the token itself

The rubrics' private Atom feeds kept their tokens in clear while the agenda's kept only their
SHA-256 (agenda_feed_token.token_sha256): anyone with a copy of the database could read every
member's private rubric feed. A rubric feed now follows the agenda's rule (agenda/feeds.py):
only the digest is stored, and the address is shown once, when it is made. The existing
tokens are hashed in place, so the addresses already in feed readers keep working:
PostgreSQL in one UPDATE, SQLite (which has no sha256 function) in Python, by batches of rows.

feed_token carries no trigger (0028 put them on article and agenda_event only), so the batch
rebuild SQLite needs to drop a UNIQUE column loses nothing; on PostgreSQL the batch is plain
ALTER TABLE statements. resolve_fks=False, as in 0005: the rebuild need not reflect the
tables feed_token points to, and reflecting `account` warns about its expression index.

A downgrade cannot give the tokens back from their digests: it forgets every rubric feed
address (its members make a new one from the rubric's page).

Revision ID: 0032
Revises: 0031
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    op.add_column("feed_token", sa.Column("token_sha256", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE feed_token "
                   "SET token_sha256 = encode(sha256(convert_to(token, 'UTF8')), 'hex')")
    else:
        _digest_by_batches(bind)
    with op.batch_alter_table("feed_token", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.drop_constraint("uq_feed_token_token", type_="unique")
        batch.drop_column("token")
        batch.alter_column("token_sha256", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f("uq_feed_token_token_sha256"), ["token_sha256"])


def _digest_by_batches(bind) -> None:
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT id, token FROM feed_token WHERE id > :last ORDER BY id LIMIT :size"),
            {"last": last, "size": BATCH}).all()
        if not rows:
            return
        bind.execute(sa.text("UPDATE feed_token SET token_sha256 = :digest WHERE id = :id"),
                     [{"id": row_id, "digest": hashlib.sha256(token.encode()).hexdigest()}
                      for row_id, token in rows])
        last = rows[-1][0]


def downgrade():
    op.execute("DELETE FROM feed_token")
    op.add_column("feed_token", sa.Column("token", sa.String(length=64), nullable=True))
    with op.batch_alter_table("feed_token", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.drop_constraint("uq_feed_token_token_sha256", type_="unique")
        batch.drop_column("token_sha256")
        batch.alter_column("token", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f("uq_feed_token_token"), ["token"])
