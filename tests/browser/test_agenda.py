"""Claire creates "Sortie au musée" for 4A with a confirmation and the coach reserved, and
watches its notices go out in the background until the report; Zoé accepts from the event
page; the notice forwarded to Joseph (captured in instance/mail-out) carries an invitation
whose METHOD:REPLY — built with icalendar, sent with smtplib to the real gateway — marks him
as accepted; Claire sees both answers. Claire adds a meeting to the 4A rubric's agenda from
the rubric's page; Zoé finds it there and in Mon agenda. axe on the month, week, event, form,
notice report and rubric agenda pages; the views are used with the keyboard."""
from __future__ import annotations

import email
import re
import smtplib
import uuid
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest

from tests.browser.conftest import axe_check, browser_login
from tests.browser.test_rubriques import run_worker


@pytest.fixture
def coach(live_app):
    from agenda.models import Resource, ResourceKind
    from directory.db import db
    from tests.agenda.conftest import class_4a

    with live_app.app_context():
        resource = Resource(school_id=class_4a().school_id,
                            name=f"Car 50 places {uuid.uuid4().hex[:4]}",
                            kind=ResourceKind.EQUIPMENT)
        db.session.add(resource)
        db.session.commit()
        return resource.name


@pytest.fixture
def gateway(live_app):
    from mailgate.gateway import GatewayThread

    running = GatewayThread(live_app).start()
    yield running
    running.stop()


def notice_for(live_app, address: str, title: str) -> EmailMessage:
    from mailgate import worker

    with live_app.app_context():
        worker.drain()
    folder = Path(live_app.instance_path) / "mail-out"
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Delivered-To"] == address and title in str(message["Subject"]):
            return message
    raise AssertionError(f"no notice of {title!r} for {address} in {folder}")


def reply_to(invitation: bytes, attendee: str) -> tuple[str, bytes]:
    """What Joseph's mail client sends when he clicks "Accept" (RFC 5546 §3.2.3)."""
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    answer = icalendar.Event()
    answer.add("UID", request["UID"])
    answer.add("SEQUENCE", request["SEQUENCE"])
    answer.add("DTSTAMP", request.decoded("DTSTAMP"))
    answer.add("DTSTART", request.decoded("DTSTART"))
    answer.add("ORGANIZER", request["ORGANIZER"])
    who = icalendar.vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = "ACCEPTED"
    answer.add("ATTENDEE", who)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Client de Joseph//FR")
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "REPLY")
    calendar.add_component(answer)
    organizer = str(request["ORGANIZER"]).removeprefix("mailto:")
    message = EmailMessage()
    message["From"], message["To"] = attendee, organizer
    message["Subject"] = "Accepté : Sortie au musée"
    message.set_content("Joseph Fabre a accepté.")
    message.add_alternative(calendar.to_ical(), maintype="text", subtype="calendar",
                            params={"method": "REPLY"})
    return organizer, message.as_bytes(policy=policy.SMTP)


