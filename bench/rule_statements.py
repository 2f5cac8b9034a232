"""The statements that hold a writing rule, for many senders (issue 16): the other directory
benchmarks search as one person, whose statements stay in the caches; a region's senders are
hundreds of thousands. In process, on a `preau demo --users 500000` database:

    PREAU_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/rule_statements.py [N]

For N pupils (default 200) each seen for the first time, then again: the CPU of a search page's
two statements (« mar », `portal.people_statements`, ids then rows) and of `rights.writable`
for two candidates. Prints ms of CPU per sender. Reads only.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.db import db  # noqa: E402
from directory.enums import Profile  # noqa: E402
from directory.models import Account  # noqa: E402
from directory.rights import sender_rule, writable  # noqa: E402
from directory.search import AccountFilters  # noqa: E402
from portal import create_app  # noqa: E402
from portal.people_statements import IDS, people_statements  # noqa: E402

WARM = 20


def search_page(viewer: Account, rule) -> None:
    statements, params = people_statements(viewer, AccountFilters(name="mar"), 0, 20, 500,
                                           rule=rule)
    connection = db.session.connection()
    ids = [row[0] for row in statements.run("ids", connection, params)]
    statements.run("rows", connection, {**params, IDS: ids})


def cpu_ms(work, senders) -> float:
    start = time.process_time()
    for sender in senders:
        work(sender)
    return (time.process_time() - start) * 1000 / len(senders)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    app = create_app()
    with app.test_request_context():
        pupils = db.session.scalars(select(Account).where(
            Account.profile == Profile.STUDENT, Account.suspended.is_(False))
            .order_by(Account.id).limit(WARM + 2 * count)).all()
        rules = {pupil.id: sender_rule(pupil) for pupil in pupils}
        candidates = [pupils[0].id, pupils[1].id]

        def page(pupil):
            search_page(pupil, rules[pupil.id])

        def verdicts(pupil):
            writable(pupil, candidates, rule=rules[pupil.id])

        for pupil in pupils[:WARM]:       # SQLAlchemy's caches, the connection, the plans
            page(pupil)
            verdicts(pupil)
        for label, work, senders in (("a search page's statements", page,
                                      pupils[WARM:WARM + count]),
                                     ("writable, 2 candidates", verdicts,
                                      pupils[WARM + count:])):
            first, again = cpu_ms(work, senders), cpu_ms(work, senders)
            print(f"{label:<30} first time for a sender {first:5.2f} ms CPU, "
                  f"again {again:5.2f} ms  ({len(senders)} pupils)")


if __name__ == "__main__":
    main()
