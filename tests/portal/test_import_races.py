"""Two tabs (or two administrators) at once on the same import, through a live portal whose
commits each sees: the same batch applied from both is counted once and its progress never
goes back; the sheets printed from both give each account one password, the one it holds.
The other tab's whole request runs inside this one's, between its read and its write."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from directory import account_admin, account_import
from directory.db import db
from directory.import_models import AccountImport
from directory.models import Account
from directory.passwords import verify_login
from portal.admin import imports
from tests.conftest import csrf_token, login, post_form
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html, messages
from .test_admin_accounts import upload


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    from tests.conftest import fresh_database

    return fresh_database(tmp_path_factory, "importraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    from tests.conftest import live_demo_app

    return live_demo_app(tmp_path_factory, live_database, "importraces", users=50)


def _admin_tab(app):
    client = app.test_client()
    login(client, "admin")
    return client


def _meanwhile(module, name: str, monkeypatch, other_tab) -> list:
    """`module.name` runs `other_tab` in a thread of its own, once, the first time this
    thread calls it, and waits for it to end; the list says whether it ran."""
    this_thread, ran = threading.current_thread(), []
    real = getattr(module, name)

    def interrupted(*args, **kwargs):
        if threading.current_thread() is this_thread and not ran:
            ran.append(True)
            other = threading.Thread(target=other_tab)
            other.start()
            other.join(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted)
    return ran


def test_the_same_batch_from_two_tabs_counts_once_and_never_goes_back(live_app, monkeypatch):
    """This tab's batch is planned; the other tab applies it and the next one (the whole
    file); then this one writes. It recorded its batch by reading the counts again after the
    accounts' commit: « 3 modifiés » for two accounts, and rows_done back to 1 of 2."""
    app = live_app
    monkeypatch.setattr(imports, "WEB_BATCH", 1)
    first, second = _admin_tab(app), _admin_tab(app)
    rows = [["Le Gall", "Zoé", "Élève", "4A", "zoe.courriel@example.org", ""],
            ["Martin", "Lucas", "Élève", "4A", "lucas.courriel@example.org", ""]]
    preview = upload(first, app, excel_fr(rows)).headers["Location"]
    page = first.get(preview)
    assert html(page).one("strong", data_fate="update").text == "2"
    batch = preview + "/lot"
    tokens = csrf_token(page.get_data(as_text=True)), \
        csrf_token(second.get(preview).get_data(as_text=True))
    answers = []

    def other_tab() -> None:
        for _ in range(2):
            answers.append(second.post(batch, data={"csrf_token": tokens[1]}).get_json())

    ran = _meanwhile(account_import, "write_lock", monkeypatch, other_tab)
    mine = first.post(batch, data={"csrf_token": tokens[0]}).get_json()
    assert ran
    assert [(a["done"], a["finished"]) for a in answers] == [(1, False), (2, True)]
    assert (mine["done"], mine["total"], mine["finished"]) == (2, 2, True)
    import_id = int(re.search(r"/import/(\d+)", preview)[1])
    with app.app_context():
        kept = db.session.get(AccountImport, import_id)
        assert (kept.rows_done, kept.created_count, kept.updated_count) == (2, 0, 2)
        assert kept.content == b""
    result = html(first.get(mine["next"]))
    assert result.one("p", class_="import-summary").text == "0 créés, 2 modifiés."


def _sheets(response) -> dict[str, str]:
    """login → password of the sheets a response shows."""
    if response.status_code != 200:
        return {}
    return {sheet.one("dd", class_="sheet-login").text:
            sheet.one("dd", class_="sheet-password").text
            for sheet in html(response).all("article", class_="login-sheet")}


def test_sheets_printed_from_two_tabs_at_once_hold_working_passwords(live_app, monkeypatch):
    """Both tabs read the same accounts without a password; the other one prints them while
    this one hashes its passwords. This one then wrote its own over them: the other's
    printout held passwords that no longer worked (PostgreSQL; on SQLite this one's write is
    refused and the request run again, as portal/retry.py does)."""
    app = live_app
    first, second = _admin_tab(app), _admin_tab(app)
    rows = [[f"Deuxfiches{n}", "Élève", "Élève", "4A", "", ""] for n in range(3)]
    preview = upload(first, app, excel_fr(rows)).headers["Location"]
    result_url = post_form(first, preview + "/appliquer", {}, page=preview).headers["Location"]
    sheets_url = result_url.replace("/resultat", "/fiches")
    tokens = csrf_token(first.get(result_url).get_data(as_text=True)), \
        csrf_token(second.get(result_url).get_data(as_text=True))
    theirs = []

    def other_tab() -> None:
        theirs.append(second.post(sheets_url, data={"csrf_token": tokens[1]}))

    ran = _meanwhile(account_admin, "hash_temporary_passwords", monkeypatch, other_tab)
    mine = first.post(sheets_url, data={"csrf_token": tokens[0]})
    assert ran and theirs
    printed = [_sheets(theirs[0]), _sheets(mine)]
    with app.app_context():
        ours = set(db.session.scalars(select(Account.login).where(
            Account.last_name.like("Deuxfiches%"))))
        stored = dict(db.session.execute(select(Account.login, Account.password_hash).where(
            Account.login.in_(ours | set(printed[0]) | set(printed[1])))).all())
    assert len(ours) == 3 and ours <= set(printed[0])
    assert not set(printed[0]) & set(printed[1])
    for sheets in printed:
        for login_name, password in sheets.items():
            assert verify_login(stored[login_name], password), login_name
    assert mine.status_code == 303 and mine.headers["Location"].endswith(result_url)
    assert "Aucun compte n'attend sa fiche." in messages(html(first.get(result_url)))
