"""A mailed answer is given when its client wrote it (its DTSTAMP), not when it reached us:
the organiser's list dates it so, and every later answer — on the page or by mail — is
compared with that time. A phone offline for hours sends answers out of order; the one
written last counts. One written before the event moved is for the former date."""
from __future__ import annotations

import csv
import io
import smtplib
from datetime import datetime, timedelta
from email import policy

import pytest

from agenda import access, confirmations, events, notices
from agenda.models import AnswerChannel, AnswerKind, Event
from directory.clock import travel_to
from directory.db import db, write_transaction
from tests.agenda.conftest import class_4a, event_input
from tests.conftest import login

from .agenda_helpers import Links, answer_of, invitation_to, published
from .conftest import account
from .test_agenda_replies import reply

DAY = datetime(2026, 3, 2)          # Paris is UTC+1


def send(smtp, invitation: bytes, partstat: str, written: datetime) -> None:
    message, organizer = reply(invitation, partstat, attendee="joseph@example.org",
                               written=written)
    smtp.sendmail("joseph@example.org", [organizer], message.as_bytes(policy=policy.SMTP))


def asking(title: str, starts: datetime = datetime(2026, 3, 12, 9)):
    return event_input(title, starts=starts, ends=starts + timedelta(hours=3), notify=True,
                       ask_confirmation=True)


def test_a_mailed_answer_is_listed_when_its_client_wrote_it(sink, smtp, mail_app):
    title = "Sortie au musée (réponse écrite hors ligne)"
    with travel_to(DAY.replace(hour=8)):
        event, _ = published(title, notify=True, ask_confirmation=True)
        _, invitation = invitation_to(sink, "joseph@example.org", title)
    with travel_to(DAY.replace(hour=12)):
        send(smtp, invitation, "ACCEPTED", written=DAY.replace(hour=10))
    answer = answer_of(event, "joseph.fabre")
    assert (answer.answer.value, answer.channel.value) == ("accepted", "mail")
    assert answer.answered_at == DAY.replace(hour=10)

    organiser = mail_app.test_client()
    login(organiser, "claire.bernard")
    exported = organiser.get(f"/agenda/evenement/{event.id}/reponses.csv")
    assert exported.status_code == 200
    lines = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff")),
                            delimiter=";"))
    joseph = next(line for line in lines if line[:2] == ["Fabre", "Joseph"])
    assert joseph[3:] == ["Accepte", "", "02/03/2026 11:00"]        # Paris time


def test_an_older_mail_arriving_last_does_not_undo_a_newer_one(sink, smtp):
    """Written at 10:00 « yes » and at 09:00 « no », the second reaching us last: « yes »
    stays, and the mail is refused with why. One written later still counts."""
    title = "Sortie au musée (deux courriels dans le désordre)"
    with travel_to(DAY.replace(hour=8)):
        event, _ = published(title, notify=True, ask_confirmation=True)
        _, invitation = invitation_to(sink, "joseph@example.org", title)
    with travel_to(DAY.replace(hour=12)):
        send(smtp, invitation, "ACCEPTED", written=DAY.replace(hour=10))
    with travel_to(DAY.replace(hour=13)):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(smtp, invitation, "DECLINED", written=DAY.replace(hour=9))
        assert refused.value.smtp_code == 550
        assert "Cette reponse a ete ecrite le 02/03/2026 a 10:00, avant celle que Preau a " \
            "enregistree le 02/03/2026 a 11:00 : elle n'est pas prise en compte." in \
            " ".join(refused.value.smtp_error.decode().split())
        answer = answer_of(event, "joseph.fabre")
        assert (answer.answer.value, answer.answered_at) == ("accepted", DAY.replace(hour=10))

        send(smtp, invitation, "DECLINED", written=DAY.replace(hour=12, minute=30))
        answer = answer_of(event, "joseph.fabre")
        assert (answer.answer.value, answer.answered_at) == \
            ("refused", DAY.replace(hour=12, minute=30))


def test_a_page_answer_given_after_a_delayed_mail_was_written_is_kept(sink, smtp):
    """The mail written at 10:00 reached us at noon; Joseph answered on the page at 11:00 —
    before the mail came: the page's answer, given last, is kept."""
    title = "Sortie au musée (page puis courriel)"
    joseph = account("joseph.fabre")
    with travel_to(DAY.replace(hour=8)):
        event, _ = published(title, notify=True, ask_confirmation=True)
        _, invitation = invitation_to(sink, "joseph@example.org", title)
    with travel_to(DAY.replace(hour=9, minute=30)):
        send(smtp, invitation, "DECLINED", written=DAY.replace(hour=9))
    with travel_to(DAY.replace(hour=11)):
        write_transaction(lambda: confirmations.answer(
            db.session.merge(event), db.session.merge(joseph),
            AnswerKind.ACCEPTED, channel=AnswerChannel.PAGE))
    with travel_to(DAY.replace(hour=12)), pytest.raises(smtplib.SMTPDataError):
        send(smtp, invitation, "DECLINED", written=DAY.replace(hour=10))
    answer = answer_of(event, "joseph.fabre")
    assert (answer.answer.value, answer.channel.value) == ("accepted", "page")


def move(event: Event, title: str, starts: datetime) -> None:
    claire = account("claire.bernard")

    def work():
        agenda = access.agenda_of_group(claire, class_4a().id)
        saved, change = events.save(claire, agenda, asking(title, starts),
                                    db.session.get(Event, event.id))
        assert change == events.Change.MOVED
        return notices.after_save(claire, saved, change, Links())

    write_transaction(work)


def test_an_answer_written_before_the_event_moved_is_for_the_former_date(sink, smtp):
    """Joseph's phone wrote « no » at 09:00 for the 12th; the event moved to the 19th at
    10:00; the mail came at 11:00: it is his answer for the 12th, to give again — not one
    for the 19th. His answer to the new invitation counts, even from a phone whose clock is
    two minutes behind."""
    title = "Sortie au musée (déplacée pendant la réponse)"
    with travel_to(DAY.replace(hour=8)):
        event, _ = published(title, notify=True, ask_confirmation=True)
        _, first = invitation_to(sink, "joseph@example.org", title)
    with travel_to(DAY.replace(hour=10)):
        move(event, title, datetime(2026, 3, 19, 9))
        _, second = invitation_to(sink, "joseph@example.org", title)
    assert b"SEQUENCE:1" in second and b"SEQUENCE:0" in first
    with travel_to(DAY.replace(hour=11)):
        send(smtp, first, "DECLINED", written=DAY.replace(hour=9))
    db.session.rollback()
    moved = db.session.get(Event, event.id)
    row = confirmations.row_of(moved, account("joseph.fabre"))
    assert row.answer is None and row.former.answer.value == "refused"
    assert row.former.answered_at == DAY.replace(hour=9)
    assert confirmations.counts(moved)[AnswerKind.REFUSED] == 0

    with travel_to(DAY.replace(hour=11, minute=5)):
        send(smtp, second, "ACCEPTED", written=DAY.replace(hour=9, minute=58))
    db.session.rollback()           # written at 10:03 by a clock five minutes behind
    moved = db.session.get(Event, event.id)
    row = confirmations.row_of(moved, account("joseph.fabre"))
    assert row.answer is not None and row.answer.answer.value == "accepted"
    assert row.answer.answered_at == moved.dates_changed_at + timedelta(seconds=1)
