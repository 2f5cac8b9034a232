"""The webmail and the mail store after review R5: a Date at the very end of the calendar
(31/12/9999) neither breaks a page nor is stored; a reply to or a forward of an HTML-only
message quotes its text, not its HTML entities; and, on PostgreSQL, requests deleting or
naming at the same instant — « Vider la Corbeille » clicked twice, « Supprimer » confirmed
twice, a message restored while the Corbeille empties, two holders of one message emptying
their Corbeille together, two folders renamed (or one created) to one name — free the quota
once, delete only what they really deleted, leave no message held by nobody, and keep one
folder per name without a 500.

The races use test_carnet_races.py's `at_once`: the first request is held just before its
statement, the second one runs up to its own and keeps it uncommitted a moment. Where the fix
is a lock, the second waits on it instead, and the first goes on after WAIT seconds."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from sqlalchemy import delete, func, select, text, update

from directory.clock import local_time, utcnow
from directory.db import db
from mailgate import mailbox, routing, store
from mailgate.models import FolderKind, MailAttachment, MailboxItem, MailFolder, MailMessage
from tests.conftest import csrf_token, fresh_database, live_demo_app, login

from .carnet_helpers import page
from .messagerie_helpers import DOMAIN, account, deliver, flashes, item_id
from .test_carnet_races import at_once, browser_twice

WAIT = 1.5      # seconds the first request gives the second to reach its write
END_OF_TIME = "Fri, 31 Dec 9999 23:30:00 +0000"


def _route(app, author: str, to: list[str], mail: EmailMessage) -> None:
    with app.app_context():
        result = routing.route(account(author), [account(login).id for login in to], mail)
        db.session.commit()
        assert all(r.accepted for r in result.recipients), result


def _mail(author: str, to: list[str], subject: str, *, date: str | None = None,
          html: str | None = None, headers: dict | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"{author}@{DOMAIN}"
    mail["To"] = ", ".join(f"{login}@{DOMAIN}" for login in to)
    mail["Subject"] = subject
    mail["Date"] = date or formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="example.org")
    for name, value in (headers or {}).items():
        mail[name] = value
    if html is None:
        mail.set_content("Bonjour.")
    else:
        mail.set_content(html, subtype="html")
    return mail


def _stored(app, subject: str) -> MailMessage:
    with app.app_context():
        return db.session.scalar(select(MailMessage).where(MailMessage.subject == subject))


def _pages_open(app, reader, item: int) -> None:
    """Reading, « Répondre », « Répondre à tous », « Transférer » and « Oui, envoyer
    l'accusé » answer without an error."""
    shown = reader.get(f"/messagerie/message/{item}")
    assert shown.status_code == 200
    for action in ("repondre", "repondre_tous", "transferer"):
        assert reader.get(f"/messagerie/ecrire?{action}={item}").status_code == 200, action
    answer = reader.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(shown.get_data(as_text=True)), "reponse": "oui"})
    assert answer.status_code == 303
    assert "L'accusé de réception a été envoyé à Claire Bernard." in flashes(
        reader.get(answer.headers["Location"]))


# Finding 2: dates at the end of year 9999 ------------------------------------------------

@pytest.mark.parametrize("date", [END_OF_TIME, "Fri, 31 Dec 9999 23:30:00 -0000",
                                  "Fri, 31 Dec 9999 23:30:00 -0100"])
def test_a_message_dated_at_the_end_of_year_9999_is_dated_when_stored(app, student, date):
    """The Date field is read as unreadable (the time of storage), as mail sent with a
    broken clock: 31/12/9999 23:30 overflowed when shown in Paris (a 500 on reading and
    answering), and « -0100 » already when turned into UTC."""
    before = utcnow()
    _route(app, "claire.bernard", ["zoe.le-gall"],
           _mail("claire.bernard", ["zoe.le-gall"], "Fin des temps", date=date,
                 headers={"Disposition-Notification-To": f"claire.bernard@{DOMAIN}"}))
    stored = _stored(app, "Fin des temps")
    assert before - timedelta(seconds=1) <= stored.sent_at <= utcnow()
    _pages_open(app, student, item_id(app, "zoe.le-gall", "Fin des temps"))


