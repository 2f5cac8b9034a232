"""Edges of the webmail found by a read-only review: a draft sent from a nearly full mailbox,
a folder deleted while messages move into it, the placeholders of a mailing kept out of the
search, what the picker says of a suspended contact, a typed name's writable matches behind
many others, and `ajout` values without end."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select, update

from directory.accounts import create_account
from directory.db import db, write_transaction
from directory.enums import Profile, Role
from directory.errors import NotFound
from directory.models import Account, Group, GroupMember, RoleOverride, School
from mailgate import mailbox, routing, store
from mailgate.models import FolderKind, Mailbox, MailboxItem, MailFolder
from mailgate.settings import current
from portal.carnet import book
from tests.conftest import fresh_database, live_demo_app

from .carnet_helpers import client_of, page
from .messagerie_helpers import (
    account,
    compose_post,
    deliver,
    flashes,
    item_id,
    items,
    message,
    person,
    used_bytes,
)

LONG_TEXT = "Le compte rendu de la sortie au musée, à relire avant vendredi.\n" * 300


# --- a draft sent from a nearly full mailbox ---------------------------------------------

def test_a_draft_sent_from_a_nearly_full_mailbox_keeps_its_copy_in_messages_envoyes(app):
    """The draft is deleted once sent: its own size must not count against the Sent copy
    that replaces it (both were counted, and the copy was refused while the draft went)."""
    zoe = client_of(app, "zoe.le-gall")
    lucas = person(app, "lucas.martin")
    response = compose_post(zoe, {"action": "brouillon", "to": f"p:{lucas}",
                                  "subject": "Compte rendu", "body": LONG_TEXT})
    assert response.status_code == 303
    draft = item_id(app, "zoe.le-gall", "Compte rendu", FolderKind.DRAFTS)
    zoe_id = person(app, "zoe.le-gall")
    with app.app_context():
        draft_size = db.session.get(MailboxItem, draft).size
        quota = current().quota_bytes
        db.session.execute(update(Mailbox).where(Mailbox.account_id == zoe_id)
                           .values(used_bytes=quota - draft_size // 2))
        db.session.commit()

    response = compose_post(zoe, {"to": f"p:{lucas}", "brouillon": str(draft),
                                  "source": str(draft), "subject": "Compte rendu",
                                  "body": LONG_TEXT},
                            page_url=f"/messagerie/ecrire?brouillon={draft}")
    assert response.status_code == 303
    notices = page(zoe.get("/messagerie/envoye"))
    assert notices.find("p", class_="copy-notice").text == \
        "Une copie est enregistrée dans « Messages envoyés »."
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.SENT)] == ["Compte rendu"]
    assert items(app, "zoe.le-gall", FolderKind.DRAFTS) == []
    assert "Compte rendu" in [s for _, s, _ in items(app, "lucas.martin", FolderKind.INBOX)]
    with app.app_context():
        sent_size = db.session.scalar(select(MailboxItem.size).where(
            MailboxItem.account_id == zoe_id))
    assert used_bytes(app, "zoe.le-gall") == quota - draft_size // 2 - draft_size + sent_size


def test_a_draft_whose_recipients_mailboxes_filled_meanwhile_is_kept_and_nothing_sent(
        app, monkeypatch):
    """`check` found Lucas's mailbox open, then another transaction filled it before the
    delivery (PostgreSQL): the draft, freed for the copy, must not go with nothing sent."""
    zoe = client_of(app, "zoe.le-gall")
    lucas = person(app, "lucas.martin")
    compose_post(zoe, {"action": "brouillon", "to": f"p:{lucas}", "subject": "Exposé",
                       "body": "Le plan de l'exposé."})
    draft = item_id(app, "zoe.le-gall", "Exposé", FolderKind.DRAFTS)
    with app.app_context():
        store.system_folders([lucas], FolderKind.INBOX)
        db.session.execute(update(Mailbox).where(Mailbox.account_id == lucas)
                           .values(used_bytes=current().quota_bytes))
        db.session.commit()
    monkeypatch.setattr(store, "full_mailboxes", lambda *args, **kwargs: set())

    response = compose_post(zoe, {"to": f"p:{lucas}", "brouillon": str(draft),
                                  "source": str(draft), "subject": "Exposé",
                                  "body": "Le plan de l'exposé."},
                            page_url=f"/messagerie/ecrire?brouillon={draft}")
    assert response.status_code == 400
    assert page(response).find("div", class_="form-errors").text.strip() == (
        "Le message n'est pas envoyé : La boîte aux lettres de Lucas Martin est pleine.")
    assert items(app, "zoe.le-gall", FolderKind.DRAFTS) == [(draft, "Exposé", True)]
    assert items(app, "zoe.le-gall", FolderKind.SENT) == []


# --- a folder deleted while messages move into it ---------------------------------------

def test_a_move_into_a_folder_deleted_meanwhile_changes_nothing_and_says_so(app):
    """The page named the folder, then it was deleted before the move was written: the
    move is NotFound (its page says so with a 404), not an integrity error."""
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Sortie au musée")
    inbox = items(app, "zoe.le-gall", FolderKind.INBOX)
    with app.app_context():
        zoe = account("zoe.le-gall")
        folder = mailbox.create_folder(zoe, "Projets")
        mailbox.delete_folder(zoe, folder)
        with pytest.raises(NotFound) as refused:
            mailbox.move(zoe, [i for i, _, _ in inbox], folder)
        assert refused.value.why.code == "folder_missing"
        db.session.commit()
    assert items(app, "zoe.le-gall", FolderKind.INBOX) == inbox


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database whose commits other threads see (the name steps the rollback aside)."""
    return fresh_database(tmp_path_factory, "messagerie")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "messagerie", users=50)


