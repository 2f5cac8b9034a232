"""Administration pages for accounts and CSV import (SPEC §8): what an administrator reads
and does, what a school administrator cannot reach, and forged posts that change nothing."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from directory.db import db
from directory.import_models import AccountImport
from directory.models import Account
from mailgate import mailbox, routing
from mailgate.models import MailAttachment, MailBlob, MailboxItem, MailMessage, OutboundEntry
from tests.conftest import csrf_token, post_form
from tests.directory.account_files import excel_fr

from . import messagerie_helpers as helpers
from .annuaire_helpers import html, messages, school_id
from .messagerie_helpers import person


def account(app, login: str) -> Account | None:
    with app.app_context():
        found = db.session.scalar(select(Account).where(Account.login == login))
        if found is not None:
            db.session.expunge(found)
        return found


def other_school_login(app) -> str:
    from directory.models import AccountSchool, School

    with app.app_context():
        return db.session.scalar(
            select(Account.login).join(AccountSchool, AccountSchool.account_id == Account.id)
            .join(School, School.id == AccountSchool.school_id)
            .where(School.uai == "0310002C").limit(1))


def table_logins(page) -> list[str]:
    return [tr.all("td")[2].text for tr in page.one("table", class_="accounts")
            .one("tbody").all("tr")]


def test_nobody_else_reaches_the_pages(student):
    for url in ("/administration/comptes/", "/administration/import",
                "/administration/comptes/nouveau"):
        assert student.get(url).status_code == 403


def test_table_with_last_access_and_filters(admin, app):
    page = html(admin.get("/administration/comptes/?nom=le+gall"))
    assert "zoe.le-gall" in table_logins(page)
    row = next(tr for tr in page.one("table", class_="accounts").one("tbody").all("tr")
               if tr.all("td")[2].text == "zoe.le-gall")
    assert [td.text for td in row.all("td")][3:5] == ["Élève", "4A"]
    assert row.all("td")[6].text   # a date or "jamais"
    never = html(admin.get("/administration/comptes/?nom=le+gall&activite=never"))
    assert "Dernier accès" in never.one("table", class_="accounts").text
    bad = admin.get("/administration/comptes/?jours=-5&activite=inactive")
    assert bad.status_code == 400


def test_school_admin_sees_only_own_school_and_gets_404_elsewhere(school_admin, app):
    stranger = other_school_login(app)
    page = html(school_admin.get(f"/administration/comptes/?nom={stranger.split('.')[-1]}"))
    assert stranger not in (table_logins(page) if page.all("table", class_="accounts") else [])
    stranger_id = account(app, stranger).id
    assert school_admin.get(f"/administration/comptes/{stranger_id}").status_code == 404
    html_page = school_admin.get("/administration/comptes/").get_data(as_text=True)
    response = school_admin.post(f"/administration/comptes/{stranger_id}/suspension",
                                 data={"csrf_token": csrf_token(html_page)})
    assert response.status_code == 404
    assert not account(app, stranger).suspended
    # the region administrators' roles page stays theirs
    assert "Rôles d'un compte" not in html(school_admin.get("/administration/")).text


def test_a_school_admin_does_not_reach_the_region_administrator_of_her_school(school_admin,
                                                                             app):
    """The region administrator belongs to 0310024H too: a school administrator who could set
    his password would hold the region. Neither he nor another school administrator is hers
    to administer; she still is."""
    region_admin = account(app, "admin")
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        claire.is_school_admin = True
        db.session.commit()
        claire_id = claire.id
    listed = html(school_admin.get("/administration/comptes/?nom=pr"))
    assert "admin" not in (table_logins(listed) if listed.all("table", class_="accounts")
                           else [])
    token = csrf_token(school_admin.get("/administration/comptes/").get_data(as_text=True))
    for target in (region_admin.id, claire_id):
        assert school_admin.get(f"/administration/comptes/{target}").status_code == 404
        response = school_admin.post(f"/administration/comptes/{target}/mot-de-passe",
                                     data={"csrf_token": token, "mode": "saisir",
                                           "mot_de_passe": "Xx-12345678"})
        assert response.status_code == 404
        bulk = school_admin.post("/administration/comptes/actions",
                                 data={"csrf_token": token, "ids": [target],
                                       "action": "suspendre"})
        assert bulk.status_code == 303
    assert not account(app, "admin").suspended and not account(app, "claire.bernard").suspended
    assert account(app, "admin").password_hash == region_admin.password_hash
    paul = account(app, "paul.durand")
    assert school_admin.get(f"/administration/comptes/{paul.id}").status_code == 200


def test_forged_posts_change_nothing(admin, app):
    zoe = account(app, "zoe.le-gall")
    assert admin.post(f"/administration/comptes/{zoe.id}/suspension").status_code == 400
    assert admin.post(f"/administration/comptes/{zoe.id}/suppression").status_code == 400
    assert account(app, "zoe.le-gall") is not None
    assert admin.post("/administration/comptes/actions",
                      data={"ids": [zoe.id], "action": "suspendre"}).status_code == 400
    assert not account(app, "zoe.le-gall").suspended
    assert admin.get("/administration/comptes/99999999").status_code == 404


def test_suspend_then_no_login_then_reactivate(admin, app, client):
    zoe = account(app, "zoe.le-gall")
    response = post_form(admin, f"/administration/comptes/{zoe.id}/suspension",
                         {"suspendre": "1"}, page=f"/administration/comptes/{zoe.id}",
                         follow_redirects=True)
    assert "suspendu" in html(response).one("dd", id="etat").text
    fresh = app.test_client()
    refused = post_form(fresh, "/connexion", {"login": "zoe.le-gall",
                                              "password": "Preau-demo-2026!"})
    assert "Ce compte est suspendu" in refused.get_data(as_text=True)
    post_form(admin, f"/administration/comptes/{zoe.id}/suspension", {"suspendre": "0"},
              page=f"/administration/comptes/{zoe.id}")
    assert not account(app, "zoe.le-gall").suspended


def test_bulk_suspend_a_selection(admin, app):
    ids = [account(app, login).id for login in ("zoe.le-gall", "lucas.martin")]
    response = post_form(admin, "/administration/comptes/actions",
                         {"ids": ids, "action": "suspendre"},
                         page="/administration/comptes/", follow_redirects=True)
    assert "2 comptes suspendus." in messages(html(response))
    assert account(app, "lucas.martin").suspended


def test_new_passwords_for_a_selection_are_confirmed_first(admin, app):
    zoe, lucas = account(app, "zoe.le-gall"), account(app, "lucas.martin")
    token = csrf_token(admin.get("/administration/comptes/").get_data(as_text=True))
    asked = admin.post("/administration/comptes/actions",
                       data={"csrf_token": token, "ids": [zoe.id, lucas.id],
                             "action": "mot_de_passe", "retour": "/administration/comptes/"})
    page = html(asked)
    assert asked.status_code == 200
    assert "Donner un nouveau mot de passe à 2 comptes" in page.one("h1").text
    assert "Zoé Le Gall (zoe.le-gall)" in page.text
    assert account(app, "zoe.le-gall").password_hash == zoe.password_hash
    form = page.one("form", action="/administration/comptes/actions")
    data = [(i.attrs["name"], i.attrs["value"]) for i in form.all("input")]
    done = admin.post("/administration/comptes/actions", data=MultiDict(data))
    assert done.status_code == 200 and "login-sheet" in done.get_data(as_text=True)
    assert account(app, "zoe.le-gall").password_hash != zoe.password_hash
    assert account(app, "lucas.martin").password_hash != lucas.password_hash


def test_reset_by_mail_to_the_verified_redirect(admin, app):
    claire = account(app, "claire.bernard")
    response = post_form(admin, f"/administration/comptes/{claire.id}/mot-de-passe",
                         {"mode": "envoyer", "confirme": "1"},
                         page=f"/administration/comptes/{claire.id}", follow_redirects=True)
    assert "1 mot de passe envoyé par courriel." in messages(html(response))
    with app.app_context():
        assert db.session.scalar(select(OutboundEntry.id).where(
            OutboundEntry.address == "claire.bernard@example.net"))
    assert account(app, "claire.bernard").must_change_password


def test_reset_by_mail_without_address_says_print_a_sheet(admin, app):
    zoe = account(app, "zoe.le-gall")
    response = post_form(admin, f"/administration/comptes/{zoe.id}/mot-de-passe",
                         {"mode": "envoyer"}, page=f"/administration/comptes/{zoe.id}",
                         follow_redirects=True)
    assert "pas d'adresse de redirection vérifiée" in " ".join(messages(html(response)))
    assert not account(app, "zoe.le-gall").must_change_password


def test_printable_sheet_gives_a_working_password(admin, app):
    zoe = account(app, "zoe.le-gall")
    asked = html(admin.get(f"/administration/comptes/{zoe.id}/fiche"))
    assert "le mot de passe actuel de zoe.le-gall cessera de fonctionner" in asked.text
    assert account(app, "zoe.le-gall").password_hash == zoe.password_hash
    page = html(post_form(admin, f"/administration/comptes/{zoe.id}/fiche", {},
                          page=f"/administration/comptes/{zoe.id}"))
    assert page.one("dd", class_="sheet-login").text == "zoe.le-gall"
    password = page.one("dd", class_="sheet-password").text
    fresh = app.test_client()
    response = post_form(fresh, "/connexion", {"login": "zoe.le-gall", "password": password})
    assert response.status_code == 302
    assert fresh.get("/").headers["Location"].endswith("/mot-de-passe")


def test_delete_states_what_happens_then_erases(admin, app):
    lucas = account(app, "lucas.martin")
    page = html(admin.get(f"/administration/comptes/{lucas.id}/suppression"))
    said = page.one("ul", class_="consequences").text
    assert "Sa boîte aux lettres est effacée" in said
    assert "lucas.martin@ent.test n'est jamais réattribuée" in said
    post_form(admin, f"/administration/comptes/{lucas.id}/suppression", {},
              page=f"/administration/comptes/{lucas.id}/suppression")
    assert account(app, "lucas.martin") is None


def test_a_school_admin_withdraws_a_teacher_of_two_schools_rather_than_erase_him(
        school_admin, app):
    from directory.models import School

    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        other = db.session.scalar(select(School).where(School.uai == "0310002C"))
        claire.schools.append(other)
        db.session.commit()
        url, other_name = f"/administration/comptes/{claire.id}/suppression", other.name
    page = html(school_admin.get(url))
    assert "Retirer Claire Bernard de votre établissement" in page.one("h1").text
    assert other_name in page.text and "Supprimer définitivement" not in page.text
    response = post_form(school_admin, url, {}, page=url, follow_redirects=True)
    assert ("Claire Bernard est retiré de votre établissement ; son compte reste dans les "
            "autres.") in messages(html(response))
    kept = account(app, "claire.bernard")
    assert kept is not None
    with app.app_context():
        assert [s.uai for s in db.session.get(Account, kept.id).schools] == ["0310002C"]
    assert school_admin.get(url).status_code == 404


def test_deleting_an_account_erases_the_messages_only_its_mailbox_held(admin, app):
    """Its drafts and what it alone received go with it (with their attachments' blobs); a
    message someone else also holds stays, for them."""
    with app.app_context():
        lucas, zoe = helpers.account("lucas.martin"), helpers.account("zoe.le-gall")
        alone = routing.route(zoe, [lucas.id], helpers.message(
            "zoe.le-gall", ["lucas.martin"], "Pour Lucas seul",
            files=(("devoir.pdf", "application/pdf", b"%PDF-1.4 rien que pour lui"),)),
            save_copy=False).message_id
        shared = routing.route(zoe, [lucas.id], helpers.message(
            "zoe.le-gall", ["lucas.martin"], "Copie gardée par Zoé")).message_id
        draft = db.session.get(MailboxItem, mailbox.save_draft(lucas, helpers.message(
            "lucas.martin", ["zoe.le-gall"], "Brouillon de Lucas"))).message_id
        db.session.commit()
        blobs = set(db.session.scalars(select(MailAttachment.blob_sha256)
                                       .where(MailAttachment.message_id == alone)))
        assert blobs
    post_form(admin, f"/administration/comptes/{person(app, 'lucas.martin')}/suppression", {},
              page=f"/administration/comptes/{person(app, 'lucas.martin')}/suppression")
    with app.app_context():
        left = set(db.session.scalars(select(MailMessage.id).where(
            MailMessage.id.in_([alone, shared, draft]))))
        assert left == {shared}
        assert db.session.scalars(select(MailBlob.sha256)
                                  .where(MailBlob.sha256.in_(blobs))).all() == []


def test_edit_names_class_redirect_and_children(admin, app):
    joseph = account(app, "joseph.fabre")
    response = post_form(admin, f"/administration/comptes/{joseph.id}",
                         {"prenom": "José", "nom": "Fabre", "profil": "parent", "classe": "",
                          "redirection": "joseph@example.org",
                          "enfants": "zoe.le-gall\nlucas.martin"},
                         page=f"/administration/comptes/{joseph.id}", follow_redirects=True)
    page = html(response)
    assert "Compte de José Fabre enregistré." in messages(page)
    assert "Lucas Martin (lucas.martin)" in page.text
    unknown = post_form(admin, f"/administration/comptes/{joseph.id}",
                        {"prenom": "José", "nom": "Fabre", "profil": "parent", "classe": "",
                         "redirection": "", "enfants": "personne.inconnue"},
                        page=f"/administration/comptes/{joseph.id}")
    assert unknown.status_code == 400
    assert "« personne.inconnue »" in " ".join(messages(html(unknown)))
    assert account(app, "joseph.fabre").redirect_address == "joseph@example.org"


def test_a_school_admin_edits_a_parent_of_two_schools_without_touching_the_other_child(
        school_admin, app):
    """Joseph has a child in each school: the administrator of the first sees and edits only
    hers; saving (even after removing hers) keeps the other school's link, and its classes
    are not offered."""
    from directory.models import AccountSchool, Group, ParentLink, School

    with app.app_context():
        other = db.session.scalar(select(School).where(School.uai == "0310002C"))
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        child = db.session.scalar(select(Account).join(
            AccountSchool, AccountSchool.account_id == Account.id).where(
            AccountSchool.school_id == other.id, Account.profile == "student").limit(1))
        db.session.add_all([AccountSchool(account_id=joseph.id, school_id=other.id),
                            ParentLink(parent_id=joseph.id, child_id=child.id)])
        db.session.commit()
        joseph_id, child_id, child_login = joseph.id, child.id, child.login
        other_classes = {str(g) for g in db.session.scalars(select(Group.id).where(
            Group.school_id == other.id))}
    url = f"/administration/comptes/{joseph_id}"
    page = html(school_admin.get(url))
    assert page.one("textarea", name="enfants").text == "zoe.le-gall"
    assert not other_classes & {o.attrs["value"] for o in page.one(
        "select", name="classe").all("option")}
    fields = {"prenom": "Joseph", "nom": "Fabre", "profil": "parent", "classe": "",
              "redirection": "joseph@example.org"}
    saved = post_form(school_admin, url, {**fields, "enfants": "zoe.le-gall"})
    assert saved.status_code == 303
    removed = post_form(school_admin, url, {**fields, "enfants": ""})
    assert removed.status_code == 303
    with app.app_context():
        links = set(db.session.scalars(select(ParentLink.child_id).where(
            ParentLink.parent_id == joseph_id)))
    assert links == {child_id}, child_login


def test_create_by_hand_with_the_nomenclature(admin, app):
    school = school_id(app, "0310024H")
    data = {"etablissement": str(school), "prenom": "Victor", "nom": "Blondel",
            "profil": "teacher", "redirection": "", "envoi": "saisir",
            "mot_de_passe": "faible"}
    weak = post_form(admin, "/administration/comptes/nouveau", data)
    assert weak.status_code == 400
    assert "au moins 8 caractères" in " ".join(messages(html(weak)))
    data["mot_de_passe"] = "Bonjour-2026"
    response = post_form(admin, "/administration/comptes/nouveau", data, follow_redirects=True)
    assert "Compte créé : identifiant 0310024h.v.blondel." in messages(html(response))
    again = post_form(admin, "/administration/comptes/nouveau", data, follow_redirects=True)
    assert "identifiant 0310024h.v.blondel2." in " ".join(messages(html(again)))


def test_export_neutralises_formulas(admin, app):
    lucas = account(app, "lucas.martin")
    post_form(admin, f"/administration/comptes/{lucas.id}",
              {"prenom": "=1+1", "nom": "@Martin", "profil": "student", "classe": "",
               "redirection": "", "enfants": ""}, page=f"/administration/comptes/{lucas.id}")
    assert account(app, "lucas.martin").first_name == "=1+1"
    response = admin.get("/administration/comptes/export.csv?nom=martin")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[0][:3] == ["Identifiant", "Nom", "Prénom"]
    lucas_row = next(row for row in rows if row[0] == "lucas.martin")
    assert lucas_row[1:3] == ["'@Martin", "'=1+1"]
    assert rows[0][-1] == "Dernier jour d'accès" and lucas_row[-1] == ""


def test_the_export_holds_every_account_with_its_classes_however_many(admin, app,
                                                                    monkeypatch):
    """Written while read, a chunk at a time (here 50 accounts, so many chunks): every
    account once, in name order, none left out past a limit."""
    from directory.search import classes_by_account
    from portal.admin import accounts

    monkeypatch.setattr(accounts, "EXPORT_CHUNK", 50)
    response = admin.get("/administration/comptes/export.csv")
    assert response.is_streamed and response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))[1:]
    with app.app_context():
        everyone = db.session.execute(select(Account.id, Account.login)
                                      .order_by(Account.search_name, Account.id)).all()
        classes = classes_by_account([account_id for account_id, _ in everyone])
    assert len(everyone) > 10 * 50
    assert [row[0] for row in rows] == [login for _, login in everyone]
    expected = {login: ", ".join(classes.get(account_id, [])) for account_id, login in everyone}
    assert {row[0]: row[4] for row in rows} == expected
    assert any(expected.values())


def test_the_export_gives_the_last_day_of_access_as_the_import_reads_it(admin, app):
    from datetime import date

    from directory.account_file import read_account_file
    from directory.clock import end_of_local_day

    zoe = account(app, "zoe.le-gall")
    with app.app_context():
        db.session.get(Account, zoe.id).access_ends_at = end_of_local_day(date(2099, 6, 30))
        db.session.commit()
    exported = admin.get("/administration/comptes/export.csv?nom=le+gall").get_data()
    (row,) = [r for r in read_account_file(exported).rows if r.first_name == "Zoé"]
    assert row.access_end == "30/06/2099"


def upload(client, app, data: bytes, *, name="eleves.csv", create_classes=False):
    page = client.get("/administration/import").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "etablissement": str(school_id(app, "0310024H")),
            "fichier": (io.BytesIO(data), name)}
    if create_classes:
        form["creer_classes"] = "y"
    return client.post("/administration/import", data=form,
                       content_type="multipart/form-data")


def test_a_long_files_preview_is_paged_and_its_errors_found_apart(admin, app):
    """A school's file may hold tens of thousands of rows: the preview showed them all in one
    page. Now 500 a page, and the rows in error on their own."""
    rows = [[f"Nom{n:04d}", "Élève", "Élève", "4A", "", ""] for n in range(1, 1201)]
    rows[700][2] = "Chef"                           # line 702: an unknown profile
    response = upload(admin, app, excel_fr(rows))
    assert response.status_code == 303
    url = response.headers["Location"]

    def lines(query: str = "") -> list[str]:
        page = html(admin.get(url + query))
        return [tr.all("td")[0].text for tr in
                page.one("table", class_="import-preview").one("tbody").all("tr")]

    first = lines()
    assert len(first) == 500 and first[0] == "2"
    assert lines("?page=3") == [str(n) for n in range(1002, 1202)]
    assert admin.get(url + "?page=4").status_code == 404
    assert lines("?erreurs=1") == ["702"]


def test_upload_preview_apply_and_print_sheets(admin, app):
    data = excel_fr([["Blondel", "Victor", "Élève", "4A", "", ""],
                     ["Blondel", "Véra", "Parent", "", "vera@example.org", ""],
                     ["Sans", "Profil", "Chef", "", "", ""]])
    response = upload(admin, app, data)
    assert response.status_code == 303
    preview = html(admin.get(response.headers["Location"]))
    rows = [[td.text for td in tr.all("td")] for tr in
            preview.one("table", class_="import-preview").one("tbody").all("tr")]
    assert rows[0][4:6] == ["création", "0310024h.v.blondel"]
    assert rows[2][4] == "erreur" and "profil inconnu « Chef »" in rows[2][6]
    assert account(app, "0310024h.v.blondel") is None            # nothing written yet
    form = preview.one("form", id="apply-import")
    result = admin.post(form.attrs["action"],
                        data={"csrf_token": csrf_token(admin.get(
                            response.headers["Location"]).get_data(as_text=True))},
                        follow_redirects=True)
    page = html(result)
    assert page.one("p", class_="import-summary").text == \
        "2 créés, 0 modifiés, 1 ligne en erreur non importée."
    assert account(app, "0310024h.v.blondel") is not None
    sheets = html(post_form(admin, page.one("form", action=form.attrs["action"].replace(
        "appliquer", "fiches")).attrs["action"], {}, page=result.request.path))
    assert "0310024h.v.blondel" in [d.text for d in sheets.all("dd", class_="sheet-login")]
    # the applied file (it may hold passwords) is erased; its preview now shows the result
    with app.app_context():
        assert db.session.scalar(select(AccountImport.content).where(
            AccountImport.finished_at.is_not(None))) == b""
    assert admin.get(response.headers["Location"]).headers["Location"].endswith("/resultat")
    again = upload(admin, app, data)
    preview = html(admin.get(again.headers["Location"]))
    assert preview.one("strong", data_fate="unchanged").text == "2"
    assert preview.one("strong", data_fate="create").text == "0"


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["mot de passe trop faible : 8 caractères au moins, dont une minuscule, une majuscule "
            "et un caractère non alphanumérique", "doublon de la ligne 2"]),
    ("en", ["password too weak: 8 characters or more, including a lowercase letter, an "
            "uppercase letter and a non-alphanumeric character", "duplicate of line 2"]),
])
def test_a_rows_reasons_are_worded_in_the_readers_language(admin, app, language, expected):
    post_form(admin, f"/langue/{language}", {"next": "/"}, page="/")
    data = excel_fr([["Blondel", "Victor", "Élève", "4A", "", "Solide-2026"],
                     ["Blondel", "Victor", "Élève", "4A", "", "faible"]])
    preview = html(admin.get(upload(admin, app, data).headers["Location"]))
    rows = [[td.text for td in tr.all("td")] for tr in
            preview.one("table", class_="import-preview").one("tbody").all("tr")]
    assert rows[1][6].split(" ; ") == expected
    assert "Solide-2026" not in preview.text


@pytest.mark.parametrize(("language", "unreadable", "change"), [
    ("fr", "date de fin d'accès illisible « 31/06/2027 » (attendu : jj/mm/aaaa)",
     ["modification", "zoe.le-gall", "fin d'accès"]),
    ("en", "unreadable end of access “31/06/2027” (expected: dd/mm/yyyy)",
     ["update", "zoe.le-gall", "end of access"]),
])
def test_the_last_day_of_access_in_the_preview(admin, app, language, unreadable, change):
    post_form(admin, f"/langue/{language}", {"next": "/"}, page="/")
    data = excel_fr([["Le Gall", "Zoé", "Élève", "", "30/06/2099"],
                     ["Blondel", "Victor", "Élève", "", "31/06/2027"]],
                    header=("Nom", "Prénom", "Profil", "Classe", "Fin d'accès"))
    preview = html(admin.get(upload(admin, app, data).headers["Location"]))
    rows = [[td.text for td in tr.all("td")] for tr in
            preview.one("table", class_="import-preview").one("tbody").all("tr")]
    assert rows[0][4:7] == change
    assert rows[1][6] == unreadable


def test_batch_endpoint_reports_progress(admin, app):
    rows = [[f"Nom{n}", f"Prénom{n}", "Élève", "4A", f"n{n}@example.org", ""]
            for n in range(3)]
    location = upload(admin, app, excel_fr(rows)).headers["Location"]
    token = csrf_token(admin.get(location).get_data(as_text=True))
    state = admin.post(location + "/lot", data={"csrf_token": token}).get_json()
    assert (state["done"], state["total"], state["finished"], state["created"]) == (3, 3, True, 3)
    assert admin.post(location + "/lot").status_code == 400        # no CSRF token


@pytest.mark.parametrize(("data", "name", "expected"), [
    (b"PK\x03\x04\x14\x00 workbook", "eleves.csv", "pas un fichier CSV"),
    (b"", "vide.csv", "Le fichier est vide."),
    (b"Nom;Profil\r\nDupont;Eleve\r\n", "x.csv", "« prénom » manque"),
])
def test_unreadable_upload_is_refused_with_one_sentence_and_kept_nowhere(admin, app, data,
                                                                         name, expected):
    response = upload(admin, app, data, name=name)
    assert response.status_code == 400
    assert expected in " ".join(messages(html(response)))
    with app.app_context():
        assert db.session.scalar(select(AccountImport.id)) is None


def test_another_schools_upload_is_not_found(school_admin, app, logged_in):
    with app.app_context():
        from directory.account_admin import keep_upload
        from directory.accounts import school_by_uai

        kept = keep_upload(db.session.scalar(select(Account).where(Account.login == "admin")),
                           school_by_uai("0310002C"), "x.csv", b"a", False)
        db.session.commit()
        kept_id = kept.id
    assert school_admin.get(f"/administration/import/{kept_id}").status_code == 404


def test_region_admin_appoints_a_school_admin_who_then_administers(admin, app, logged_in):
    paul = account(app, "paul.durand")
    post_form(admin, f"/administration/comptes/{paul.id}",
              {"prenom": "Paul", "nom": "Durand", "profil": "staff", "classe": "",
               "redirection": "", "enfants": "", "admin_etablissement": "y"},
              page=f"/administration/comptes/{paul.id}")
    assert account(app, "paul.durand").is_school_admin
    admin.post("/deconnexion", data={"csrf_token": csrf_token(
        admin.get("/").get_data(as_text=True))})
    paul_client = logged_in("paul.durand")
    assert "Administration" in html(paul_client.get("/")).one("nav").text
    zoe = account(app, "zoe.le-gall")
    page = html(paul_client.get(f"/administration/comptes/{zoe.id}"))
    assert "Administrateur des comptes" not in page.text    # only a region admin appoints