def test_a_message_stored_with_a_date_at_the_end_of_time_still_opens(app, student):
    """One stored before the Date field was bounded: its date is shown in UTC, not a 500."""
    _route(app, "claire.bernard", ["zoe.le-gall"],
           _mail("claire.bernard", ["zoe.le-gall"], "Daté d'avant",
                 headers={"Disposition-Notification-To": f"claire.bernard@{DOMAIN}"}))
    with app.app_context():
        db.session.execute(update(MailMessage).where(MailMessage.subject == "Daté d'avant")
                           .values(sent_at=datetime(9999, 12, 31, 23, 30)))
        db.session.commit()
        assert local_time(datetime(9999, 12, 31, 23, 30)).strftime("%d/%m/%Y %H:%M") == \
            "31/12/9999 23:30"
    item = item_id(app, "zoe.le-gall", "Daté d'avant")
    assert "31/12/9999 23:30" in student.get(f"/messagerie/message/{item}").get_data(
        as_text=True)
    _pages_open(app, student, item)


# Finding 4: quoting an HTML-only message ------------------------------------------------

HTML_ONLY = "<p>Bonjour&nbsp;! A &amp; B &lt;3</p><p>R\u00e9union lundi&nbsp;: 18 h</p>"


def _textarea(response) -> str:
    """The compose form's text as the browser shows it (entities read once)."""
    node = page(response).find("textarea", name="body")
    return "".join(child for child in node.children if isinstance(child, str))


@pytest.mark.parametrize("action", ["repondre", "transferer"])
def test_replying_to_an_html_only_message_quotes_plain_text(app, student, action):
    _route(app, "claire.bernard", ["zoe.le-gall"],
           _mail("claire.bernard", ["zoe.le-gall"], "En HTML", html=HTML_ONLY))
    item = item_id(app, "zoe.le-gall", "En HTML")
    answer = student.get(f"/messagerie/ecrire?{action}={item}")
    assert answer.status_code == 200
    body = _textarea(answer)
    assert "Bonjour\u00a0! A & B <3" in body
    assert "R\u00e9union lundi\u00a0: 18 h" in body
    assert "&nbsp;" not in body and "&amp;" not in body and "&lt;" not in body
    if action == "repondre":
        assert "> Bonjour\u00a0! A & B <3" in body


# PostgreSQL: requests at the same instant -------------------------------------------------

@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "storereview")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "storereview", users=100)


def _to_the_trash(app, login_name: str, subject: str) -> int:
    """The pupil's item of `subject`, put in their Corbeille; its id."""
    item = item_id(app, login_name, subject)
    with app.app_context():
        assert mailbox.delete(account(login_name), [item]) == (1, 0)
        db.session.commit()
    return item


def _usage(app, login_name: str) -> tuple[int, int]:
    """(the quota's counter, the sizes of the items it counts)."""
    with app.app_context():
        owner = account(login_name).id
        held = db.session.scalar(select(func.coalesce(func.sum(MailboxItem.size), 0)).where(
            MailboxItem.account_id == owner))
        return store.usage(owner), held


def _empty_form(client) -> dict:
    return {"csrf_token": csrf_token(client.get("/messagerie/corbeille/vider")
                                     .get_data(as_text=True))}


@pytest.mark.postgres_only
def test_the_trash_emptied_twice_at_once_frees_its_size_once(live_app):
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], "Vidé deux fois", "x" * 50_000)
    _to_the_trash(live_app, "zoe.le-gall", "Vidé deux fois")
    first, second = browser_twice(live_app, "zoe.le-gall")
    form = _empty_form(first)

    def empty(client):
        return lambda: client.post("/messagerie/corbeille/vider", data=form)

    answers = at_once(live_app, "mailbox_item", empty(first), empty(second),
                      statement="DELETE FROM", wait=WAIT)
    assert [a.status_code for a in answers] == [303, 303]
    used, held = _usage(live_app, "zoe.le-gall")
    assert used == held >= 0
    said = flashes(first.get("/messagerie/")) + flashes(second.get("/messagerie/"))
    assert sorted(said) == [
        "La Corbeille est vide : 0 messages supprimés définitivement.",
        "La Corbeille est vide : 1 message supprimé définitivement."]


