"""What a review of the administration pages found (each test fails without its fix): another
school's account taken over, a suspension undone by a second click, another school's classes
and children shown, an account created twice, a child who is no pupil, a query string that
broke the list, the number of sheets to print."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from tests.conftest import csrf_token, post_form
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html, messages, school_id
from .test_admin_accounts import account


def _other_school(app) -> tuple[int, str]:
    with app.app_context():
        other = db.session.scalar(select(School).where(School.uai == "0310002C"))
        return other.id, other.name


def _share_claire(app) -> tuple[int, str]:
    """Claire teaches in the other school too, in a class of it: (her id, that class)."""
    other_id, _ = _other_school(app)
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        klass = Group(kind=GroupKind.CLASS, name="3ZB", search_name="3zb", description="",
                      school_id=other_id, persistent=True)
        db.session.add(klass)
        db.session.flush()
        db.session.add_all([AccountSchool(account_id=claire.id, school_id=other_id),
                            GroupMember(group_id=klass.id, account_id=claire.id,
                                        is_manager=False)])
        db.session.commit()
        return claire.id, klass.name


# 2. Credentials of an account shared with another school ---------------------------------------

def test_a_school_admin_sets_no_password_of_an_account_shared_with_another_school(
        school_admin, app):
    """Typed, on a sheet or in bulk: whoever sets it holds the account in the other school."""
    claire_id, _ = _share_claire(app)
    before = account(app, "claire.bernard").password_hash
    url = f"/administration/comptes/{claire_id}"
    typed = post_form(school_admin, f"{url}/mot-de-passe",
                      {"mode": "saisir", "mot_de_passe": "Pirate-2026!"}, page=url,
                      follow_redirects=True)
    assert "n'administrez pas : son mot de passe n'est pas changé" in " ".join(
        messages(html(typed)))
    sheet = post_form(school_admin, f"{url}/fiche", {}, page=f"{url}/fiche",
                      follow_redirects=True)
    assert not html(sheet).all("dd", class_="sheet-password")
    post_form(school_admin, "/administration/comptes/actions",
              {"ids": [claire_id], "action": "mot_de_passe", "confirme": "1"},
              page="/administration/comptes/")
    assert account(app, "claire.bernard").password_hash == before
    assert not html(school_admin.get(url)).all("form", class_="password-reset")


def test_a_school_admin_changes_neither_names_nor_redirect_of_a_shared_account(
        school_admin, app):
    claire_id, _ = _share_claire(app)
    claire = account(app, "claire.bernard")
    url = f"/administration/comptes/{claire_id}"
    fields = {"prenom": claire.first_name, "nom": claire.last_name, "profil": "teacher",
              "classe": "", "redirection": claire.redirect_address or "", "enfants": ""}
    taken = post_form(school_admin, url, {**fields, "redirection": "pirate@example.org"})
    assert taken.status_code == 400
    assert "vous ne pouvez changer ni son nom, ni son profil, ni son adresse de " \
           "redirection" in " ".join(messages(html(taken)))
    assert post_form(school_admin, url, {**fields, "nom": "Pirate"}).status_code == 400
    kept = account(app, "claire.bernard")
    assert (kept.last_name, kept.redirect_address) == (claire.last_name,
                                                       claire.redirect_address)
    assert post_form(school_admin, url, fields).status_code == 303    # the rest: still hers


# 3. Suspending is a state, not a switch ---------------------------------------------------------

def test_suspending_twice_leaves_the_account_suspended(admin, app):
    """A double click (or a page older than a colleague's suspension) reactivated it."""
    zoe = account(app, "zoe.le-gall")
    url = f"/administration/comptes/{zoe.id}"
    page = admin.get(url).get_data(as_text=True)
    for _ in range(2):
        admin.post(f"{url}/suspension", data={"csrf_token": csrf_token(page),
                                              "suspendre": "1"})
        assert account(app, "zoe.le-gall").suspended
    assert admin.post(f"{url}/suspension",
                      data={"csrf_token": csrf_token(page)}).status_code == 400
    assert html(admin.get(url)).one("input", name="suspendre").attrs["value"] == "0"
    admin.post(f"{url}/suspension", data={"csrf_token": csrf_token(page), "suspendre": "0"})
    assert not account(app, "zoe.le-gall").suspended
    assert html(admin.get(url)).one("input", name="suspendre").attrs["value"] == "1"


def test_reactivating_a_selection_with_oneself_says_reactivate(admin, app):
    ids = [account(app, login).id for login in ("zoe.le-gall", "admin")]
    response = post_form(admin, "/administration/comptes/actions",
                         {"ids": ids, "action": "reactiver"},
                         page="/administration/comptes/", follow_redirects=True)
    said = " ".join(messages(html(response)))
    assert "Vous ne pouvez pas réactiver votre propre compte." in said
    assert "suspendre" not in said


# 4. Another school's classes and children ---------------------------------------------------------

def test_a_school_admin_sees_only_her_schools_classes_and_children(school_admin, app):
    claire_id, other_class = _share_claire(app)
    other_id, _ = _other_school(app)
    with app.app_context():
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        child = db.session.scalar(select(Account).join(
            AccountSchool, AccountSchool.account_id == Account.id).where(
            AccountSchool.school_id == other_id, Account.profile == "student").limit(1))
        db.session.add_all([AccountSchool(account_id=joseph.id, school_id=other_id),
                            ParentLink(parent_id=joseph.id, child_id=child.id)])
        db.session.commit()
        joseph_id, child_login = joseph.id, child.login
        own_class = db.session.scalar(select(Group.name).join(
            GroupMember, GroupMember.group_id == Group.id).join(
            School, School.id == Group.school_id).where(
            GroupMember.account_id == claire_id, Group.kind == GroupKind.CLASS,
            School.uai == "0310024H").limit(1))
    parent_page = html(school_admin.get(f"/administration/comptes/{joseph_id}"))
    parent_facts = parent_page.one("dl", class_="account-facts").text
    assert "zoe.le-gall" in parent_facts and child_login not in parent_facts
    claire_page = html(school_admin.get(f"/administration/comptes/{claire_id}"))
    facts = claire_page.one("dl", class_="account-facts").text
    assert own_class in facts and other_class not in facts
    listed = html(school_admin.get("/administration/comptes/",
                                   query_string={"nom": "bernard claire"}))
    row = next(tr for tr in listed.one("table", class_="accounts").one("tbody").all("tr")
               if tr.all("td")[2].text == "claire.bernard")
    assert own_class in row.all("td")[4].text and other_class not in row.all("td")[4].text
    exported = school_admin.get("/administration/comptes/export.csv",
                                query_string={"nom": "bernard claire"}).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff")), delimiter=";"))
    claire_row = next(r for r in rows if r[0] == "claire.bernard")
    assert own_class in claire_row[4] and other_class not in claire_row[4]


# 7. « Créer le compte » sent twice ---------------------------------------------------------------

def test_the_new_account_form_sent_twice_creates_one_account(admin, app):
    shown = admin.get("/administration/comptes/nouveau")
    key = html(shown).one("input", name="cle").attrs["value"]
    assert len(key) >= 16
    data = {"csrf_token": csrf_token(shown.get_data(as_text=True)), "cle": key,
            "etablissement": str(school_id(app, "0310024H")), "prenom": "Victor",
            "nom": "Blondel", "profil": "teacher", "redirection": "", "envoi": "saisir",
            "mot_de_passe": "Bonjour-2026"}
    first = admin.post("/administration/comptes/nouveau", data=data)
    second = admin.post("/administration/comptes/nouveau", data=data, follow_redirects=True)
    assert first.status_code == 303
    assert second.request.path == first.headers["Location"]
    assert "Ce formulaire a déjà créé le compte 0310024h.v.blondel : le voici." in \
        messages(html(second))
    assert account(app, "0310024h.v.blondel") is not None
    assert account(app, "0310024h.v.blondel2") is None


# 8. A child must be a pupil -------------------------------------------------------------------------

def test_a_parent_cannot_be_given_a_teacher_as_child(admin, app):
    joseph = account(app, "joseph.fabre")
    url = f"/administration/comptes/{joseph.id}"
    response = post_form(admin, url, {"prenom": joseph.first_name, "nom": joseph.last_name,
                                      "profil": "parent", "classe": "",
                                      "redirection": joseph.redirect_address or "",
                                      "enfants": "zoe.le-gall\nclaire.bernard"})
    assert response.status_code == 400
    assert "« claire.bernard » n'est pas un compte d'élève" in " ".join(
        messages(html(response)))
    with app.app_context():
        assert account(app, "claire.bernard").id not in set(db.session.scalars(
            select(ParentLink.child_id).where(ParentLink.parent_id == joseph.id)))


# 9. The list's query string -------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    {"endpoint": "x"}, {"_scheme": "https", "_external": ""}, {"_scheme": "http"},
    {"page": "10000000000000000000000"}])
