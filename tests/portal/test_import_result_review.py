"""What a review of the import's result page and of the new passwords found (each test fails
without its fix): the rows left out were not mentioned, a failure between the accounts'
commit and the counts' lost the counts, the accounts still without a password were the whole
school's (suspended ones included) shown as the import's, and the confirmation of new
passwords counted and listed the accounts shared with another school that it then left out.
Two printings or two applications at once: test_import_races.py."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from directory.db import db
from directory.models import Account, AccountSchool
from directory.passwords import NO_PASSWORD
from portal.admin import imports
from tests.conftest import post_form
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html, school_id
from .test_admin_accounts import account, upload
from .test_admin_review_fixes import _share_claire


def _applied(client, app, rows: list[list[str]]):
    """Upload `rows`, apply them without JavaScript; the result page's response."""
    preview = upload(client, app, excel_fr(rows)).headers["Location"]
    return post_form(client, preview + "/appliquer", {}, page=preview, follow_redirects=True)


# 1. The rows left out -------------------------------------------------------------------------

def test_the_result_counts_and_names_the_rows_left_out(admin, app, monkeypatch):
    """One batch a row, the parent (applied last) in error as well as a pupil: the page said
    « 2 créés, 0 modifiés. » and nothing of them."""
    monkeypatch.setattr(imports, "WEB_BATCH", 1)
    result = _applied(admin, app, [["Blondel", "Victor", "Élève", "4A", "", ""],
                                   ["Blondel", "Véra", "Parent", "", "vera@example.org",
                                    "faible"],
                                   ["Sans", "Profil", "Chef", "", "", ""],
                                   ["Blondel", "Zélie", "Élève", "4A", "", ""]])
    page = html(result)
    assert page.one("p", class_="import-summary").text == \
        "2 créés, 0 modifiés, 2 lignes en erreur non importées."
    errors = page.one("p", class_="import-errors")
    assert "Lignes du fichier laissées de côté : 3, 4." in errors.text
    assert errors.one("a").attrs["href"] == "/administration/import"


# 2. Counts recorded with the accounts -----------------------------------------------------------

def test_a_failure_before_the_counts_keeps_neither_accounts_nor_counts(admin, app):
    """The counts were written by a second transaction, after the batch had committed its
    accounts: a failure in between kept the accounts, and the batch run again found them
    unchanged: « 0 créés »."""
    rows = [[f"Compté{n}", "Élève", "Élève", "4A", "", ""] for n in range(3)]
    preview = upload(admin, app, excel_fr(rows)).headers["Location"]
    failed = []

    def fail_once(_conn, _cursor, statement, *_args) -> None:
        if not failed and statement.lstrip().upper().startswith("UPDATE ACCOUNT_IMPORT"):
            failed.append(statement)
            raise RuntimeError("the process stops here")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fail_once)
    try:
        with pytest.raises(RuntimeError):
            post_form(admin, preview + "/appliquer", {}, page=preview)
    finally:
        event.remove(engine, "before_cursor_execute", fail_once)
    assert failed
    result = post_form(admin, preview + "/appliquer", {}, page=preview, follow_redirects=True)
    assert html(result).one("p", class_="import-summary").text == "3 créés, 0 modifiés."
    with app.app_context():
        assert len(db.session.scalars(select(Account.id).where(
            Account.last_name.like("Compté%"))).all()) == 3


# 3. The accounts awaiting their sheet ------------------------------------------------------------

def test_the_result_tells_the_imports_own_accounts_from_the_schools_suspended_left_out(
        admin, app):
    result = _applied(admin, app, [[f"Attentefiche{n}", "Élève", "Élève", "4A", "", ""]
                                   for n in range(3)])
    page = html(result)
    assert page.one("p", class_="import-sheets").text == (
        "Cet import a créé 3 comptes sans courriel, donc sans mot de passe : leurs fiches leur "
        "en donneront un.")
    with app.app_context():                 # a pupil who left: no sheet is handed to him
        imported = list(db.session.scalars(select(Account).where(
            Account.last_name.like("Attentefiche%")).order_by(Account.last_name)))
        logins = [a.login for a in imported]
        imported[0].suspended = True
        db.session.commit()
        waiting = len(db.session.scalars(select(Account.id).join(
            AccountSchool, AccountSchool.account_id == Account.id).where(
            AccountSchool.school_id == school_id(app, "0310024H"),
            Account.password_hash == NO_PASSWORD, Account.suspended.is_(False))).all())
    page = html(admin.get(result.request.path))
    assert page.one("p", class_="school-sheets").text.startswith(
        f"Dans tout l'établissement, {waiting} comptes n'ont pas encore de mot de passe")
    form = page.one("form", action=result.request.path.replace("/resultat", "/fiches"))
    assert form.one("button").text == "Imprimer les fiches de l'établissement"
    sheets = html(post_form(admin, form.attrs["action"], {}, page=result.request.path))
    printed = [d.text for d in sheets.all("dd", class_="sheet-login")]
    assert logins[1] in printed and logins[2] in printed
    assert logins[0] not in printed
    assert account(app, logins[0]).password_hash == NO_PASSWORD


# 5. New passwords for a selection holding a shared account ---------------------------------------

def test_the_confirmation_counts_only_the_accounts_whose_password_it_replaces(
        school_admin, app):
    claire_id, _ = _share_claire(app)
    zoe = account(app, "zoe.le-gall")
    asked = post_form(school_admin, "/administration/comptes/actions",
                      {"ids": [zoe.id, claire_id], "action": "mot_de_passe",
                       "retour": "/administration/comptes/"},
                      page="/administration/comptes/")
    assert asked.status_code == 200
    page = html(asked)
    assert page.one("h1").text == "Donner un nouveau mot de passe à 1 compte"
    assert [li.text for li in page.one("ul", class_="consequences").all("li")] == [
        "Zoé Le Gall (zoe.le-gall) — fiche à imprimer"]
    left_out = page.one("div", class_="left-out")
    assert left_out.one("p").text.startswith("1 compte laissé de côté : il appartient aussi")
    assert [li.text for li in left_out.all("li")] == ["Claire Bernard (claire.bernard)"]
    form = page.one("form", action="/administration/comptes/actions")
    assert [i.attrs["value"] for i in form.all("input") if i.attrs["name"] == "ids"] == [
        str(zoe.id)]


def test_a_shared_accounts_sheet_page_says_why_instead_of_asking(school_admin, app):
    claire_id, _ = _share_claire(app)
    page = html(school_admin.get(f"/administration/comptes/{claire_id}/fiche"))
    assert page.one("main").one("p", class_="notice").text.startswith(
        "Ce compte appartient aussi à un établissement que vous n'administrez pas : seul un "
        "administrateur de tous ses établissements peut lui donner un nouveau mot de passe.")
    assert not page.one("main").all("form")
    zoe = account(app, "zoe.le-gall")
    own = html(school_admin.get(f"/administration/comptes/{zoe.id}/fiche"))
    assert own.one("main").one("button").text == "Remplacer le mot de passe et afficher la fiche"
