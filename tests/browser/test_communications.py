"""Communications in Chromium, by time travel (the live portal runs in this process, so it
shares directory.clock): Paul, who manages his school's communications, creates a daily
reminder for the pupils who never logged in and, eight days later, sees who it reached;
Claire, forty days on, writes to "parents of 4A inactive for more than 30 days" with
{prénom}, previews it for Joseph and schedules it for tomorrow 08:00. axe on the pages."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from directory.clock import local_time, travel_to, utcnow
from tests.browser.conftest import axe_check, browser_login


def run_the_worker(app) -> None:
    """What `preau worker` does at each round: the due communications, then their fan-out."""
    from mailgate import fanout
    from mailgate.automations import scheduler

    with app.app_context():
        scheduler.run_due()
        while fanout.run_batch():
            pass


def seen_now(app, login: str) -> None:
    """As if `login` had just loaded a page: after a jump in time the portal would record
    the access at the next request, from the page and its stylesheet at once, and on SQLite
    two such read-then-write transactions collide ("database is locked")."""
    from sqlalchemy import update

    from directory.db import db
    from directory.models import Account

    with app.app_context():
        db.session.execute(update(Account).where(Account.login == login)
                           .values(last_access_at=utcnow()))
        db.session.commit()


def test_a_manager_creates_a_reminder_for_pupils_who_never_came_and_sees_its_history(
        page, live_app):
    name = f"Jamais venus {uuid.uuid4().hex[:6]}"
    browser_login(page, "paul.durand")
    page.get_by_role("navigation", name="Services").get_by_role(
        "link", name="Écrire à plusieurs").click()
    page.get_by_role("link", name="Collège Jean Jaurès").click()
    assert "Communications automatiques" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name="Nouvelle communication").click()
    page.get_by_label("Nom", exact=True).fill(name)
    page.get_by_role("checkbox", name="Élèves", exact=True).check()
    assert page.get_by_label("Règle").input_value() == "never_logged_in"
    assert page.get_by_label("Jours (séparés par des virgules)").input_value() == "7,15"
    page.get_by_label("Quand").select_option("daily")
    page.get_by_label("Objet").fill("Votre compte Préau vous attend")
    axe_check(page)
    page.get_by_role("button", name="Enregistrer").click()
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert "Rien n'a encore été envoyé." in page.content()

    with travel_to(utcnow() + timedelta(days=8)):
        run_the_worker(live_app)
        seen_now(live_app, "paul.durand")
        page.reload()
        history = page.get_by_role("table").first
        assert history.get_by_role("row").count() == 2      # the header and one run
        recipients = page.locator("table.recipients tbody tr")
        assert recipients.count() > 0
        assert "Élève" in recipients.first.inner_text()
        page.get_by_role("link", name="Communications automatiques").click()
        row = page.locator("tr", has=page.get_by_role("link", name=name))
        assert row.get_attribute("class") == "active"
        row.get_by_role("button", name="Désactiver").click()
        row = page.locator("tr", has=page.get_by_role("link", name=name))
        assert row.get_attribute("class") == "inactive"
        assert row.evaluate("r => getComputedStyle(r.querySelector('td')).color") != \
            "rgb(29, 39, 51)"
        axe_check(page)
    assert not page.problems.errors


def test_claire_writes_to_the_inactive_parents_of_4a_and_schedules_it_for_tomorrow_8(
        page, live_app):
    with travel_to(utcnow() + timedelta(days=40)):
        tomorrow = local_time(utcnow()).date() + timedelta(days=1)
        browser_login(page, "claire.bernard")
        page.get_by_role("navigation", name="Services").get_by_role(
            "link", name="Écrire à plusieurs").click()
        page.get_by_role("link", name="Écrire à plusieurs", exact=True).last.click()
        page.get_by_label("Parents des élèves de").select_option(label="4A")
        page.get_by_label("Inactifs depuis plus de (jours)").fill("30")
        page.get_by_label("Objet").fill("Réunion parents-professeurs")
        page.get_by_label("Message", exact=True).fill("Bonjour {prénom},\nla réunion a lieu jeudi.")
        page.get_by_role("button", name="Compter et prévisualiser").click()
        counted = page.get_by_role("status").filter(has_text="destinataire").inner_text()
        assert int(re.match(r"(\d+)", counted)[1]) > 0
        page.get_by_label("Aperçu pour").select_option(label="Joseph Fabre")
        page.get_by_role("button", name="Compter et prévisualiser").click()
        assert page.locator("#merge-preview").inner_text().startswith("Bonjour Joseph,")
        axe_check(page)

        page.get_by_label("À une date et une heure").check()
        page.get_by_label("Date", exact=True).fill(tomorrow.isoformat())
        page.get_by_label("Heure (heure de Paris)").fill("08:00")
        page.get_by_role("button", name="Envoyer", exact=True).click()
        assert page.locator("#state").inner_text() == \
            f"Programmé pour le {tomorrow:%d/%m/%Y} à 08:00"
        assert "Parents des élèves de 4A · inactifs depuis plus de 30 jours" in page.content()
    assert not page.problems.errors