def test_a_crafted_query_string_does_not_break_the_account_list(admin, query):
    response = admin.get("/administration/comptes/", query_string=query)
    assert response.status_code in (200, 400)
    page = html(response)
    links = [a.attrs["href"] for a in page.all("a") if "/administration/comptes/" in
             (a.attrs.get("href") or "")]
    assert any("export.csv" in href for href in links)
    assert all(href.startswith("/administration/") for href in links)


# 10. Accounts waiting for their sheet ---------------------------------------------------------------

def test_the_import_result_counts_every_account_waiting_for_its_sheet(admin, app, monkeypatch):
    from portal.admin import imports

    monkeypatch.setattr(imports, "SHEETS_AT_ONCE", 2)
    data = excel_fr([[f"Nouveau{n}", "Élève", "Élève", "4A", "", ""] for n in range(3)])
    page = admin.get("/administration/import").get_data(as_text=True)
    uploaded = admin.post("/administration/import", data={
        "csrf_token": csrf_token(page), "etablissement": str(school_id(app, "0310024H")),
        "fichier": (io.BytesIO(data), "eleves.csv")}, content_type="multipart/form-data")
    preview = uploaded.headers["Location"]
    result = post_form(admin, preview + "/appliquer", {}, page=preview, follow_redirects=True)
    text = html(result).text
    from directory.passwords import NO_PASSWORD

    with app.app_context():
        waiting = len(db.session.scalars(select(AccountSchool.account_id).join(
            Account, Account.id == AccountSchool.account_id).where(
            AccountSchool.school_id == school_id(app, "0310024H"),
            Account.password_hash == NO_PASSWORD, Account.suspended.is_(False))).all())
    assert waiting >= 3
    assert (f"Dans tout l'établissement, {waiting} comptes n'ont pas encore de mot de passe"
            in text)
    assert "Les 2 premiers à chaque impression." in text