@pytest.mark.postgres_only
def test_deleting_from_the_trash_confirmed_twice_at_once_frees_its_size_once(live_app):
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], "Supprimé deux fois", "y" * 50_000)
    item = _to_the_trash(live_app, "zoe.le-gall", "Supprimé deux fois")
    first, second = browser_twice(live_app, "zoe.le-gall")
    token = csrf_token(first.get("/messagerie/").get_data(as_text=True))
    data = {"csrf_token": token, "action": "supprimer", "item": str(item), "confirme": "y",
            "retour": "/messagerie/"}

    def confirm(client):
        return lambda: client.post("/messagerie/selection", data=data)

    answers = at_once(live_app, "mailbox_item", confirm(first), confirm(second),
                      statement="DELETE FROM", wait=WAIT)
    assert [a.status_code for a in answers] == [303, 303]
    used, held = _usage(live_app, "zoe.le-gall")
    assert used == held >= 0
    assert flashes(first.get("/messagerie/")) + flashes(second.get("/messagerie/")) == \
        ["1 message supprimé définitivement."]


@pytest.mark.postgres_only
def test_a_message_restored_while_the_trash_empties_stays(live_app):
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], "Restauré à temps")
    item = _to_the_trash(live_app, "zoe.le-gall", "Restauré à temps")
    first, second = browser_twice(live_app, "zoe.le-gall")
    form = _empty_form(first)
    with live_app.app_context():
        inbox = mailbox.system_folder(account("zoe.le-gall"), FolderKind.INBOX).id
    token = csrf_token(second.get("/messagerie/").get_data(as_text=True))

    def restore():
        return second.post("/messagerie/selection", data={
            "csrf_token": token, "action": "deplacer", "destination": str(inbox),
            "item": str(item), "retour": "/messagerie/"})

    answers = at_once(live_app, "mailbox_item",
                      lambda: first.post("/messagerie/corbeille/vider", data=form), restore,
                      statement="DELETE FROM", wait=WAIT)
    assert [a.status_code for a in answers] == [303, 303]
    with live_app.app_context():
        assert db.session.scalar(select(MailboxItem.folder_id).where(
            MailboxItem.id == item)) == inbox
    used, held = _usage(live_app, "zoe.le-gall")
    assert used == held


@pytest.mark.postgres_only
def test_two_holders_deleting_at_once_leave_no_message(live_app):
    """Each one's check for other holders ran while the other's deletion was uncommitted:
    both kept the message, held by nobody from then on."""
    deliver(live_app, "claire.bernard", ["zoe.le-gall", "lucas.martin"], "Tenu par deux",
            files=(("plan.pdf", "application/pdf", b"%PDF-1.4 tenu par deux " * 40),))
    claire_copy = item_id(live_app, "claire.bernard", "Tenu par deux", FolderKind.OUTBOX)
    with live_app.app_context():
        message = db.session.scalar(select(MailboxItem.message_id).where(
            MailboxItem.id == claire_copy))
        assert store.delete_items(account("claire.bernard"), [claire_copy]) == 1
        db.session.commit()
    for login_name in ("zoe.le-gall", "lucas.martin"):
        _to_the_trash(live_app, login_name, "Tenu par deux")
    zoe, lucas = live_app.test_client(), live_app.test_client()
    for client, login_name in ((zoe, "zoe.le-gall"), (lucas, "lucas.martin")):
        assert login(client, login_name).status_code == 302
    forms = {zoe: _empty_form(zoe), lucas: _empty_form(lucas)}

    def empty(client):
        return lambda: client.post("/messagerie/corbeille/vider", data=forms[client])

    # Held before their look for other holders: the message's row is what they select.
    answers = at_once(live_app, "mail_message.id", empty(zoe), empty(lucas),
                      statement="SELECT", wait=WAIT)
    assert [a.status_code for a in answers] == [303, 303]
    with live_app.app_context():
        assert db.session.get(MailMessage, message) is None
        assert not db.session.scalars(select(MailAttachment.id).where(
            MailAttachment.message_id == message)).all()


