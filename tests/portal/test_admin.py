"""Administration: an administrator grants or removes a role for one account, and the effect
is visible at once in that person's searches and writing rights."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.db import db
from directory.models import Account, RoleOverride
from directory.rights import writable
from tests.conftest import csrf_token, login, post_form

from .annuaire_helpers import html, messages, people_rows, school_id


def overrides(app, login_name: str) -> dict[str, bool]:
    with app.app_context():
        return {o.role.value: o.granted for o in db.session.scalars(
            select(RoleOverride).join(Account).where(Account.login == login_name))}


def role_rows(page) -> dict[str, list[str]]:
    table = page.one("table", class_="roles")
    return {cells[0]: cells[1:] for cells in
            ([td.text for td in tr.all("td")] for tr in table.one("tbody").all("tr"))}


def change(admin, app, login_name: str, role: str, action: str):
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.login == login_name))
    return post_form(admin, f"/administration/comptes/{account_id}/roles",
                     {"role": role, "action": action},
                     page=f"/administration/?compte={login_name}")


def test_only_administrators(student):
    assert student.get("/administration/").status_code == 403
    assert "Administration" not in html(student.get("/")).one("nav").text


def test_admin_sees_administration_in_the_navigation(admin):
    assert "Administration" in html(admin.get("/")).one("nav").text
    assert admin.get("/administration/").status_code == 200


def test_find_an_account_by_login_address_or_name(admin):
    page = html(admin.get("/administration/?compte=zoe.le-gall"))
    rows = role_rows(page)
    assert rows["Messagerie interne"] == ["oui", "accordé", "Retirer : Messagerie interne"]
    assert rows["Accès au service d'envoi étendu"][0] == "non"
    assert "Zoé Le Gall (zoe.le-gall)" in page.one("h3").text
    assert "Zoé Le Gall" in html(admin.get("/administration/?compte=zoe.le-gall@ent.test")).text
    matches = html(admin.get("/administration/?compte=le gall")).one("ul", class_="matches")
    assert "Le Gall Zoé" in matches.text
    nobody = html(admin.get("/administration/?compte=%25"))
    assert "Aucun compte ne correspond à « % »." in nobody.text


def test_granting_advanced_search_shows_other_schools_at_once(admin, app):
    other = school_id(app, "0310002C")
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    assert zoe.get(f"/annuaire/?etablissement={other}").status_code == 400

    response = change(admin, app, "zoe.le-gall", "directory_advanced", "accorder")
    assert response.status_code == 303
    page = html(admin.get(response.headers["Location"]))
    assert "Rôle « Utilisateur avancé (annuaire) » accordé à Zoé Le Gall." in messages(page)
    assert role_rows(page)["Utilisateur avancé (annuaire)"][1:] == [
        "accordé modifié", "Retirer : Utilisateur avancé (annuaire)"]
    assert overrides(app, "zoe.le-gall") == {"directory_advanced": True}

    response = zoe.get(f"/annuaire/?etablissement={other}")
    assert response.status_code == 200
    assert len(people_rows(html(response))) == 20


def test_removing_internal_mail_stops_writing_at_once(admin, app):
    change(admin, app, "zoe.le-gall", "internal_mail", "retirer")
    assert overrides(app, "zoe.le-gall") == {"internal_mail": False}
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        lucas = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))
        assert not writable(zoe, [lucas])[lucas].allowed
    zoe_client = app.test_client()
    login(zoe_client, "zoe.le-gall")
    rows = people_rows(html(zoe_client.get("/annuaire/?nom=martin")))
    assert rows and all(row.envelope is None for row in rows)

    change(admin, app, "zoe.le-gall", "internal_mail", "accorder")
    assert overrides(app, "zoe.le-gall") == {}
    rows = people_rows(html(zoe_client.get("/annuaire/?nom=martin")))
    assert any(row.name == "Martin Lucas" and row.envelope for row in rows)


@pytest.mark.parametrize("data", [
    {"role": "pirate", "action": "accorder"}, {"role": "send", "action": "effacer"},
    {"role": "", "action": ""}, {}])
def test_bad_role_changes_are_refused(admin, app, data):
    with app.app_context():
        zoe = db.session.scalar(select(Account.id).where(Account.login == "zoe.le-gall"))
    response = post_form(admin, f"/administration/comptes/{zoe}/roles", data,
                         page="/administration/")
    assert response.status_code == 400
    assert overrides(app, "zoe.le-gall") == {}


def test_unknown_account_and_forged_post(admin, app):
    token = csrf_token(admin.get("/administration/").get_data(as_text=True))
    for account_id in (987654, 2**40):
        response = admin.post(f"/administration/comptes/{account_id}/roles",
                              data={"csrf_token": token, "role": "send", "action": "accorder"})
        assert response.status_code == 404
    student = app.test_client()
    login(student, "zoe.le-gall")
    token = csrf_token(student.get("/").get_data(as_text=True))
    with app.app_context():
        zoe = db.session.scalar(select(Account.id).where(Account.login == "zoe.le-gall"))
    response = student.post(f"/administration/comptes/{zoe}/roles", data={
        "csrf_token": token, "role": "send_extended", "action": "accorder"})
    assert response.status_code == 403
    assert overrides(app, "zoe.le-gall") == {}


def test_lookup_too_long_is_refused(admin):
    response = admin.get("/administration/", query_string={"compte": "x" * 500})
    assert response.status_code == 400
    assert "120 caractères au plus." in messages(html(response))
