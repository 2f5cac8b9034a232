"""fanout_job: the mailings of a deleted article or event are detached from its number

A mailing finds what it is about by a key, `fanout_job.origin` ("article:12", "event:7"),
not by a foreign key: the fan-out (mailgate) knows nothing of articles (portal) or events
(agenda). SQLite gives the number of a deleted row to the next one (the highest rowid plus
one, when the table has no AUTOINCREMENT), so the mailings of a deleted article showed on
the next article, its readers asked to confirm what they never received; an event's notices
and their one-click answers moved to the next event, whose notice was not even sent when
its organiser was the same (its form key, "event:7:added:0", found the old job).

An article or event is deleted by its own page, or with its rubric, agenda, group or school
(ON DELETE CASCADE): a trigger on each table catches every way. It detaches rather than
deletes: the copies people received keep their links and invitations (mailgate/personalise
reads them from the job). "deleted:" before its origin names nothing any page looks up, and
its form key becomes "deleted:<job id>", which no form sends. The upgrade detaches in the same
way the mailings of articles and events deleted before it: those whose number names no row,
or a row made after the mailing.

Revision ID: 0028
Revises: 0027
"""
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

#: table → the origin its rows give their mailings (portal/rubriques/models.py
#: Article.origin, agenda/notices.py ORIGIN)
ORIGINS = {"article": "article:", "agenda_event": "event:"}

DETACH = ("UPDATE fanout_job SET origin = 'deleted:' || origin, "
          "idempotency_key = 'deleted:' || id WHERE origin = {origin} || OLD.id")


def _trigger(table: str) -> str:
    return f"{table}_detaches_mailings"


def backfill(table: str, origin: str) -> str:
    """The upgrade's statement that detaches the mailings of `table`'s rows deleted before it.
    The number after the origin's prefix is read as an integer and compared to the row's id,
    so the primary key finds the row: comparing `origin || id` to the job's text, nothing
    could, and SQLite read the whole table for every job. The CASE reads 1 to 18 digits and
    nothing else (text PostgreSQL could not read as a number would stop the upgrade); `origin
    || id` is still compared, after the key's look-up, so the same jobs are detached."""
    number = f"substr(fanout_job.origin, {len(origin) + 1})"
    return (f"UPDATE fanout_job SET origin = 'deleted:' || origin, "
            f"idempotency_key = 'deleted:' || id WHERE origin LIKE '{origin}%' "
            f"AND NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.id = "
            f"CASE WHEN length({number}) BETWEEN 1 AND 18 "
            f"AND ltrim({number}, '0123456789') = '' THEN CAST({number} AS BIGINT) END "
            f"AND '{origin}' || {table}.id = fanout_job.origin "
            f"AND {table}.created_at <= fanout_job.created_at)")


def upgrade():
    for table, origin in ORIGINS.items():
        op.execute(backfill(table, origin))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION fanout_job_detach() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                {DETACH.format(origin="TG_ARGV[0]")};
                RETURN NULL;
            END $$""")
        for table, origin in ORIGINS.items():
            op.execute(f"CREATE TRIGGER {_trigger(table)} AFTER DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION fanout_job_detach('{origin}')")
        return
    for table, origin in ORIGINS.items():
        detach = DETACH.format(origin=f"'{origin}'")
        op.execute(f"CREATE TRIGGER {_trigger(table)} AFTER DELETE ON {table} "
                   f"BEGIN {detach}; END")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in ORIGINS:
        op.execute(f"DROP TRIGGER {_trigger(table)}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION fanout_job_detach()")
