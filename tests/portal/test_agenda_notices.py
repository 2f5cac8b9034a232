"""An event's notices go out through the population mailing's background fan-out: saving the
event writes a job (no mail yet); the worker routes every reader through the one routing
path with the population flag; the organiser follows the progress and reads the report;
pupils find the notice in their inbox, forwarded readers get their own invitation and a
one-click link that answers for them alone."""
from __future__ import annotations

import csv
import email
import io
import re
from email import policy
from pathlib import Path

import icalendar
from sqlalchemy import func, select, update

from agenda import notices
from agenda.models import Answer, Event
from directory.db import db
from directory.models import Account
from mailgate import fanout, worker
from mailgate.fanout_models import FanoutJob, FanoutRecipient
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage
from tests.conftest import post_form

from .annuaire_helpers import html, messages
from .rubriques_helpers import client_of, route_everything
from .test_agenda_pages import event_id_of, new_event


def job_of(app, event_id: int) -> FanoutJob:
    with app.app_context():
        job = db.session.scalar(select(FanoutJob).where(FanoutJob.origin == f"event:{event_id}"))
        db.session.expunge(job)
        return job


def inbox_notice(login: str, title: str) -> MailMessage | None:
    account = db.session.scalar(select(Account).where(Account.login == login))
    return db.session.scalar(
        select(MailMessage).join(MailboxItem).join(MailFolder)
        .where(MailboxItem.account_id == account.id, MailFolder.kind == FolderKind.INBOX,
               MailMessage.subject.contains(title))
        .order_by(MailMessage.id.desc()).limit(1))


def forwarded(app, address: str, title: str) -> email.message.EmailMessage:
    with app.app_context():
        worker.drain()
    folder = Path(app.instance_path) / "mail-out"
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Delivered-To"] == address and title in str(message["Subject"]):
            return message
    raise AssertionError(f"no notice of {title!r} for {address}")


