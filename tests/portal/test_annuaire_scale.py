"""The Annuaire's pages issue the same number of SQL queries for a school of 100 accounts and
for one of 10,000: nothing in them loops over accounts."""
from __future__ import annotations

from sqlalchemy import insert, select

from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember, School
from tests.conftest import login
from tests.query_count import queries_of

from .annuaire_helpers import html, people_rows

BASE = 800_000
SCHOOL, CLASS = BASE, BASE


def add_accounts(first: int, count: int, password_hash: str) -> None:
    """`count` students named Dupont in the school and its class, in three bulk INSERTs."""
    ids = range(BASE + first, BASE + first + count)
    db.session.execute(insert(Account), [
        {"id": i, "login": f"scale.{i}", "first_name": f"Élève{i}", "last_name": "Dupont",
         "search_name": f"dupont eleve{i}", "search_first": f"eleve{i}",
         "profile": Profile.STUDENT, "address": f"scale.{i}", "password_hash": password_hash}
        for i in ids])
    db.session.execute(insert(AccountSchool), [{"account_id": i, "school_id": SCHOOL}
                                               for i in ids])
    db.session.execute(insert(GroupMember), [{"group_id": CLASS, "account_id": i}
                                             for i in ids])
    db.session.commit()


PAGES = ["/annuaire/?nom=dupont", "/annuaire/?nom=dup&profil=student&par_page=100",
         f"/groupes/{CLASS}", f"/groupes/{CLASS}/membres.csv", "/groupes/?nom=classe"]


def test_query_count_does_not_grow_with_accounts(app):
    with app.app_context():
        password_hash = db.session.scalar(select(Account.password_hash)
                                          .where(Account.login == "zoe.le-gall"))
        db.session.execute(insert(School), [{"id": SCHOOL, "uai": "0999999Z",
                                             "name": "Collège Échelle", "city": "Ici"}])
        db.session.execute(insert(Group), [{"id": CLASS, "kind": GroupKind.CLASS,
                                            "name": "Classe 1", "search_name": "classe 1",
                                            "school_id": SCHOOL}])
        add_accounts(0, 100, password_hash)
    client = app.test_client()
    assert login(client, f"scale.{BASE}").status_code == 302

    for url in PAGES:  # once before counting: a first export in the process loads what it caches
        client.get(url)
    small = {url: queries_of(app, client, url) for url in PAGES}
    first_page = people_rows(html(client.get(PAGES[0])))
    with app.app_context():
        add_accounts(100, 9_900, password_hash)
    large = {url: queries_of(app, client, url) for url in PAGES}

    assert large == small, (small, large)
    assert all(count > 0 for count in small.values())
    assert len(first_page) == 20
    assert len(people_rows(html(client.get(PAGES[0])))) == 20
    csv = client.get(f"/groupes/{CLASS}/membres.csv").get_data(as_text=True)
    assert csv.count("\n") == 10_001
