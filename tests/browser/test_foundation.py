"""The foundation as a person meets it: log in, see the home page and the services, set a
redirect address in Préférences, log out — in a real Chromium, with an accessibility check on
each page."""
from __future__ import annotations

from tests.browser.conftest import axe_check, browser_login


def test_login_page_is_french_and_accessible(page):
    page.goto("/connexion")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Connexion à Préau"
    axe_check(page)
    assert page.problems.errors == []


def test_wrong_password_shows_a_clear_message(page):
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill("zoe.le-gall")
    page.get_by_label("Mot de passe").fill("pas le bon")
    page.get_by_role("button", name="Se connecter").click()
    assert "/connexion" in page.url
    assert "incorrect" in page.locator("main").inner_text()


def test_student_logs_in_and_sees_services(page):
    browser_login(page, "zoe.le-gall")
    main = page.locator("main").inner_text()
    assert "Bonjour Zoé" in main
    assert "zoe.le-gall@ent.test" in main
    navigation = page.get_by_role("navigation", name="Services")
    assert navigation.get_by_role("link", name="Préférences").is_visible()
    assert navigation.get_by_role("link", name="Administration").count() == 0
    axe_check(page)
    assert page.problems.errors == [] and page.problems.dialogs == []


def test_skip_link_moves_focus_to_content(page):
    browser_login(page, "zoe.le-gall")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    assert skip.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"


def test_teacher_sets_a_redirect_address_then_logs_out(page):
    browser_login(page, "claire.bernard")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Préférences").click()
    assert "claire.bernard@ent.test" in page.locator("main").inner_text()
    axe_check(page)
    page.get_by_label("Adresse de redirection").fill("claire.nouvelle@example.net")
    page.get_by_label("Mot de passe actuel").fill("Preau-demo-2026!")
    page.get_by_role("button", name="Envoyer le lien de vérification").click()
    main = page.locator("main").inner_text()
    assert "En attente de vérification : claire.nouvelle@example.net" in main
    assert "claire.bernard@example.net (vérifiée)" in main
    page.get_by_role("button", name="Se déconnecter", exact=True).click()
    assert "/connexion" in page.url
    page.goto("/preferences/")
    assert "/connexion" in page.url
    assert page.problems.errors == []


def test_logging_out_of_every_device_from_the_preferences(page, browser, live_server):
    """Paul is logged in on a second device too; from Préférences he ends both sessions."""
    phone = browser.new_context(base_url=live_server, locale="fr-FR").new_page()
    browser_login(phone, "paul.durand")
    browser_login(page, "paul.durand")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Préférences").click()
    page.get_by_role("button", name="Se déconnecter de tous les appareils").click()
    assert "/connexion" in page.url
    assert "Vous êtes déconnecté de tous les appareils." in page.locator("main").inner_text()
    phone.goto("/")
    assert "/connexion" in phone.url
    phone.context.close()
    assert page.problems.errors == []
