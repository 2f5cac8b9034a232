"""What the reviews of the mail path and of authentication found in the directory's account
rules (each test fails without its fix): a name with a line break (a spreadsheet cell typed
with Alt+Enter) broke every message naming it; a redirect address at Préau's own domain was
refused in Préférences only, while an administrator's edit, creation by hand and the import
saved it as verified; and on SQLite, the browser of a deleted account opened the next account
given its id."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.accounts import create_account
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from tests.conftest import login, page_text, post_form
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html, messages, school_id
from .test_admin_accounts import account, upload
from .test_preferences import redirect_state, request_address

HEADER = "Nom;Prénom;Profil;Classe;Courriel;Mot de passe"
NAME_REFUSED = ("Le nom et le prénom ne peuvent contenir ni retour à la ligne ni caractère de "
                "contrôle.")
INSIDE_DOMAIN = "ent.example.fr"
INSIDE_REFUSED = ("L'adresse de redirection doit être extérieure à Préau (pas une adresse "
                  "@ent.example.fr).")
NEW = "/administration/comptes/nouveau"


def _preview_rows(client, app, data: bytes) -> tuple[str, list[list[str]]]:
    """Upload `data`: the preview's URL and its rows as read."""
    response = upload(client, app, data)
    assert response.status_code == 303
    url = response.headers["Location"]
    preview = html(client.get(url))
    return url, [[td.text for td in tr.all("td")] for tr in
                 preview.one("table", class_="import-preview").one("tbody").all("tr")]


def _apply(client, url: str) -> str:
    """Apply a previewed file; the result's summary."""
    result = post_form(client, url + "/appliquer", {}, page=url, follow_redirects=True)
    return html(result).one("p", class_="import-summary").text


def _accounts_named(app, last_name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Account)
                                 .where(Account.last_name == last_name))


def _new_account(client, app, **fields):
    data = {"etablissement": str(school_id(app, "0310024H")), "prenom": "Marie",
            "nom": "Chardon", "profil": "parent", "redirection": "", "envoi": "saisir",
            "mot_de_passe": "Bonjour-2026", **fields}
    return post_form(client, NEW, data)


# smtp 2: names with a line break or another control character ----------------------------------

BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x1b", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("sep", BREAKS)
def test_an_imported_row_whose_quoted_cell_holds_a_line_break_is_an_error(admin, app, sep):
    """« "Marie<LF>Claire" »: the cell of a spreadsheet typed with Alt+Enter, quoted as every
    spreadsheet quotes it; the name then went into every message's From or To."""
    data = (f'{HEADER}\r\n"Chardon";"Marie{sep}Claire";Parent;;;\r\n'
            'Chardon;Victor;Élève;4A;;\r\n').encode()
    url, rows = _preview_rows(admin, app, data)
    assert rows[1][4] == "création"                    # the file was read, the other row too
    assert rows[0][4] == "erreur"
    assert NAME_REFUSED in rows[0][6]
    assert _apply(admin, url) == "1 créé, 0 modifiés, 1 ligne en erreur non importée."
    with app.app_context():
        assert db.session.scalars(select(Account.first_name)
                                  .where(Account.last_name == "Chardon")).all() == ["Victor"]


@pytest.mark.parametrize("sep", ["\r\nBcc: x@example.org", "\n", "\u2028", "\x85", "\t"])
def test_the_admin_form_refuses_a_name_with_a_line_break_and_saves_nothing(admin, app, sep):
    joseph = account(app, "joseph.fabre")
    url = f"/administration/comptes/{joseph.id}"
    refused = post_form(admin, url, {"prenom": f"Joseph{sep}", "nom": "Fa" + sep + "bre",
                                     "profil": "parent", "classe": "",
                                     "redirection": joseph.redirect_address or "",
                                     "enfants": "zoe.le-gall"})
    assert refused.status_code == 400
    assert NAME_REFUSED in messages(html(refused))
    kept = account(app, "joseph.fabre")
    assert (kept.first_name, kept.last_name, kept.search_name) == \
        (joseph.first_name, joseph.last_name, joseph.search_name)


def test_creation_by_hand_refuses_a_name_with_a_line_break_and_creates_nothing(admin, app):
    refused = _new_account(admin, app, prenom="Marie\nClaire")
    assert refused.status_code == 400
    assert NAME_REFUSED in messages(html(refused))
    assert _accounts_named(app, "Chardon") == 0
    created = _new_account(admin, app, prenom="Marie-Claire")       # the form is not broken
    assert created.status_code == 303
    assert _accounts_named(app, "Chardon") == 1


def test_an_untouched_name_is_not_refused(admin, app):
    """A name stored before the rule is not the administrator's doing: saving the rest of the
    page keeps working (she may then correct it)."""
    with app.app_context():
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        joseph.first_name = "Jo\nseph"
        db.session.commit()
        joseph_id = joseph.id
    saved = post_form(admin, f"/administration/comptes/{joseph_id}",
                      {"prenom": "Jo\nseph", "nom": "Fabre", "profil": "parent", "classe": "",
                       "redirection": "joseph@example.org", "enfants": ""})
    assert saved.status_code == 303


# smtp 11 / auth 5: a redirect address inside Préau's own mail domain ---------------------------

