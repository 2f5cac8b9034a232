"""The recipient picker's dialog when the server answers with something else than the picker:
the login page once the session has ended is never shown inside the dialog, and no password
ever travels in an address (the dialog's search handler used to send any form in it as a GET);
an error page while the session holds gives way to the picker's path without JavaScript, which
saves the message being written as a draft first."""
from __future__ import annotations

from portal.messagerie.recipients import MAX_CHIPS
from tests.browser.conftest import browser_login
from tests.conftest import DEMO_PASSWORD


def addresses_asked(page) -> list[str]:
    """Every address the page's context asks for from now on (pages, fetches, files)."""
    asked: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))
    return asked


def open_picker(page, subject: str = "", start: str = "/messagerie/ecrire", body: str = ""):
    page.goto(start)
    page.get_by_label("Objet").fill(subject)
    page.get_by_role("textbox", name="Message").fill(body)
    page.get_by_role("button", name="Ajouter un destinataire").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Nom ou prénom").wait_for()
    return dialog


def log_out_in_another_page(page):
    elsewhere = page.context.new_page()
    elsewhere.goto("/")
    elsewhere.get_by_role("button", name="Se déconnecter").click()
    assert elsewhere.get_by_role("heading", level=1).inner_text() == "Connexion à Préau"
    elsewhere.close()


def test_a_search_in_the_picker_after_logging_out_elsewhere_leads_back_to_the_message(page):
    """The session is over: nothing posted now could be kept (its CSRF token is gone with
    it). The window goes to the login page, whose `next` brings the writer back to the
    message as it was last saved."""
    asked = addresses_asked(page)
    browser_login(page, "claire.bernard")
    page.goto("/messagerie/ecrire")
    page.get_by_label("Objet").fill("Sortie au musée")
    page.get_by_role("button", name="Enregistrer le brouillon").last.click()
    draft_address = page.url
    assert "brouillon=" in draft_address
    dialog = open_picker(page, "Sortie au musée, jeudi", start=draft_address)

    log_out_in_another_page(page)

    dialog.get_by_label("Nom ou prénom").fill("fabre")
    dialog.get_by_role("button", name="Rechercher").click()
    page.wait_for_url("**/connexion?next=*", timeout=5_000)
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Connexion à Préau"
    assert page.locator("dialog").count() == 0
    assert page.locator("input[type=password]").count() == 1

    page.get_by_label("Identifiant").fill("claire.bernard")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Écrire un message"
    assert page.url == draft_address
    assert page.get_by_label("Objet").input_value() == "Sortie au musée"
    assert [url for url in asked if "password=" in url] == []
    assert page.problems.errors == [] and page.problems.dialogs == []


def test_an_error_page_in_the_picker_keeps_the_message_as_a_draft(page):
    """The session holds but the picker answers with an error page (here the 400 for more
    `ajout` values than a form may hold): the dialog closes and the compose form goes the
    way it goes without JavaScript, saved as a draft, then to the picker's page; « Revenir au
    message » finds the subject, the body and the chip added in the dialog."""
    asked = addresses_asked(page)
    browser_login(page, "claire.bernard")
    dialog = open_picker(page, "Sortie", body="Départ à 8 h.")
    dialog.get_by_label("Nom ou prénom").fill("fabre")
    dialog.get_by_role("button", name="Rechercher").click()
    dialog.get_by_role("link", name="Ajouter : Joseph Fabre").click()
    page.evaluate("""(count) => {
        const search = document.querySelector("#picker-dialog form.picker-search");
        for (let i = 0; i < count; i++) {
            const input = document.createElement("input");
            input.type = "hidden";
            input.name = "ajout";
            input.value = "to:p:1";
            search.appendChild(input);
        }
    }""", MAX_CHIPS + 1)
    with page.expect_response(lambda response: "fragment=1" in response.url) as answered:
        dialog.get_by_role("button", name="Rechercher").click()
    assert answered.value.status == 400
    page.wait_for_url("**/messagerie/destinataires?*brouillon=*", timeout=5_000)
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Ajouter des destinataires"
    assert page.locator("dialog[open]").count() == 0

    page.get_by_role("link", name="Revenir au message").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Écrire un message"
    assert page.get_by_label("Objet").input_value() == "Sortie"
    assert page.get_by_role("textbox", name="Message").input_value() == "Départ à 8 h."
    assert "Joseph Fabre" in page.locator("#recipients-to").inner_text()
    assert [url for url in asked if "password=" in url] == []
    assert page.problems.dialogs == []


def test_the_dialog_sends_only_the_pickers_own_search_itself(page):
    """A form in the dialog that is not the picker's search (a POST here) is left to the
    browser, sent as it is written: its fields never end up in an address."""
    browser_login(page, "claire.bernard")
    dialog = open_picker(page)
    page.evaluate("""() => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/connexion";
        form.innerHTML = '<input name="login" value="claire.bernard">'
            + '<input type="password" name="password" value="secret-de-test">'
            + '<button type="submit">Envoyer le formulaire</button>';
        document.querySelector("#picker-dialog .picker-content").appendChild(form);
    }""")
    asked = addresses_asked(page)
    with page.expect_request(lambda request: "/connexion" in request.url) as sent:
        dialog.get_by_role("button", name="Envoyer le formulaire").click()
    assert sent.value.method == "POST"
    assert "password=secret-de-test" in (sent.value.post_data or "")
    page.wait_for_load_state()
    assert [url for url in asked if "password=" in url] == []


def test_a_search_with_a_mistake_keeps_its_answer_in_the_dialog(page):
    """The picker answers a mistake with its own fragment and a 400: that stays in the dialog,
    the message being written stays on the page."""
    browser_login(page, "claire.bernard")
    dialog = open_picker(page, "Sortie")
    dialog.get_by_label("Nom ou prénom").fill("!!")
    with page.expect_response(lambda response: "fragment=1" in response.url) as answered:
        dialog.get_by_role("button", name="Rechercher").click()
    assert answered.value.status == 400
    dialog.get_by_text("Saisissez au moins une lettre ou un chiffre.").wait_for()
    assert page.url.endswith("/messagerie/ecrire")
    assert page.get_by_label("Objet").input_value() == "Sortie"
