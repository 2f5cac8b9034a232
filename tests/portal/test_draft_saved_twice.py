"""« Enregistrer le brouillon » clicked twice at once on a new composition (a double click
before the first answer) keeps one draft, as « Envoyer » sends once: the draft's Message-ID
comes from the form's key, and the second request, waiting on the author's lock, finds the
draft the first one saved and replaces it (mailgate.mailbox `save_draft`).

The requests really overlap, on a database whose commits both see (test_carnet_races.py's
`at_once`): the first one is held just before it files its draft, and the second one waits
on the lock the first one holds, WAIT seconds, before the first goes on. On SQLite the write
lock serialises them in the same way."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import store
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage
from tests.conftest import fresh_database, live_demo_app

from .carnet_helpers import flashes, page
from .test_carnet_races import at_once, browser_twice

WAIT = 1.5      # seconds the first request gives the second to reach its write
SUBJECT = "Brouillon du double clic"


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "draftraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "draftraces", users=100)


def _account(login_name: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login_name))


def _drafts(login_name: str) -> list[int]:
    db.session.rollback()
    return list(db.session.scalars(
        select(MailboxItem.id).join(MailMessage, MailMessage.id == MailboxItem.message_id)
        .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
        .where(MailboxItem.account_id == _account(login_name).id,
               MailFolder.kind == FolderKind.DRAFTS, MailMessage.subject == SUBJECT)))


@pytest.mark.parametrize("login_name", ["claire.bernard", "zoe.le-gall"])
def test_a_new_draft_saved_twice_at_once_is_kept_once(live_app, login_name):
    first, second = browser_twice(live_app, login_name)
    form = page(first.get("/messagerie/ecrire")).find("form", id="compose-form")
    hidden = {node.attrs["name"]: node.attrs["value"] for node in form.find_all("input")
              if node.attrs.get("name") in ("csrf_token", "cle")}
    with live_app.app_context():
        lucas = _account("lucas.martin").id
        used = store.usage(_account(login_name).id)
    data = {**hidden, "action": "brouillon", "to": f"p:{lucas}", "subject": SUBJECT,
            "body": "À finir demain.", "copy": "y"}

    def click(client):
        return lambda: client.post("/messagerie/ecrire", data=data)

    try:
        answers = at_once(live_app, "mailbox_item", click(first), click(second), wait=WAIT)
        with live_app.app_context():
            drafts = _drafts(login_name)
            messages = db.session.scalars(select(MailMessage.id).where(
                MailMessage.author_id == _account(login_name).id,
                MailMessage.subject == SUBJECT)).all()
            size = db.session.scalar(select(MailboxItem.size).where(
                MailboxItem.id.in_(drafts)))
            usage = store.usage(_account(login_name).id)
        assert len(drafts) == 1 and len(messages) == 1
        assert usage == used + size         # the quota counts the one draft
        assert [a.status_code for a in answers] == [303, 303]
        kept = f"/messagerie/ecrire?brouillon={drafts[0]}"
        assert kept in [a.headers["Location"] for a in answers]
        shown = page(second.get(kept))
        assert shown.find("input", id="subject").attrs["value"] == SUBJECT
        assert "Le brouillon est enregistré dans « Brouillons »." in flashes(shown)
    finally:
        with live_app.app_context():
            gone = _drafts(login_name)
            store.delete_items(_account(login_name), gone)
            db.session.commit()