def test_outing_with_confirmation_answered_on_the_page_and_by_mail(page, browser, live_server,
                                                                   live_app, coach, gateway):
    title = f"Sortie au musée {uuid.uuid4().hex[:4]}"
    browser_login(page, "claire.bernard")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Agenda").click()
    page.get_by_role("link", name="4A", exact=True).click()
    axe_check(page)                                                   # month
    page.get_by_role("link", name="Semaine", exact=True).click()
    axe_check(page)                                                   # week
    page.get_by_role("link", name="Nouvel évènement").click()
    page.get_by_label("Titre").fill(title)
    page.get_by_label("Date de début").fill("2026-03-12")
    page.get_by_label("Heure de début").fill("09:00")
    page.get_by_label("Date de fin").fill("2026-03-12")
    page.get_by_label("Heure de fin").fill("17:00")
    page.get_by_label("Lieu").fill("Musée des Augustins")
    page.get_by_label(coach).check()
    assert page.get_by_label("Accusé de réception").is_hidden()
    page.get_by_label("Avertir les personnes de l'espace par message").check()
    assert page.get_by_label("Accusé de réception").is_visible()
    page.get_by_label("Demander une confirmation").check()
    axe_check(page)                                                   # form
    page.get_by_role("button", name="Valider").click()

    assert page.get_by_role("heading", level=1).inner_text() == title
    main = page.locator("main").inner_text()
    assert f"L'évènement « {title} » est enregistré." in main
    assert coach in main and "Les messages partent en arrière-plan" in main
    event_url = page.url
    axe_check(page)                                                   # event
    page.get_by_role("link", name="suivre l'envoi").click()
    assert page.locator("#fanout-progress").get_attribute("value") == "0"
    worker = run_worker(live_app)
    page.get_by_text("Envoi terminé.").wait_for(timeout=30_000)
    worker.join(60)
    assert "(100 %)" in page.locator("#progress-text").inner_text()
    report = page.locator("table.counts").inner_text()
    assert re.search(r"Remis dans leur messagerie Préau\s+[1-9]", report), report
    assert re.search(r"Transférés à leur adresse de redirection\s+[1-9]", report), report
    axe_check(page)                                                   # notice report

    zoe = browser.new_context(base_url=live_server, locale="fr-FR").new_page()
    browser_login(zoe, "zoe.le-gall")
    zoe.goto(event_url)
    zoe.get_by_label("Je serai présent·e").check()
    zoe.get_by_label("Commentaire (facultatif)").fill("J'apporte un carnet de croquis")
    zoe.get_by_role("button", name="Envoyer ma réponse").click()
    assert "Votre réponse est enregistrée." in zoe.locator("main").inner_text()
    zoe.context.close()

    notice = notice_for(live_app, "joseph@example.org", title)
    assert str(notice["Subject"]).startswith(f"Évènement ajouté : {title} (le 12/03/2026 à "
                                             "09:00) par Claire Bernard")
    invitation = next(p for p in notice.walk() if p.get_content_type() == "text/calendar")
    assert invitation.get_param("method") == "REQUEST"
    organizer, raw = reply_to(invitation.get_payload(decode=True), "joseph@example.org")
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
        client.sendmail("joseph@example.org", [organizer], raw)

    page.goto(event_url)
    page.get_by_role("link", name="Tableau des réponses").click()
    table = page.get_by_role("table", name="Réponses des invités")
    zoe_row = table.get_by_role("row").filter(has_text="Le Gall Zoé")
    assert "Accepte" in zoe_row.inner_text()
    assert "J'apporte un carnet de croquis" in zoe_row.inner_text()
    joseph_row = table.get_by_role("row").filter(has_text="Fabre Joseph")
    assert "Accepte" in joseph_row.inner_text() and "par courriel" in joseph_row.inner_text()
    assert page.problems.errors == [] and page.problems.dialogs == []


def test_a_meeting_in_the_rubric_agenda_shows_on_the_rubric_and_in_mon_agenda(page, browser,
                                                                             live_server):
    title = f"Réunion parents-professeurs {uuid.uuid4().hex[:4]}"
    browser_login(page, "claire.bernard")
    page.goto("/rubriques/")
    page.get_by_role("link", name="4A", exact=True).first.click()
    page.get_by_role("link", name="Nouvel évènement").click()
    assert page.get_by_label("Agenda").evaluate("s => s.selectedOptions[0].text").startswith(
        "Rubrique 4A")
    page.get_by_label("Titre").fill(title)
    day = f"{date.today() + timedelta(days=7):%Y-%m-%d}"
    page.get_by_label("Date de début").fill(day)
    page.get_by_label("Heure de début").fill("18:00")
    page.get_by_label("Date de fin").fill(day)
    page.get_by_label("Heure de fin").fill("20:00")
    page.get_by_role("button", name="Valider").click()
    assert page.get_by_role("heading", level=1).inner_text() == title
    page.get_by_role("link", name=re.compile("^← Agenda")).click()
    assert "Agenda de la rubrique 4A" in page.get_by_role("heading", level=1).inner_text()
    axe_check(page)                                                   # rubric agenda

    zoe = browser.new_context(base_url=live_server, locale="fr-FR").new_page()
    browser_login(zoe, "zoe.le-gall")
    zoe.goto("/rubriques/")
    zoe.get_by_role("link", name="4A", exact=True).first.click()
    agenda = zoe.get_by_role("region", name="Agenda de la rubrique")
    assert title in agenda.inner_text()
    zoe.goto(f"/agenda/?mois={day[:7]}")
    assert title in zoe.locator("main").inner_text()
    zoe.context.close()
    assert page.problems.errors == [] and page.problems.dialogs == []


def test_the_month_is_used_with_the_keyboard(page):
    browser_login(page, "zoe.le-gall")
    page.goto("/agenda/?mois=2026-03")
    page.get_by_role("link", name="Semaine", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/agenda/semaine" in page.url
    page.get_by_role("link", name="Semaine suivante →").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "jour=" in page.url
    axe_check(page)