def test_the_notice_is_a_background_job_the_organiser_follows(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie au musée (avis)", notify="y",
                                     ask_confirmation="y", read_receipt="y"))
    job = job_of(app, event_id)
    flashed = messages(html(teacher.get(f"/agenda/evenement/{event_id}")))
    assert any(f"Les messages partent en arrière-plan vers {job.total} personnes" in m
               for m in flashed)
    assert job.total > 0 and job.forward_invitation.startswith("BEGIN:VCALENDAR")
    with app.app_context():     # nothing routed in the request
        assert inbox_notice("zoe.le-gall", "Sortie au musée (avis)") is None
    page = f"/agenda/evenement/{event_id}/avis/{job.id}"
    progress = html(teacher.get(page))
    assert progress.one("progress").attrs["value"] == "0"
    assert teacher.get(page + "/etat").get_json()["finished"] is False
    assert f'href="{page}"' in teacher.get(f"/agenda/evenement/{event_id}").get_data(
        as_text=True)
    route_everything(app)
    state = teacher.get(page + "/etat").get_json()
    assert state["finished"] and state["percent"] == 100 and state["routed"] == job.total
    report = html(teacher.get(page))
    assert "Envoi terminé." in report.text
    counts = {row.one("th").text: int(row.one("td").text) for row in report.all("tr")
              if row.all("th") and row.all("td")}
    assert counts["Remis dans leur messagerie Préau"] > 0
    assert counts["Transférés à leur adresse de redirection"] > 0
    rows = list(csv.reader(io.StringIO(teacher.get(page + "/rapport.csv").get_data(
        as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == job.total + 1
    with app.app_context():
        message = inbox_notice("zoe.le-gall", "Sortie au musée (avis)")
        assert message.subject == ("Évènement ajouté : Sortie au musée (avis) (le 12/03/2026 à "
                                   "09:00) par Claire Bernard")
        assert "Vous pouvez confirmer votre présence sur la fiche de l'évènement" in \
            message.text_body
        assert f"/agenda/evenement/{event_id}" in message.text_body
        assert b"Disposition-Notification-To" in message.source
        assert not message.has_attachments        # pupils answer on the page, not by mail
        assert b"preau:destinataire" not in message.source     # no invitation stored


def test_others_cannot_see_the_report(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Avis privé", notify="y"))
    job = job_of(app, event_id)
    other_event = event_id_of(new_event(teacher, app, title="Autre"))
    zoe = client_of(app, "zoe.le-gall")
    for url in (f"/agenda/evenement/{event_id}/avis/{job.id}",
                f"/agenda/evenement/{event_id}/avis/{job.id}/etat",
                f"/agenda/evenement/{event_id}/avis/{job.id}/rapport.csv"):
        assert zoe.get(url).status_code == 404
    assert teacher.get(f"/agenda/evenement/{other_event}/avis/{job.id}").status_code == 404
    assert "Avis envoyés" not in zoe.get(f"/agenda/evenement/{event_id}").get_data(
        as_text=True)


def test_joseph_gets_his_own_invitation_and_link_and_suspended_readers_are_reported(
        teacher, app):
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
    event_id = event_id_of(new_event(teacher, app, title="Sortie au musée (lien)", notify="y",
                                     ask_confirmation="y"))
    route_everything(app)
    message = forwarded(app, "joseph@example.org", "Sortie au musée (lien)")
    text = message.get_body(("plain",)).get_content()
    assert "[[preau:" not in text
    link = re.search(r"Ou répondez en un clic : (\S+)", text)[1]
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    vevent = icalendar.Calendar.from_ical(calendar_part.get_payload(decode=True)).walk(
        "VEVENT")[0]
    attendee = vevent["ATTENDEE"]
    assert str(attendee) == "mailto:joseph@example.org"
    assert str(attendee.params["CN"]) == "Joseph Fabre"
    assert any(p.get_filename() == "invite.ics" for p in message.walk())
    anonymous = app.test_client()
    path = link.replace("http://localhost", "")
    assert "Réponse de Joseph Fabre" in html(anonymous.get(path)).text
    post_form(anonymous, path, {"answer": "refused", "comment": "Pas disponible"})
    with app.app_context():
        joseph = db.session.scalar(select(Account.id).where(Account.login == "joseph.fabre"))
        answer = db.session.get(Answer, (event_id, joseph))
        assert (answer.answer.value, answer.comment, answer.channel.value) == \
            ("refused", "Pas disponible", "link")
        lucas = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))
        job = db.session.scalar(select(FanoutJob).where(FanoutJob.origin == f"event:{event_id}"))
        row = db.session.get(FanoutRecipient, (job.id, lucas))
        assert (row.state.value, row.refusal) == ("refused", "suspended")
    report = html(teacher.get(f"/agenda/evenement/{event_id}/avis/{job.id}"))
    assert "Martin Lucas" in report.text


def test_the_reminder_goes_to_those_who_did_not_answer_and_a_change_to_everyone(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie (rappel)", notify="y",
                                     ask_confirmation="y"))
    zoe = client_of(app, "zoe.le-gall")
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse", {"answer": "accepted"},
              page=f"/agenda/evenement/{event_id}")
    answers = html(teacher.get(f"/agenda/evenement/{event_id}/reponses"))
    key = answers.one("input", name="cle").attrs["value"]
    for _ in range(2):      # a double click: one reminder
        post_form(teacher, f"/agenda/evenement/{event_id}/relancer", {"cle": key},
                  page=f"/agenda/evenement/{event_id}/reponses")
    with app.app_context():
        zoe_id = db.session.scalar(select(Account.id).where(Account.login == "zoe.le-gall"))
        jobs = fanout.jobs_of(notices.origin(db.session.get(Event, event_id)))
        assert len(jobs) == 2
        reminder, first = jobs
        assert reminder.total == first.total - 1
        assert db.session.get(FanoutRecipient, (reminder.id, zoe_id)) is None
        assert db.session.scalar(select(func.count()).select_from(FanoutRecipient).where(
            FanoutRecipient.job_id == first.id, FanoutRecipient.account_id == zoe_id)) == 1


def test_no_reminder_for_an_event_that_asks_no_answer_or_is_cancelled(teacher, app):
    """A draft would go out unpublished, a cancelled event come back in calendars."""
    quiet = event_id_of(new_event(teacher, app, title="Sans confirmation", notify="y"))
    answers = html(teacher.get(f"/agenda/evenement/{quiet}/reponses"))
    assert "Relancer" not in answers.text
    response = post_form(teacher, f"/agenda/evenement/{quiet}/relancer", {"cle": "k" * 32},
                         page=f"/agenda/evenement/{quiet}/reponses")
    assert response.status_code == 302
    with app.app_context():
        assert len(fanout.jobs_of(notices.origin(db.session.get(Event, quiet)))) == 1
