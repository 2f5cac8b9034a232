"""communications: the key of the form that created one

« Écrire à plusieurs » sent twice on a double click (two communications, every recipient
written to twice). The form now carries a key drawn when it is shown; a second submission
with the same key finds the communication the first one made (one per author and key: a
unique index, whose NULLs, the communications made before and the automated ones, never
collide).

Revision ID: 0026
Revises: 0025
"""
from alembic import op
import sqlalchemy as sa

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("communication", sa.Column("idempotency_key", sa.String(length=64),
                                             nullable=True))
    op.create_index("ix_communication_author_key", "communication",
                    ["author_id", "idempotency_key"], unique=True)


def downgrade():
    op.drop_index("ix_communication_author_key", table_name="communication")
    with op.batch_alter_table("communication") as batch:
        batch.drop_column("idempotency_key")
