"""Answers at the edges: the signed link of a cancelled event's notice says so before any
form; the same answer sent twice at once (a double click) is kept once, not a 500."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import delete

from agenda import access, confirmations, events, notices
from agenda.models import Answer, AnswerChannel, AnswerKind, Event
from directory.db import db, write_transaction
from directory.models import Account
from mailgate import personalise
from portal.agenda.blueprint import PortalLinks
from tests.agenda.conftest import class_4a, event_input, person
from tests.conftest import post_form
from tests.portal.annuaire_helpers import html

CANCELLED = "Cet évènement est annulé : il n'attend plus de réponse."


def test_the_link_of_a_cancelled_event_says_so_instead_of_asking(app):
    with app.test_request_context():      # the notice's links: the portal's URLs
        claire, joseph = person("claire.bernard"), person("joseph.fabre")
        agenda = access.agenda_of_group(claire, class_4a().id)
        event, change = events.save(claire, agenda, event_input(
            "Sortie (annulée)", notify=True, ask_confirmation=True))
        job = notices.after_save(claire, event, change, PortalLinks())
        token, event_id, joseph_id = personalise.token(job.id, joseph.id), event.id, joseph.id
        db.session.commit()
    anonymous = app.test_client()
    url = f"/agenda/reponse/{token}"
    assert "Réponse de Joseph Fabre" in html(anonymous.get(url)).text    # open: it asks
    with app.app_context():
        events.cancel(db.session.get(Event, event_id))
        db.session.commit()
    page = html(anonymous.get(url))
    assert page.one("p", role="status").text == CANCELLED
    assert page.all("input", name="answer") == [] and "Envoyer ma réponse" not in page.text
    sent = html(post_form(anonymous, url, {"answer": "accepted"}, page="/connexion"))
    assert sent.one("h1").text == "Sortie (annulée)" and CANCELLED in sent.text
    with app.app_context():
        assert db.session.get(Answer, (event_id, joseph_id)) is None


@pytest.mark.postgres_only
def test_the_same_answer_sent_twice_at_once_is_kept_once(live_app):
    """The second waits on the first's row, then replaces it: the last answer counts, as
    always (SQLite runs one writer at a time: the race cannot happen there)."""
    with live_app.app_context():
        claire = person("claire.bernard")
        agenda = access.agenda_of_group(claire, class_4a().id)
        event, _ = write_transaction(lambda: events.save(
            claire, agenda, event_input("Sortie (double clic)", ask_confirmation=True)))
        event_id, joseph_id = event.id, person("joseph.fabre").id
    first_written = threading.Event()
    outcomes: dict[str, object] = {}

    def answer(kind: AnswerKind, comment: str):
        return confirmations.answer(db.session.get(Event, event_id),
                                    db.session.get(Account, joseph_id), kind, comment,
                                    channel=AnswerChannel.LINK)

    def first():
        with live_app.app_context():
            try:
                answer(AnswerKind.ACCEPTED, "premier clic")
                db.session.flush()
                first_written.set()
                time.sleep(1)           # the second reads no answer, then waits on this row
                db.session.commit()
                outcomes["first"] = "saved"
            finally:
                first_written.set()
                db.session.remove()

    def second():
        with live_app.app_context():
            first_written.wait(30)
            try:
                write_transaction(lambda: answer(AnswerKind.REFUSED, "second clic"))
                outcomes["second"] = "saved"
            except Exception as error:      # noqa: BLE001 (the test reports it)
                outcomes["second"] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == {"first": "saved", "second": "saved"}
    with live_app.app_context():
        kept = db.session.get(Answer, (event_id, joseph_id))
        assert (kept.answer, kept.comment) == (AnswerKind.REFUSED, "second clic")
        db.session.execute(delete(Event).where(Event.id == event_id))
        db.session.commit()
