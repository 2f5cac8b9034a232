"""Private subscription feeds (revocable), the notice's one-click answer link, follow-up
comments with moderation, and the notice a pupil finds in the portal's inbox."""
from __future__ import annotations

import re
from datetime import timedelta

import icalendar
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from agenda import notices
from agenda.models import Answer, Event
from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from mailgate import fanout, personalise
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage
from portal.agenda import ical_views
from tests.conftest import login, post_form

from .annuaire_helpers import group_id, html, messages
from .rubriques_helpers import route_everything
from .test_agenda_pages import event_id_of, new_event


def feed_url(client, **form) -> str:
    response = post_form(client, "/agenda/abonnements", {"action": "create", **form})
    return re.search(r'id="new-url" type="text" readonly value="([^"]+)"',
                     response.get_data(as_text=True))[1]


def test_a_feed_shows_the_agenda_until_its_token_is_revoked(teacher, app):
    event_id_of(new_event(teacher, app, title="Conseil de classe"))
    parent = app.test_client()
    login(parent, "joseph.fabre")
    url = feed_url(parent).replace("http://localhost", "")
    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    assert "Conseil de classe" in [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    post_form(parent, "/agenda/abonnements", {"action": "revoke"})
    assert anonymous.get(url).status_code == 404
    replaced = feed_url(parent).replace("http://localhost", "")
    assert anonymous.get(replaced).status_code == 200
    feed_url(parent)                                  # a new link revokes the previous one
    assert anonymous.get(replaced).status_code == 404
    assert anonymous.get("/agenda/flux/not-a-token.ics").status_code == 404


def test_a_group_feed_carries_no_draft_of_others(teacher, app):
    event_id_of(new_event(teacher, app, publish=False, title="Brouillon secret"))
    event_id_of(new_event(teacher, app, title="Réunion parents"))
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    url = feed_url(zoe, group=group_id(app, "4A")).replace("http://localhost", "")
    text = app.test_client().get(url).get_data(as_text=True)
    assert "Réunion parents" in text and "Brouillon secret" not in text


def test_a_capped_export_keeps_the_upcoming_events(teacher, app, monkeypatch):
    monkeypatch.setattr(ical_views, "FEED_LIMIT", 2)
    now = utcnow()
    for title, days in (("Sortie passée", -60), ("Sortie prochaine", 7),
                        ("Sortie lointaine", 60), ("Sortie suivante", 14)):
        day = f"{now + timedelta(days=days):%Y-%m-%d}"
        event_id_of(new_event(teacher, app, title=title, start_date=day, end_date=day))
    data = teacher.get(f"/agenda/groupe/{group_id(app, '4A')}/agenda.ics").data
    titles = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]
    assert titles == ["Sortie prochaine", "Sortie suivante"]
    monkeypatch.setattr(ical_views, "FEED_LIMIT", 4)    # room for the past one: it comes last
    data = teacher.get(f"/agenda/groupe/{group_id(app, '4A')}/agenda.ics").data
    assert len(icalendar.Calendar.from_ical(data).walk("VEVENT")) == 4


def joseph_id(app) -> int:
    with app.app_context():
        from tests.agenda.conftest import person

        return person("joseph.fabre").id


def one_click_token(app, event_id: int, account_id: int) -> str:
    """The token of the one-click link in the member's copy of the event's notice."""
    with app.app_context():
        job = fanout.jobs_of(notices.origin(db.session.get(Event, event_id)))[0]
        return personalise.token(job.id, account_id)


def test_the_one_click_link_asks_then_records(teacher, app):
    event_id = event_id_of(new_event(teacher, app, notify="y", ask_confirmation="y"))
    joseph = joseph_id(app)
    token = one_click_token(app, event_id, joseph)
    anonymous = app.test_client()
    page = anonymous.get(f"/agenda/reponse/{token}")
    assert page.status_code == 200 and "Réponse de Joseph Fabre" in html(page).text
    with app.app_context():
        assert db.session.get(Answer, (event_id, joseph)) is None    # opening changes nothing
    done = post_form(anonymous, f"/agenda/reponse/{token}",
                     {"answer": "accepted", "comment": "Avec plaisir"})
    assert "votre réponse est enregistrée : présent·e" in html(done).text
    with app.app_context():
        answer = db.session.get(Answer, (event_id, joseph))
        assert (answer.answer.value, answer.comment, answer.channel.value) == \
            ("accepted", "Avec plaisir", "link")
    assert anonymous.get(f"/agenda/reponse/{token[:-2]}xx").status_code == 404
    with app.app_context():     # a suspended account answers no more than it logs in
        db.session.get(Account, joseph).suspended = True
        db.session.commit()
    assert anonymous.get(f"/agenda/reponse/{token}").status_code == 404