@pytest.mark.postgres_only
def test_the_messages_lock_does_not_hold_back_a_delivery(live_app):
    """While a deletion holds its message's row (FOR NO KEY UPDATE, until it commits), the
    same message is still placed in another mailbox at once (an INSERT's FOR KEY SHARE)."""
    deliver(live_app, "claire.bernard", ["zoe.le-gall", "lucas.martin"], "Toujours livré")
    zoe_item = _to_the_trash(live_app, "zoe.le-gall", "Toujours livré")
    lucas_item = item_id(live_app, "lucas.martin", "Toujours livré")
    locked, done = threading.Event(), threading.Event()

    def delete_for_good():
        with live_app.app_context():
            assert mailbox.empty_trash(account("zoe.le-gall")) >= 1
            locked.set()
            done.wait(30)
            db.session.rollback()

    deleting = threading.Thread(target=delete_for_good)
    deleting.start()
    try:
        assert locked.wait(30)
        with live_app.app_context():
            row = db.session.get(MailboxItem, lucas_item)
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))
            store.add_items(row.message_id, row.size, [(row.account_id, row.folder_id)])
            db.session.rollback()
    finally:
        done.set()
        deleting.join(30)
    with live_app.app_context():
        assert db.session.get(MailboxItem, zoe_item) is not None     # rolled back


def _folders_named(app, login_name: str, name: str) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(MailFolder.name).where(
            MailFolder.account_id == account(login_name).id,
            MailFolder.kind == FolderKind.USER,
            func.lower(MailFolder.name) == name.lower())).all()


@pytest.fixture
def lucas_folders(live_app):
    """Lucas's own folders removed afterwards."""
    yield
    with live_app.app_context():
        db.session.execute(delete(MailFolder).where(
            MailFolder.account_id == account("lucas.martin").id,
            MailFolder.kind == FolderKind.USER))
        db.session.commit()


def _new_folder(app, login_name: str, name: str) -> int:
    with app.app_context():
        folder = mailbox.create_folder(account(login_name), name)
        db.session.commit()
        return folder.id


@pytest.mark.postgres_only
def test_two_folders_renamed_to_one_name_at_once_keep_one(live_app, lucas_folders):
    folders = [_new_folder(live_app, "lucas.martin", name) for name in ("Brouillon 1",
                                                                        "Brouillon 2")]
    first, second = browser_twice(live_app, "lucas.martin")

    def rename(client, folder):
        url = f"/messagerie/dossier/{folder}/renommer"
        token = csrf_token(client.get(url).get_data(as_text=True))
        return lambda: client.post(url, data={"csrf_token": token, "name": "Maths"})

    answers = at_once(live_app, "mail_folder", rename(first, folders[0]),
                      rename(second, folders[1]), statement="UPDATE", wait=WAIT)
    assert sorted(a.status_code for a in answers) == [303, 400]
    refused = next(a for a in answers if a.status_code == 400)
    assert "Vous avez déjà un dossier « Maths »." in page(refused).text
    assert _folders_named(live_app, "lucas.martin", "Maths") == ["Maths"]


@pytest.mark.postgres_only
def test_a_folder_created_while_another_is_renamed_to_its_name_keeps_one(live_app,
                                                                         lucas_folders):
    """« maths » created while « Devoirs » becomes « Maths »: the unique key tells them apart,
    the rule does not."""
    folder = _new_folder(live_app, "lucas.martin", "Devoirs")
    first, second = browser_twice(live_app, "lucas.martin")
    url = f"/messagerie/dossier/{folder}/renommer"
    token = csrf_token(second.get(url).get_data(as_text=True))
    form = {"csrf_token": csrf_token(first.get("/messagerie/dossiers").get_data(as_text=True)),
            "name": "maths"}

    answers = at_once(live_app, "mail_folder",
                      lambda: first.post("/messagerie/dossiers", data=form),
                      lambda: second.post(url, data={"csrf_token": token, "name": "Maths"}),
                      wait=WAIT)
    assert sorted(a.status_code for a in answers) == [303, 400]
    assert len(_folders_named(live_app, "lucas.martin", "maths")) == 1
