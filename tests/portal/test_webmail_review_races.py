"""The same form sent twice at once (a double click), and two managers acting at once, after
the webmail/groups review: « Créer le dossier » and « Créer le groupe » create one and say
« déjà » to the other, never a 500; « Envoyer » sends once; two managers demoting each other
leave the group one manager.

The requests really overlap, on a database whose commits both see (test_carnet_races.py's
`at_once` for the creations). Where the fix is a lock, the second request waits on it
instead of writing: `at_once(wait=…)` lets the first one go on after WAIT seconds. On SQLite the
write lock already serialises them; the tests check the same outcome there."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from directory import groups
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AccountSchool, Group, GroupMember, School
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage
from tests.conftest import csrf_token, fresh_database, live_demo_app, login, post_form

from .carnet_helpers import flashes, page
from .test_carnet_races import at_once, browser_twice

WAIT = 1.5      # seconds the first request gives the second to reach its write


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "webmailraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "webmailraces", users=100)


def _account(login_name: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login_name))


# Finding 4: creations ---------------------------------------------------------------------

def test_a_folder_created_twice_at_once_is_created_once(live_app):
    first, second = browser_twice(live_app, "zoe.le-gall")
    first.get("/messagerie/dossiers")        # the system folders exist before the race

    def create(client):
        return lambda: post_form(client, "/messagerie/dossiers", {"name": "Devoirs"})

    try:
        # On PostgreSQL the creation locks the account's writing first: the second waits
        # for the first and is refused; on SQLite the first starts again after the second.
        answers = at_once(live_app, "mail_folder", create(first), create(second), wait=WAIT)
        assert sorted(a.status_code for a in answers) == [303, 400]
        refused = next(a for a in answers if a.status_code == 400)
        assert "Vous avez déjà un dossier « Devoirs »." in page(refused).text
        with live_app.app_context():
            assert db.session.scalar(select(func.count()).select_from(MailFolder).where(
                MailFolder.account_id == _account("zoe.le-gall").id,
                MailFolder.kind == FolderKind.USER, MailFolder.name == "Devoirs")) == 1
    finally:
        with live_app.app_context():
            db.session.execute(delete(MailFolder).where(
                MailFolder.account_id == _account("zoe.le-gall").id,
                MailFolder.kind == FolderKind.USER))
            db.session.commit()


def test_an_ad_hoc_group_created_twice_at_once_is_created_once(live_app):
    first, second = browser_twice(live_app, "claire.bernard")
    with live_app.app_context():
        school = db.session.scalar(select(School.id).where(School.uai == "0310024H"))

    def create(client):
        return lambda: post_form(client, "/groupes/nouveau", {
            "name": "Club des sciences", "description": "", "school": school})

    try:
        answers = at_once(live_app, "group", create(first), create(second))
        assert [a.status_code for a in answers] == [400, 302]
        assert "Un groupe « Club des sciences » existe déjà dans cet établissement." in \
            page(answers[0]).text
        with live_app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Group).where(
                Group.name == "Club des sciences")) == 1
    finally:
        with live_app.app_context():
            for group in db.session.scalars(select(Group).where(
                    Group.name == "Club des sciences")):
                groups.delete_group(group)
            db.session.commit()


# Finding 3: « Envoyer » clicked twice at once ------------------------------------------------

def test_send_clicked_twice_at_once_sends_once(live_app):
    first, second = browser_twice(live_app, "claire.bernard")
    form = page(first.get("/messagerie/ecrire")).find("form", id="compose-form")
    hidden = {node.attrs["name"]: node.attrs["value"] for node in form.find_all("input")
              if node.attrs.get("name") in ("csrf_token", "cle")}
    with live_app.app_context():
        lucas = _account("lucas.martin").id
    data = {**hidden, "action": "envoyer", "to": f"p:{lucas}", "subject": "Double clic",
            "body": "Une fois.", "copy": "y"}

    def click(client):
        return lambda: client.post("/messagerie/ecrire", data=data)

    answers = at_once(live_app, "mailbox_item", click(first), click(second), wait=WAIT)
    with live_app.app_context():
        sent = db.session.scalars(select(MailMessage.id).where(
            MailMessage.author_id == _account("claire.bernard").id,
            MailMessage.subject == "Double clic")).all()
        copy = db.session.scalar(select(MailboxItem.id).where(
            MailboxItem.message_id.in_(sent),
            MailboxItem.account_id == _account("claire.bernard").id))
    assert len(sent) == 1
    assert [a.status_code for a in answers] == [303, 303]
    assert sorted(a.headers["Location"] for a in answers) == \
        ["/messagerie/envoye", f"/messagerie/message/{copy}"]
    said = [text for client in (first, second)
            for text in flashes(page(client.get(f"/messagerie/message/{copy}")))]
    assert said == ["Ce message est déjà envoyé : le voici."]


# Finding 7: two managers demote each other at once ---------------------------------------

@pytest.fixture
def two_managers(live_app):
    """An ad hoc group of Claire's with a colleague of her school as second manager."""
    with live_app.app_context():
        claire = _account("claire.bernard")
        colleague = db.session.scalar(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == claire.schools[0].id,
                   Account.profile == Profile.TEACHER, Account.id != claire.id,
                   Account.suspended.is_(False)).order_by(Account.id).limit(1))
        group = groups.create_group(claire, name="Club radio", description="",
                                    school_id=claire.schools[0].id, persistent=False,
                                    co_managers=[colleague])
        db.session.commit()
        group_id, ids = group.id, {"claire.bernard": claire.id, colleague.login: colleague.id}
    yield group_id, ids
    with live_app.app_context():
        groups.delete_group(db.session.get(Group, group_id))
        db.session.commit()


def test_two_managers_demoting_each_other_at_once_leave_one(live_app, two_managers):
    group_id, ids = two_managers
    (claire_login, claire_id), (other_login, other_id) = ids.items()
    claire, other = live_app.test_client(), live_app.test_client()
    assert login(claire, claire_login).status_code == 302
    assert login(other, other_login).status_code == 302
    page_of_group = f"/groupes/{group_id}"
    tokens = {client: csrf_token(client.get(page_of_group).get_data(as_text=True))
              for client in (claire, other)}

    def demote(client, account_id):
        return lambda: client.post(f"/groupes/{group_id}/gestionnaires", data={
            "csrf_token": tokens[client], "account": account_id, "manager": "non"})

    answers = at_once(live_app, "group_member", demote(claire, other_id),
                      demote(other, claire_id), statement="UPDATE", wait=WAIT)
    with live_app.app_context():
        managers = db.session.scalars(select(GroupMember.account_id).where(
            GroupMember.group_id == group_id, GroupMember.is_manager.is_(True))).all()
    assert len(managers) == 1
    assert {a.status_code for a in answers} <= {303, 404}
    said = [text for client in (claire, other)
            for text in flashes(page(client.get(page_of_group)))]
    assert "Les gestionnaires du groupe sont mis à jour." in said
