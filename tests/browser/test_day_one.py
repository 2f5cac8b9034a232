"""What each demo account meets on day one, in Chromium: the home page's sections, Groupes in
the bar, a typed recipient chosen from the suggestions, the sent page's copy notice, the
parents of a class in the Annuaire, « Mot de passe oublié ? », the remote-images notice —
with an accessibility check on each new page."""
from __future__ import annotations

import re
import time
import uuid

from tests.browser.conftest import axe_check, browser_login
from tests.conftest import DEMO_PASSWORD
from tests.portal.messagerie_helpers import deliver
from tests.portal.test_password_reset import reset_links


def unique(subject: str) -> str:
    return f"{subject} {uuid.uuid4().hex[:6]}"


def sections(page) -> list[str]:
    return page.locator("section.home-section h2").all_inner_texts()


def test_every_account_lands_on_the_portal_home(page):
    for login in ("zoe.le-gall", "joseph.fabre", "claire.bernard", "paul.durand", "admin"):
        page.context.clear_cookies()
        browser_login(page, login)
        assert sections(page) == ["Messagerie", "Prochains évènements", "Derniers articles"]
        bar = page.get_by_role("navigation", name="Services")
        assert (bar.get_by_role("link", name="Groupes").count() == 1) is \
            (login in ("claire.bernard", "admin")), login
        assert "ENTClasse" not in page.content()
    axe_check(page)
    assert page.problems.errors == []


def test_zoe_types_a_name_picks_the_suggestion_and_sends(page, live_app):
    subject = unique("Exposé")
    deliver(live_app, "lucas.martin", ["zoe.le-gall"], subject)
    browser_login(page, "zoe.le-gall")
    mail = page.get_by_role("region", name="Messagerie")
    assert re.search(r"\d+ messages? non lus?", mail.inner_text())
    # Among the latest, not necessarily first: a test that travels in time (communications)
    # may have left Zoé a message dated later.
    assert mail.get_by_role("listitem").filter(has_text=subject).count() == 1

    page.get_by_role("link", name="Écrire un message").first.click()
    typed = page.get_by_label("Nom ou adresse d'une personne")
    typed.press_sequentially("luc", delay=30)
    option = page.locator("#saisie-suggestions option[value='Lucas Martin <lucas.martin@ent.test>']")
    option.wait_for(state="attached")
    axe_check(page)
    typed.fill("Lucas Martin <lucas.martin@ent.test>")          # what choosing it does
    chips = page.locator("#recipients-to")
    assert "Lucas Martin" in chips.inner_text()
    assert typed.input_value() == ""
    assert page.locator("#recipient-count").inner_text() == "1 destinataire sur 50 au plus"
    assert "ajouté(e) aux destinataires" in page.locator("#typed-status").inner_text()

    page.get_by_label("Objet").fill("Re: " + subject)
    page.get_by_label("Message", exact=True).fill("Je prends la partie 2.")
    page.get_by_label("Enregistrer une copie dans Messages envoyés").uncheck()
    page.get_by_role("button", name="Envoyer", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Résultat de l'envoi"
    assert "Une copie est enregistrée" not in page.locator("main").inner_text()
    assert page.problems.errors == []


def test_letters_typed_before_the_script_ran_still_bring_suggestions(page):
    """messagerie.js is deferred: on a slow line the field is there before the script listens.
    What was typed meanwhile is asked for as soon as it runs."""
    browser_login(page, "zoe.le-gall")
    held = []

    def hold(route):
        held.append(route)

    page.route("**/static/messagerie.js*", hold)
    page.goto("/messagerie/ecrire", wait_until="commit")
    typed = page.get_by_label("Nom ou adresse d'une personne")
    typed.press_sequentially("luc", delay=30)
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].continue_()
    option = page.locator("#saisie-suggestions option[value='Lucas Martin <lucas.martin@ent.test>']")
    option.wait_for(state="attached")
    assert page.problems.errors == []


def test_enter_on_an_address_asks_the_server(page):
    browser_login(page, "zoe.le-gall")
    page.goto("/messagerie/ecrire")
    typed = page.get_by_label("Nom ou adresse d'une personne")
    typed.fill("personne.inconnue@ent.test")
    typed.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text() == \
        "Destinataire inconnu : personne.inconnue@ent.test."
    typed = page.get_by_label("Nom ou adresse d'une personne")
    typed.fill("lucas.martin@ent.test")
    typed.press("Enter")
    page.wait_for_load_state()
    assert "Lucas Martin" in page.locator("#recipients-to").inner_text()


def test_joseph_finds_the_parents_of_4a(page):
    browser_login(page, "joseph.fabre")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Annuaire").click()
    page.get_by_role("checkbox", name="Parent d'élève").check()
    page.get_by_label("Classe ou groupe").select_option(label="4A · Classe · 0310024H")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_load_state()      # the click returns once the results have started loading
    main = page.locator("main").inner_text()
    assert "Aucun résultat" not in main and "Fabre Joseph" in main
    assert page.locator("table.people tbody tr").count() > 5
    axe_check(page)


def test_a_forgotten_password_page_that_tells_nobody_who_exists(page):
    page.goto("/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    axe_check(page)
    assert "Élèves : demandez à votre professeur" in page.locator("main").inner_text()
    page.get_by_label("Identifiant").fill("personne.inconnue")
    page.get_by_role("button", name="Recevoir un lien").click()
    assert "Si cet identifiant correspond à un compte" in page.get_by_role("status").inner_text()
    axe_check(page)


def new_reset_links(app, address: str, before: int, seconds: float = 10) -> list[str]:
    """The reset links mailed to `address`, once there are more than `before`: the portal
    writes the mail just after its answer has been sent (portal/password_reset.py)."""
    deadline = time.monotonic() + seconds
    while len(links := reset_links(app, address)) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    return links


def test_joseph_resets_his_password_through_the_mailed_link(page, live_app):
    """The whole way: the link mailed to joseph@example.org (captured), a new password — the
    demo one again, since the live database serves the next tests —, then the link is spent."""
    before = len(reset_links(live_app, "joseph@example.org"))
    page.goto("/mot-de-passe-oublie/")
    page.get_by_label("Identifiant").fill("joseph.fabre")
    page.get_by_role("button", name="Recevoir un lien").click()
    assert "Si cet identifiant correspond" in page.get_by_role("status").inner_text()
    links = new_reset_links(live_app, "joseph@example.org", before)
    assert len(links) == before + 1
    page.goto(links[-1])
    axe_check(page)
    page.get_by_label("Nouveau mot de passe").fill(DEMO_PASSWORD)
    page.get_by_label("Confirmation").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Enregistrer").click()
    assert "Votre mot de passe a été changé" in page.get_by_role("status").first.inner_text()
    browser_login(page, "joseph.fabre")
    page.context.clear_cookies()
    page.goto(links[-1])
    assert "Ce lien a déjà servi" in page.get_by_role("alert").inner_text()


def test_remote_images_are_hidden_with_a_notice(page, live_app):
    subject = unique("Lettre illustrée")
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], subject, "Texte",
            html='<p>Bonjour</p><img src="https://images.example/photo.png" alt="photo">')
    browser_login(page, "zoe.le-gall")
    page.goto("/messagerie/")
    page.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    notice = page.locator("p.remote-images")
    assert notice.inner_text().startswith("Images distantes masquées — Afficher les images")
    notice.get_by_role("link", name="Afficher les images").click()
    assert page.locator("p.remote-images").inner_text().startswith("Images distantes affichées")