def test_a_link_signed_for_an_event_number_alone_answers_nothing(teacher, app):
    """The first notices' links were signed for [event id, account id]: on SQLite a deleted
    event's number goes to the next event, and such a link answered whichever event has it
    now — here, one published since."""
    event_id = event_id_of(new_event(teacher, app, title="Sortie (numéro repris)",
                                     notify="y", ask_confirmation="y"))
    joseph = joseph_id(app)
    old = URLSafeSerializer(app.config["SECRET_KEY"], salt="agenda-answer").dumps(
        [event_id, joseph])
    anonymous = app.test_client()
    current = f"/agenda/reponse/{one_click_token(app, event_id, joseph)}"
    page = anonymous.get(current)
    assert page.status_code == 200 and "Sortie (numéro repris)" in html(page).text
    assert anonymous.get(f"/agenda/reponse/{old}").status_code == 404
    assert post_form(anonymous, f"/agenda/reponse/{old}", {"answer": "accepted"},
                     page=current).status_code == 404
    with app.app_context():
        assert db.session.get(Answer, (event_id, joseph)) is None


def test_moderated_comments_wait_for_the_organiser(teacher, app):
    event_id = event_id_of(new_event(teacher, app, follow_up="moderated"))
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    page = f"/agenda/evenement/{event_id}"
    response = post_form(zoe, f"{page}/commentaires", {"text": "Faut-il un casse-croûte ?"},
                         page=page, follow_redirects=True)
    assert "Votre commentaire attend l'accord de l'organisateur." in messages(html(response))
    lucas = app.test_client()
    login(lucas, "lucas.martin")
    assert "Aucun commentaire pour l’instant." in html(lucas.get(page)).text
    organiser_page = html(teacher.get(page))
    assert "en attente de modération" in organiser_page.text
    comment_id = re.search(r"/commentaires/(\d+)", teacher.get(page).get_data(as_text=True))[1]
    post_form(teacher, f"{page}/commentaires/{comment_id}", {"decision": "approve"}, page=page)
    assert "Faut-il un casse-croûte ?" in html(lucas.get(page)).text


def test_comments_are_closed_without_follow_up(teacher, app):
    event_id = event_id_of(new_event(teacher, app))
    page = f"/agenda/evenement/{event_id}"
    response = post_form(teacher, f"{page}/commentaires", {"text": "Bonjour"},
                         page=page, follow_redirects=True)
    assert "Les commentaires sont fermés pour cet évènement." in messages(html(response))


def test_a_pupil_finds_the_notice_in_the_inbox(teacher, app):
    response = new_event(teacher, app, notify="y", ask_confirmation="y", read_receipt="y")
    event_id = event_id_of(response)
    route_everything(app)           # the worker's fan-out (tests/portal/test_agenda_notices.py)
    with app.app_context():
        from tests.agenda.conftest import person

        zoe = person("zoe.le-gall")
        message = db.session.scalar(
            select(MailMessage).join(MailboxItem).join(MailFolder)
            .where(MailboxItem.account_id == zoe.id, MailFolder.kind == FolderKind.INBOX)
            .order_by(MailMessage.id.desc()).limit(1))
        assert message.subject == ("Évènement ajouté : Sortie au musée (le 12/03/2026 à 09:00) "
                                   "par Claire Bernard")
        assert "Vous pouvez confirmer votre présence sur la fiche de l'évènement" in \
            message.text_body
        assert f"/agenda/evenement/{event_id}" in message.text_body
        assert b"Disposition-Notification-To" in message.source
        assert not message.has_attachments        # pupils answer on the page, not by mail
