"""The recipient picker's dialog once the session has ended: the login page the server answers
with is shown as the page, never inside the dialog, and no password ever travels in an
address (the dialog's search handler used to send any form in it as a GET)."""
from __future__ import annotations

from tests.browser.conftest import browser_login
from tests.conftest import DEMO_PASSWORD


def addresses_asked(page) -> list[str]:
    """Every address the page's context asks for from now on (pages, fetches, files)."""
    asked: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))
    return asked


def open_picker(page, subject: str = ""):
    page.goto("/messagerie/ecrire")
    page.get_by_label("Objet").fill(subject)
    page.get_by_role("button", name="Ajouter un destinataire").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Nom ou prénom").wait_for()
    return dialog


def test_a_search_in_the_picker_after_logging_out_elsewhere_leads_to_the_login_page(page):
    asked = addresses_asked(page)
    browser_login(page, "claire.bernard")
    dialog = open_picker(page)

    elsewhere = page.context.new_page()
    elsewhere.goto("/")
    elsewhere.get_by_role("button", name="Se déconnecter").click()
    assert elsewhere.get_by_role("heading", level=1).inner_text() == "Connexion à Préau"
    elsewhere.close()

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
    assert page.get_by_role("heading", level=1).inner_text() == "Ajouter des destinataires"
    assert "Joseph Fabre" in page.locator("table.picker-people").inner_text()
    assert "fragment=" not in page.url
    assert [url for url in asked if "password=" in url] == []
    assert page.problems.errors == [] and page.problems.dialogs == []


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
