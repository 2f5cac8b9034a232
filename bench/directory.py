"""Directory benchmark (issue 4): prints figures, asserts nothing.

Run against a database filled by `preau demo --users 500000`:

    PREAU_DATABASE_URL=postgresql+psycopg://…  .venv/bin/python bench/directory.py
    PREAU_DATABASE_URL=sqlite:////path/to/preau.db .venv/bin/python bench/directory.py

Everything goes through the real application with Flask's test client (in process, no
network: the figures are the application's and the database's, not a web server's), except
`writable()`, which is called directly as mailgate calls it. Every write (logins, the groups
created for "Ajouter la liste") happens inside one transaction per phase that is rolled back:
the database is left as it was.

Figures: name-prefix searches p50/p95 for a student (her schools), a teacher (every school,
Gestionnaire annuaire) and an advanced user (staff, every school); writable() for 50
recipients p50/p95; "Ajouter la liste" of a ~2,000-person search (one POST).
"""
from __future__ import annotations

import os
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, func, orm, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.db import db  # noqa: E402
from directory.enums import Profile  # noqa: E402
from directory.models import Account, AccountSchool, School  # noqa: E402
from directory.rights import writable  # noqa: E402
from directory.search import AccountFilters, count_capped, search_query  # noqa: E402
from portal import create_app  # noqa: E402

PASSWORD = "Preau-demo-2026!"
PREFIXES = ("mar", "ber", "du", "le g", "lef", "zo", "n'd", "da s", "rob", "pet", "moreau",
            "gar", "ch", "fo", "vin", "lu", "cl", "bo", "gi", "rou")
SEARCHES = int(os.environ.get("BENCH_SEARCHES", "200"))
RIGHTS_CALLS = int(os.environ.get("BENCH_RIGHTS_CALLS", "300"))
ADD_LIST_RUNS = int(os.environ.get("BENCH_ADD_LIST_RUNS", "5"))
TARGET_LIST = 2000
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class _BoundSession(orm.Session):
    def __init__(self, db, **kwargs):
        super().__init__(**kwargs)

    def get_bind(self, *args, **kwargs):
        return self.bind


@contextmanager
def rolled_back(app):
    """Every commit of the app becomes a SAVEPOINT of one transaction rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    db.session = db._make_scoped_session({"class_": _BoundSession, "bind": connection,
                                          "join_transaction_mode": "create_savepoint"})
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@contextmanager
def counting(app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(*_args):
        statements.append("")

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
            f"(n={len(ordered)})")


def token(client, url: str) -> str:
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def logged_in(app, login: str):
    client = app.test_client()
    response = client.post("/connexion", data={"csrf_token": token(client, "/connexion"),
                                               "login": login, "password": PASSWORD})
    assert response.status_code == 302, f"login {login} failed"
    return client


def bench_searches(app) -> None:
    for label, login in (("élève (ses établissements)", "zoe.le-gall"),
                         ("enseignant (tous)", "claire.bernard"),
                         ("avancé (tous)", "paul.durand")):
        with rolled_back(app):
            client = logged_in(app, login)
            for prefix in PREFIXES[:5]:
                client.get("/annuaire/", query_string={"nom": prefix})
            samples, queries, results = [], [], 0
            for n in range(SEARCHES):
                with counting(app) as statements:
                    started = time.perf_counter()
                    response = client.get("/annuaire/",
                                          query_string={"nom": PREFIXES[n % len(PREFIXES)]})
                    samples.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                queries.append(len(statements))
                results += response.get_data(as_text=True).count('class="envelope"')
            print(f"  recherche par préfixe, {label:27s} {percentiles(samples)}  "
                  f"{max(queries)} requêtes SQL/page")


def bench_writable(app) -> None:
    with app.app_context():
        for label, login in (("élève", "zoe.le-gall"), ("parent", "joseph.fabre"),
                             ("enseignant", "claire.bernard")):
            sender = db.session.scalar(select(Account).where(Account.login == login))
            school_id = sender.schools[0].id
            near = list(db.session.scalars(
                select(AccountSchool.account_id).where(AccountSchool.school_id == school_id)
                .order_by(AccountSchool.account_id).limit(40)))
            top = db.session.scalar(select(func.max(Account.id)))
            candidates = near + [1 + (top // 10) * k for k in range(1, 11)]
            writable(sender, candidates)
            samples = []
            for _ in range(RIGHTS_CALLS):
                started = time.perf_counter()
                verdicts = writable(sender, candidates)
                samples.append(time.perf_counter() - started)
            allowed = sum(v.allowed for v in verdicts.values())
            print(f"  writable(), 50 destinataires, {label:11s}       {percentiles(samples)}  "
                  f"({allowed} autorisés)")
            db.session.expunge_all()


def schools_for_list(app, teacher_login: str) -> tuple[list[int], int]:
    """The first schools whose students add up to about TARGET_LIST people."""
    with app.app_context():
        teacher = db.session.scalar(select(Account).where(Account.login == teacher_login))
        chosen: list[int] = []
        total = 0
        for school_id in db.session.scalars(select(School.id).order_by(School.id).limit(50)):
            filters = AccountFilters(profiles=[Profile.STUDENT], school_ids=chosen + [school_id])
            count = count_capped(search_query(teacher, filters), 100_000)
            if chosen and abs(count - TARGET_LIST) > abs(total - TARGET_LIST):
                break
            chosen.append(school_id)
            total = count
            if total >= TARGET_LIST:
                break
        return chosen, total


def bench_add_list(app) -> None:
    school_ids, expected = schools_for_list(app, "claire.bernard")
    with app.app_context():
        own_school = db.session.scalar(select(School.id).where(School.uai == "0310024H"))
    samples, added = [], []
    with rolled_back(app):
        client = logged_in(app, "claire.bernard")
        for run in range(ADD_LIST_RUNS):
            response = client.post("/groupes/nouveau", data={
                "csrf_token": token(client, "/groupes/nouveau"), "name": f"Bench liste {run}",
                "description": "", "school": own_school})
            assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
            group_id = response.headers["Location"].rstrip("/").split("/")[-1]
            data = {"csrf_token": token(client, f"/groupes/{group_id}"),
                    "profil": "student", "etablissement": [str(s) for s in school_ids]}
            started = time.perf_counter()
            response = client.post(f"/groupes/{group_id}/membres/ajouter-la-liste", data=data)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 303, response.status_code
            page = client.get(response.headers["Location"]).get_data(as_text=True)
            added.append(int(re.search(r"(\d+) personne\(s\) ajoutée", page).group(1)))
    print(f"  « Ajouter la liste » ({added[0]} personnes, {len(school_ids)} établissements, "
          f"un POST)  {percentiles(samples)}")
    assert all(n == expected for n in added), (added, expected)


def main() -> None:
    if not os.environ.get("PREAU_DATABASE_URL"):
        sys.exit("PREAU_DATABASE_URL must name the database to measure.")
    app = create_app()
    with app.app_context():
        accounts = db.session.scalar(select(func.count()).select_from(Account))
        dialect = db.engine.dialect.name
        import sqlalchemy

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"bench/directory.py — {dialect}, {accounts} comptes, Flask test client "
          f"(en processus), SQLAlchemy {sqlalchemy.__version__}, charge machine {load} "
          f"sur {os.cpu_count()} CPU")
    bench_searches(app)
    bench_writable(app)
    bench_add_list(app)


if __name__ == "__main__":
    main()