@pytest.fixture
def inside_domain(app, monkeypatch):
    """A mail domain the e-mail field accepts (`ent.test` is a reserved name it refuses)."""
    monkeypatch.setitem(app.config["PREAU"], "MAIL_DOMAIN", INSIDE_DOMAIN)
    # the gateway's settings, cached from the configuration: read again, restored after
    monkeypatch.setitem(app.extensions, "mailgate.settings", None)


@pytest.mark.parametrize("address", ["x@ent.example.fr", "Claire.Bernard@ENT.Example.fr"])
def test_an_admin_edit_refuses_an_address_inside_preau_as_preferences_do(admin, app,
                                                                          inside_domain,
                                                                          address):
    joseph = account(app, "joseph.fabre")
    url = f"/administration/comptes/{joseph.id}"
    refused = post_form(admin, url, {"prenom": "Joseph", "nom": "Fabre", "profil": "parent",
                                     "classe": "", "redirection": address,
                                     "enfants": "zoe.le-gall"})
    assert refused.status_code == 400
    assert INSIDE_REFUSED in messages(html(refused))
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)
    # the very sentence Préférences gives the member himself
    himself = app.test_client()
    assert login(himself, "joseph.fabre").status_code == 302
    assert INSIDE_REFUSED in page_text(request_address(himself, address))


def test_creation_by_hand_refuses_an_address_inside_preau(admin, app, inside_domain):
    refused = _new_account(admin, app, redirection="marie@ent.example.fr")
    assert refused.status_code == 400
    assert INSIDE_REFUSED in messages(html(refused))
    assert _accounts_named(app, "Chardon") == 0
    created = _new_account(admin, app, redirection="marie@example.org")
    assert created.status_code == 303
    assert _accounts_named(app, "Chardon") == 1


def test_an_imported_email_inside_preau_is_an_error_in_the_preview(admin, app, inside_domain):
    url, rows = _preview_rows(admin, app, excel_fr([
        ["Chardon", "Marie", "Parent", "", "claire.bernard@ENT.example.fr", ""],
        ["Chardon", "Victor", "Parent", "", "victor@example.org", ""]]))
    assert rows[0][4] == "erreur" and INSIDE_REFUSED in rows[0][6]
    assert rows[1][4] == "création"
    assert _apply(admin, url) == "1 créé, 0 modifiés, 1 ligne en erreur non importée."
    with app.app_context():
        assert db.session.scalars(select(Account.redirect_address)
                                  .where(Account.last_name == "Chardon")).all() == \
            ["victor@example.org"]


def test_an_existing_accounts_email_changed_to_one_inside_preau_is_an_error(admin, app,
                                                                           inside_domain):
    url, rows = _preview_rows(admin, app, excel_fr([
        ["Fabre", "Joseph", "Parent", "", "joseph.fabre@ent.example.fr", ""]]))
    assert rows[0][4] == "erreur" and INSIDE_REFUSED in rows[0][6]
    _apply(admin, url)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)


# auth 3: an id given again on SQLite, with an old cookie -------------------------------------

@pytest.fixture
def keyless_account_browser(app, admin):
    """A browser logged in to an account whose cookie is « id: » (an account made before
    session keys, a demo account…), the account with the highest id; the account is then
    deleted by the administrator. Its id, and the browser."""
    with app.app_context():
        school = db.session.scalar(select(Account).where(
            Account.login == "claire.bernard")).schools[0]
        ancient = create_account(login="ancien.compte", first_name="Ancien", last_name="Compte",
                                 profile=Profile.TEACHER, password="Ancien-2026!",
                                 schools=[school])
        db.session.flush()
        ancient.session_key = None
        db.session.commit()
        ancient_id = ancient.id
        assert ancient_id == db.session.scalar(select(func.max(Account.id)))
    browser = app.test_client()
    assert login(browser, "ancien.compte", "Ancien-2026!").status_code == 302
    assert "Ancien Compte" in page_text(browser.get("/"))
    url = f"/administration/comptes/{ancient_id}/suppression"
    assert post_form(admin, url, {}).status_code == 303
    assert account(app, "ancien.compte") is None
    return ancient_id, browser


def _logged_out(browser) -> bool:
    response = browser.get("/")
    return response.status_code == 302 and \
        response.headers["Location"].startswith("/connexion")


def _same_id_on_sqlite(app, created_id: int, deleted_id: int) -> None:
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert created_id == deleted_id      # the case these tests are about


def test_a_deleted_accounts_browser_does_not_open_the_account_created_by_hand_after_it(
        admin, app, keyless_account_browser):
    deleted_id, browser = keyless_account_browser
    created = _new_account(admin, app)
    assert created.status_code == 303
    new = account(app, "0310024h.m.chardon")
    _same_id_on_sqlite(app, new.id, deleted_id)
    assert _logged_out(browser)


def test_a_deleted_accounts_browser_does_not_open_the_account_an_import_creates_after_it(
        admin, app, keyless_account_browser):
    deleted_id, browser = keyless_account_browser
    url, rows = _preview_rows(admin, app, excel_fr(
        [["Chardon", "Marie", "Parent", "", "marie@example.org", ""]]))
    assert rows[0][4] == "création"
    assert _apply(admin, url).startswith("1 créé,")
    new = account(app, "0310024h.m.chardon")
    _same_id_on_sqlite(app, new.id, deleted_id)
    assert _logged_out(browser)
