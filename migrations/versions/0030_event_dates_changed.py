"""agenda_event.dates_changed_at: when the dates of an event asking for confirmation last moved

An organiser who moved an event kept every answer: a family that accepted Tuesday was counted
present on Thursday, was not reminded and was not told. The event now records when its dates
(start, end, all day, rule, excluded dates) changed; an answer given before that moment is
« à reconfirmer »: counted neither present nor absent, reminded, shown as given for the former
date (agenda.confirmations). NULL: the dates never changed since the answers could be given.

Revision ID: 0030
Revises: 0029
"""
from alembic import op
import sqlalchemy as sa

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("agenda_event", sa.Column("dates_changed_at", sa.DateTime(), nullable=True))


def downgrade():
    # Not batch mode: on SQLite it rebuilds the table, and the rebuilt table would lose the
    # trigger 0028 put on it. SQLite drops a column itself since 3.35.
    op.execute("ALTER TABLE agenda_event DROP COLUMN dates_changed_at")
