"""Every main page issues a bounded number of SQL statements (issue 16): the same count with a
little data and with more of everything the page shows (messages in the inbox, contacts,
events, articles, people found and group members), and never more than MAX_STATEMENTS."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from agenda import access, events
from directory.db import db, write_transaction
from directory.enums import Profile
from directory.models import Account, AccountSchool, Group, GroupMember, School
from mailgate.models import FolderKind
from portal.carnet import book
from tests.query_count import queries_of

from .messagerie_helpers import deliver, item_id
from .rubriques_helpers import client_of, four_a_rubric, publish

MAX_STATEMENTS = 20
# The directory searches (issue 16): the account, then the ids of the page's people and their
# rows (the count, schools and classes in them); the picker adds the sender's own classes and
# groups with their members she may write to, in one.
SEARCH_STATEMENTS = {"/annuaire/?nom=zzmesure&par_page=50": 3,
                     "/messagerie/destinataires?nom=zzmesure&par_page=50": 4}
# A pupil's: her groups, read once for the writing rule of the whole page (the page's rows
# and their refusals, her classes' members), and « ma » so that some rows are refused: their
# reasons come with the rows, no statement of their own.
PUPIL_SEARCHES = {"/annuaire/?nom=ma&par_page=50": 4,
                  "/messagerie/destinataires?nom=ma&par_page=50": 5}
BASE = 820_000  # ids of the people added, far from the demo's


def _account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def _class_4a() -> Group:
    return db.session.scalar(select(Group).join(School).where(Group.name == "4A",
                                                              School.uai == "0310024H"))


def _add_people(first: int, count: int) -> None:
    """`count` pupils named Zzmesure in Zoé's school and class, in three bulk INSERTs."""
    zoe, group = _account("zoe.le-gall"), _class_4a()
    ids = range(BASE + first, BASE + first + count)
    db.session.execute(insert(Account), [
        {"id": i, "login": f"mesure.{i}", "first_name": f"Élève{i}", "last_name": "Zzmesure",
         "search_name": f"zzmesure eleve{i}", "search_first": f"eleve{i}",
         "profile": Profile.STUDENT, "address": f"mesure.{i}",
         "password_hash": zoe.password_hash} for i in ids])
    db.session.execute(insert(AccountSchool), [{"account_id": i, "school_id": group.school_id}
                                               for i in ids])
    db.session.execute(insert(GroupMember), [{"group_id": group.id, "account_id": i}
                                             for i in ids])
    db.session.commit()


def _grow(app, teacher, first: int, count: int, contacts_id: int) -> None:
    """`count` more of everything the pages show."""
    for n in range(first, first + count):
        deliver(app, "claire.bernard", ["zoe.le-gall"], f"Message {n}")
        publish(teacher, four_a_rubric(app), f"Article {n}")
    with app.app_context():
        _add_people(first, count)
        claire, zoe = _account("claire.bernard"), _account("zoe.le-gall")
        agenda = access.agenda_of_group(claire, _class_4a().id)
        for n in range(first, first + count):
            day = datetime(2026, 3, 1 + n % 28, 8 + n // 28)
            write_transaction(lambda day=day, n=n: events.save(
                claire, agenda, events.EventInput(title=f"Sortie {n}", starts=day,
                                                  ends=day.replace(minute=45))))
        group = book.owned_group(zoe, contacts_id)
        book.add_ids(group, select(Account.id).where(Account.last_name == "Zzmesure"))
        db.session.commit()


def test_main_pages_issue_the_same_bounded_number_of_statements_at_two_sizes(app):
    teacher = client_of(app, "claire.bernard")
    pupil = client_of(app, "zoe.le-gall")
    with app.app_context():
        contacts_id = book.create_group(_account("zoe.le-gall"), "Classe").id
        group_id = _class_4a().id
        db.session.commit()
    _grow(app, teacher, 0, 2, contacts_id)
    message = item_id(app, "zoe.le-gall", "Message 0", FolderKind.INBOX)
    pages = {
        pupil: ["/", "/messagerie/", f"/messagerie/message/{message}", "/carnet/",
                f"/carnet/{contacts_id}", f"/rubriques/{four_a_rubric(app)}",
                "/agenda/?mois=2026-03", "/agenda/semaine?jour=2026-03-02", *PUPIL_SEARCHES],
        teacher: ["/annuaire/?nom=zzmesure&par_page=50",
                  "/messagerie/destinataires?nom=zzmesure&par_page=50",
                  f"/groupes/{group_id}?par_page=100", f"/agenda/groupe/{group_id}/?mois=2026-03"],
    }

    def measure() -> dict[str, int]:
        return {url: queries_of(app, client, url) for client, urls in pages.items()
                for url in urls}

    small = measure()
    _grow(app, teacher, 2, 25, contacts_id)
    large = measure()

    assert large == small, {url: (small[url], large[url]) for url in small
                            if small[url] != large[url]}
    assert max(small.values()) <= MAX_STATEMENTS, small
    assert {url: small[url] for url in SEARCH_STATEMENTS} == SEARCH_STATEMENTS
    assert {url: small[url] for url in PUPIL_SEARCHES} == PUPIL_SEARCHES
    found = teacher.get("/annuaire/?nom=zzmesure&par_page=50").get_data(as_text=True)
    assert found.count("Zzmesure") >= 27