def test_a_folder_deleted_while_messages_move_into_it_loses_none(live_app, live_database,
                                                                 monkeypatch):
    """Zoé deletes « Projets » in one tab while moving two messages into it in another. The
    deletion counted the folder empty, the move then committed, and the deletion took the
    two messages with the folder (ON DELETE CASCADE, on PostgreSQL): now the move waits for
    the deletion and is told the folder is gone; the messages stay where they were."""
    app = live_app
    with app.app_context():
        zoe, claire = account("zoe.le-gall"), account("claire.bernard")
        for subject in ("Sortie", "Exposé"):
            routing.route(claire, [zoe.id], message("claire.bernard", ["zoe.le-gall"], subject))
        folder = mailbox.create_folder(zoe, f"Projets {uuid.uuid4().hex[:8]}")
        db.session.commit()
        zoe_id, folder_id = zoe.id, folder.id
        held = list(db.session.scalars(select(MailboxItem.id).where(
            MailboxItem.account_id == zoe_id).order_by(MailboxItem.id)))
        moving_ids = held[-2:]
        used = db.session.get(Mailbox, zoe_id).used_bytes

    counted, moved = threading.Event(), threading.Event()
    count_in = mailbox.count_in

    def count_then_wait(folder):
        """The deletion, once it has counted, lets the move run (it must wait, now)."""
        found = count_in(folder)
        if threading.current_thread().name == "deleting":
            counted.set()
            moved.wait(2)
        return found

    monkeypatch.setattr(mailbox, "count_in", count_then_wait)
    outcomes: dict[str, object] = {}

    def deleting() -> None:
        with app.app_context():
            zoe = db.session.get(Account, zoe_id)
            try:
                outcomes["deleted"] = write_transaction(lambda: mailbox.delete_folder(
                    zoe, mailbox.owned_folder(zoe, folder_id), move_to_home=True))
            finally:
                db.session.remove()

    def moving() -> None:
        with app.app_context():
            zoe = db.session.get(Account, zoe_id)
            counted.wait(10)
            try:
                outcomes["moved"] = write_transaction(lambda: mailbox.move(
                    zoe, moving_ids, mailbox.owned_folder(zoe, folder_id)))
            except NotFound as error:
                outcomes["moved"] = error.why.code
            finally:
                moved.set()
                db.session.remove()

    threads = [threading.Thread(target=deleting, name="deleting"),
               threading.Thread(target=moving, name="moving")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.app_context():
        assert list(db.session.scalars(select(MailboxItem.id).where(
            MailboxItem.account_id == zoe_id).order_by(MailboxItem.id))) == held
        assert db.session.get(Mailbox, zoe_id).used_bytes == used == db.session.scalar(
            select(func.sum(MailboxItem.size)).where(MailboxItem.account_id == zoe_id))
        assert db.session.get(MailFolder, folder_id) is None
    assert outcomes == {"deleted": 0, "moved": "folder_missing"}


# --- what the picker says of a suspended contact ----------------------------------------

def contact_rows(client, group_id: int) -> dict[str, list[str]]:
    listing = page(client.get(f"/messagerie/destinataires?onglet=carnet&carnet={group_id}"))
    rows = listing.find("table", class_="picker-people").find("tbody").find_all("tr")
    return {row.find_all("td")[0].text: [cell.text.strip() for cell in row.find_all("td")[1:]]
            for row in rows}


def test_the_picker_does_not_tell_a_pupil_that_a_contact_is_suspended(app):
    """Zoé's address book still holds Lucas, suspended since: the directory no longer shows
    him to her, and the picker said « Lucas Martin : compte suspendu ». It now shows him as
    the address book does (no longer in her directory), with nothing to add."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        contacts = book.create_group(zoe, "Mes contacts")
        for login in ("lucas.martin", "eric.martin"):
            book.add_member(zoe, contacts, person(app, login))
        db.session.execute(update(Account).where(Account.login == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
        contacts_id = contacts.id
    zoe = client_of(app, "zoe.le-gall")
    rows = contact_rows(zoe, contacts_id)
    assert rows["Martin Éric"][0] == "Élève"
    assert "n'est ni dans vos classes ni dans vos groupes" in rows["Martin Éric"][1]
    assert rows["Martin Lucas"] == ["Ne fait plus partie de votre annuaire.",
                                    "Vous ne pouvez pas lui écrire"]


def test_an_administrator_still_reads_why_a_suspended_contact_is_refused(app):
    """Administrators find suspended accounts in the directory: they may read why."""
    with app.app_context():
        admin = account("admin")
        contacts = book.create_group(admin, "Suivis")
        book.add_member(admin, contacts, person(app, "lucas.martin"))
        db.session.execute(update(Account).where(Account.login == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
        contacts_id = contacts.id
    rows = contact_rows(client_of(app, "admin"), contacts_id)
    assert rows["Martin Lucas"] == ["Élève", "Lucas Martin : compte suspendu"]


# --- a typed name's writable matches behind many others ---------------------------------
def suggested(client, text: str) -> list[str]:
    response = client.get("/messagerie/suggestions", query_string={"q": text})
    assert response.status_code == 200
    return [s["text"] for s in response.get_json()]


def test_a_typed_name_suggests_the_one_person_one_may_write_to_behind_thirty_others(app):
    """Zoé may search every school (« Utilisateur avancé », granted) but writes only within
    her class and groups. Thirty pupils of another school come before her classmate in name
    order: the suggestions were cut to 24 before the rights were applied, and named nobody."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        elsewhere = db.session.scalar(select(School).where(
            School.id.not_in([s.id for s in zoe.schools])).order_by(School.id))
        for n in range(30):
            create_account(login=f"quenouille-{n}", first_name=f"Aline{n:02d}",
                           last_name="Quenouille", profile=Profile.STUDENT,
                           password="", password_hash="x", schools=[elsewhere])
        classmate = create_account(login="quenouille-zelie", first_name="Zélie",
                                   last_name="Quenouille", profile=Profile.STUDENT,
                                   password="", password_hash="x", schools=list(zoe.schools))
        db.session.flush()
        class_4a = db.session.scalar(select(GroupMember.group_id).join(Group).where(
            Group.name == "4A", GroupMember.account_id == zoe.id))
        db.session.add(GroupMember(group_id=class_4a, account_id=classmate.id))
        db.session.add(RoleOverride(account_id=zoe.id, role=Role.DIRECTORY_ADVANCED,
                                    granted=True))
        db.session.commit()
        address = classmate.address
    zoe = client_of(app, "zoe.le-gall")
    expected = [f"Zélie Quenouille <{address}@ent.test>"]
    assert suggested(zoe, "Quenouille") == expected
    assert suggested(zoe, "Quenouille Z") == expected
    assert suggested(zoe, "Zélie") == expected
    assert suggested(zoe, "zz") == suggested(zoe, "--") == []


