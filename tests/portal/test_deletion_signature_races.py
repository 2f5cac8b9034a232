"""Two requests at once on PostgreSQL, after the review of a member's own settings: the same
« Supprimer définitivement » sent twice (a double click, two administrators) deletes the
account once and answers the other one « not found »; « Par défaut » and « Supprimer » on the
same signature (two tabs) leave it deleted, answer the other one « not found ». Never a 500:
the second request used to find its rows gone at its UPDATE or DELETE (StaleDataError).

The requests really overlap, on a database whose commits both see (test_carnet_races.py's
`at_once`). The fix is a lock taken before the row is read, so the second request waits on it
instead of writing: `at_once(wait=…)` lets the first one go on after WAIT seconds. Which of
the two requests wins is not asserted, only that one does and the other is told so."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from directory.db import db
from directory.models import Account, AccountSchool
from mailgate.automations.models import Signature
from tests.conftest import csrf_token, fresh_database, live_demo_app

from .carnet_helpers import flashes, page
from .test_carnet_races import at_once, browser_twice

pytestmark = pytest.mark.postgres_only

WAIT = 1.5      # seconds the first request gives the second to reach its write


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "delsigraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "delsigraces", users=100)


def _account_id(app, login_name: str) -> int | None:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.login == login_name))


# Finding 2: « Supprimer définitivement » twice at once ----------------------------------------

def test_an_account_deleted_twice_at_once_is_deleted_once(live_app):
    first, second = browser_twice(live_app, "admin")
    target = _account_id(live_app, "lucas.martin")
    with live_app.app_context():
        assert db.session.scalar(select(AccountSchool.school_id).where(
            AccountSchool.account_id == target).limit(1)) is not None
    url = f"/administration/comptes/{target}/suppression"
    token = csrf_token(first.get(url).get_data(as_text=True))

    def click(client):
        return lambda: client.post(url, data={"csrf_token": token})

    answers = at_once(live_app, "account_school", click(first), click(second),
                      statement="DELETE FROM", wait=WAIT)
    assert sorted(a.status_code for a in answers) == [303, 404]
    assert _account_id(live_app, "lucas.martin") is None
    with live_app.app_context():
        assert db.session.scalar(select(AccountSchool.school_id).where(
            AccountSchool.account_id == target).limit(1)) is None
    done = next(client for client, answer in zip((first, second), answers, strict=True)
                if answer.status_code == 303)
    assert any("Le compte de Lucas Martin est supprimé." in said
               for said in flashes(page(done.get("/administration/comptes/"))))
    assert first.get(url).status_code == 404


# Finding 6: « Par défaut » and « Supprimer » on the same signature at once -------------------

@pytest.fixture
def two_signatures(live_app):
    """Claire's signatures: « Principale », the default one, and « Seconde »; both her
    browser's tabs; and her signatures deleted afterwards."""
    claire = _account_id(live_app, "claire.bernard")
    with live_app.app_context():
        second = Signature(account_id=claire, name="Seconde", body="C. B.", is_default=False)
        db.session.add_all([Signature(account_id=claire, name="Principale",
                                      body="Claire Bernard", is_default=True), second])
        db.session.commit()
        second_id = second.id
    yield second_id, browser_twice(live_app, "claire.bernard")
    with live_app.app_context():
        db.session.execute(delete(Signature).where(Signature.account_id == claire))
        db.session.commit()


def _signatures(app) -> list[tuple[str, bool]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(Signature.name, Signature.is_default).where(
                Signature.account_id == _account_id(app, "claire.bernard"))
            .order_by(Signature.name))]


def test_a_signature_made_default_while_it_is_deleted_is_not_found(live_app, two_signatures):
    signature, (first, second) = two_signatures
    token = csrf_token(first.get("/communications/signatures").get_data(as_text=True))

    def click(client, action: str):
        return lambda: client.post(f"/communications/signatures/{signature}/{action}",
                                   data={"csrf_token": token})

    # « Supprimer » writes first and keeps its deletion uncommitted a moment; « Par défaut »
    # read the signature meanwhile and used to update a row gone by its UPDATE.
    answers = at_once(live_app, "signature", click(first, "defaut"),
                      click(second, "supprimer"), statement="DELETE FROM", wait=WAIT,
                      second_first=True)
    assert sorted(a.status_code for a in answers) == [303, 404]
    assert _signatures(live_app) == [("Principale", True)]
    listed = page(first.get("/communications/signatures")).find("ul", class_="plain-list")
    assert [name.text for name in listed.find_all("strong")] == ["Principale"]
