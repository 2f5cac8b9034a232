"""« Annuler l'envoi » of a scheduled message against the worker that sends it: once the
scheduler has taken the message, the cancel says it is too late and changes nothing — when
the worker ran after the page was loaded, and when it ran inside the cancel's own request,
between the read of the message and its write; before that, the message goes back to the
drafts and is never sent."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from directory.clock import local_time, travel_to, utcnow
from directory.db import db
from mailgate.automations import scheduler
from mailgate.automations.models import Communication, CommunicationRun
from mailgate.automations.schedule import to_utc
from portal.communications import write_views

from ..conftest import csrf_token, page_text
from .annuaire_helpers import group_id

TOO_LATE = "Trop tard : l'envoi est déjà parti, il ne peut plus être annulé."
CANCELLED = "L'envoi est annulé : le message est dans vos brouillons."


@pytest.fixture
def scheduled(teacher, app) -> tuple[int, datetime]:
    """Claire's message to 4A, scheduled for tomorrow 08:00 (Paris): its id and that time."""
    tomorrow = local_time(utcnow()).date() + timedelta(days=1)
    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    response = teacher.post("/communications/ecrire", data={
        "csrf_token": csrf_token(page), "groupes": str(group_id(app, "4A")),
        "objet": "Réunion", "texte": "Bonjour {prénom}", "quand": "programme",
        "date": tomorrow.isoformat(), "heure": "08:00", "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    message_id = int(re.search(r"/messages/(\d+)$", response.headers["Location"])[1])
    return message_id, to_utc(datetime.combine(tomorrow, datetime.min.time()).replace(hour=8))


def the_worker_takes_it(app, when: datetime) -> None:
    """A round of the worker at `when`, in a session of its own, as `preau worker` does."""
    with app.app_context(), travel_to(when):
        assert scheduler.run_due(when) == 1


def stored(app, message_id: int) -> tuple[bool, int]:
    """Whether the message is a draft, and how many times it has been sent."""
    with app.app_context():
        draft = db.session.scalar(select(Communication.draft)
                                  .where(Communication.id == message_id))
        runs = db.session.scalar(select(func.count()).where(
            CommunicationRun.communication_id == message_id))
    return draft, runs


def cancel(client, message_id: int, page: str, *, follow: bool = True):
    return client.post(f"/communications/messages/{message_id}/annuler",
                       data={"csrf_token": csrf_token(page)}, follow_redirects=follow)


def test_a_cancel_after_the_worker_took_the_message_says_it_is_too_late(teacher, app,
                                                                        scheduled):
    message_id, due_at = scheduled
    page = teacher.get(f"/communications/messages/{message_id}").get_data(as_text=True)
    assert "Annuler l'envoi programmé" in page

    the_worker_takes_it(app, due_at + timedelta(minutes=1))
    shown = cancel(teacher, message_id, page)

    assert shown.status_code == 200
    text = page_text(shown)
    assert TOO_LATE in text and CANCELLED not in text
    assert "État Envoyé" in text and "Brouillon" not in text
    assert stored(app, message_id) == (False, 1)


def test_the_worker_between_the_cancels_read_and_write_wins(teacher, app, scheduled,
                                                            monkeypatch):
    """The race as it happened: the request has read the message, still scheduled, when
    the worker takes it; the cancel must not turn a message being sent into a draft."""
    message_id, due_at = scheduled
    page = teacher.get(f"/communications/messages/{message_id}").get_data(as_text=True)
    loaded = write_views.own_message

    def read_then_the_worker_runs(communication_id: int) -> Communication:
        message = loaded(communication_id)
        assert message.next_run_at is not None and not message.draft
        the_worker_takes_it(app, due_at + timedelta(minutes=1))
        return message

    monkeypatch.setattr(write_views, "own_message", read_then_the_worker_runs)
    response = cancel(teacher, message_id, page, follow=False)
    monkeypatch.undo()

    assert response.status_code == 303
    text = page_text(teacher.get(response.headers["Location"]))
    assert TOO_LATE in text and CANCELLED not in text
    assert "État Envoyé" in text
    assert stored(app, message_id) == (False, 1)


def test_a_cancel_in_time_puts_the_message_back_to_the_drafts_unsent(teacher, app,
                                                                     scheduled):
    message_id, due_at = scheduled
    page = teacher.get(f"/communications/messages/{message_id}").get_data(as_text=True)

    text = page_text(cancel(teacher, message_id, page))
    assert CANCELLED in text and "État Brouillon" in text
    with app.app_context(), travel_to(due_at + timedelta(minutes=1)):
        assert scheduler.run_due(due_at + timedelta(minutes=1)) == 0
    assert stored(app, message_id) == (True, 0)

    again = page_text(cancel(teacher, message_id, page))       # from a second tab
    assert "L'envoi était déjà annulé : le message est dans vos brouillons." in again
    assert "État Brouillon" in again
