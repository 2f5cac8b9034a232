"""« Envoyer » clicked twice in Chromium sends the form once (messagerie.js), and the message
goes once; « Enregistrer le brouillon » still saves the draft."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from directory.db import db
from mailgate.models import MailMessage
from tests.browser.conftest import browser_login


def sent(live_app, subject: str) -> int:
    with live_app.app_context():
        return db.session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.subject == subject))


def write_to_lucas(page, subject: str) -> None:
    page.goto("/messagerie/ecrire")
    page.get_by_label("Nom ou adresse d'une personne").fill("lucas.martin@ent.test")
    page.get_by_role("button", name="Ajouter", exact=True).click()
    assert "Lucas Martin" in page.locator("#recipients-to").inner_text()
    page.get_by_label("Objet").fill(subject)
    page.get_by_label("Message", exact=True).fill("Une seule fois.")


def test_a_second_click_on_envoyer_sends_nothing_more(page, live_app):
    """Each submission the page's script lets go is recorded (and kept from leaving, so
    that the page stays to be clicked again): « Envoyer » clicked twice, then « Enregistrer
    le brouillon », let one go, and « Envoyer » is disabled meanwhile."""
    browser_login(page, "zoe.le-gall")
    write_to_lucas(page, f"Double clic {uuid.uuid4().hex[:6]}")
    page.evaluate("""() => {
        window.submitted = [];
        document.addEventListener("submit", (event) => {
            if (!event.defaultPrevented) { window.submitted.push(event.submitter.value); }
            event.preventDefault();
        });
    }""")
    send = page.get_by_role("button", name="Envoyer", exact=True)
    send.click(no_wait_after=True)
    page.wait_for_function("document.querySelector('button[value=envoyer]').disabled")
    send.click(no_wait_after=True, force=True)      # as a person clicks: whatever its state
    page.get_by_role("button", name="Enregistrer le brouillon").last.click(no_wait_after=True)
    assert page.evaluate("window.submitted") == ["envoyer"]
    assert page.problems.errors == []


def test_a_double_click_on_envoyer_sends_the_message_once(page, live_app):
    subject = f"Double clic {uuid.uuid4().hex[:6]}"
    browser_login(page, "zoe.le-gall")
    write_to_lucas(page, subject)
    page.get_by_role("button", name="Envoyer", exact=True).dblclick()
    page.get_by_role("heading", name="Résultat de l'envoi").wait_for()
    assert sent(live_app, subject) == 1
    assert page.problems.errors == []


def test_enregistrer_le_brouillon_still_saves_the_draft(page, live_app):
    subject = f"Brouillon {uuid.uuid4().hex[:6]}"
    browser_login(page, "zoe.le-gall")
    write_to_lucas(page, subject)
    page.get_by_role("button", name="Enregistrer le brouillon").last.click()
    assert "Le brouillon est enregistré dans « Brouillons »." in \
        page.locator("p.flash").all_inner_texts()
    assert page.get_by_label("Objet").input_value() == subject
    page.get_by_role("button", name="Envoyer", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Résultat de l'envoi"
    assert sent(live_app, subject) == 1
    assert page.problems.errors == []