# --- `ajout` values without end -----------------------------------------------------------

def chips_of(response) -> list[str]:
    return [b.attrs["value"] for b in page(response).find_all("button", class_="chip")]


def test_the_compose_page_reads_at_most_the_chips_a_form_may_hold(app):
    """`ajout` values come from the picker's links: an address holding more of them than
    the compose form may post (200) is refused before any is read, however many."""
    zoe = client_of(app, "zoe.le-gall")
    lucas = f"to:p:{person(app, 'lucas.martin')}"
    response = zoe.get("/messagerie/ecrire", query_string={"ajout": [lucas] * 200})
    assert response.status_code == 200
    assert chips_of(response) == [lucas]
    for many in (201, 10_000):
        response = zoe.get("/messagerie/ecrire", query_string={"ajout": [lucas] * many})
        assert response.status_code == 200
        assert chips_of(response) == []
        assert flashes(response) == ["Trop de destinataires dans le formulaire (200 au plus)."]


def test_the_picker_reads_at_most_the_chips_a_form_may_hold(app):
    zoe = client_of(app, "zoe.le-gall")
    lucas = f"to:p:{person(app, 'lucas.martin')}"
    response = zoe.get("/messagerie/destinataires", query_string={"ajout": [lucas] * 200})
    assert response.status_code == 200
    assert "Lucas Martin" in page(response).find("div", class_="picked").text
    response = zoe.get("/messagerie/destinataires", query_string={"ajout": [lucas] * 201})
    assert response.status_code == 400
    assert page(response).find("main").find("p").text == \
        "Trop de destinataires dans le formulaire (200 au plus)."
