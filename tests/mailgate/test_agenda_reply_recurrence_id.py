"""Answers by mail naming a date (RECURRENCE-ID): RFC 5545 §3.8.4.4 wants a day (VALUE=DATE)
for an all-day event, and some clients write a day for an event at a time of day too. An
event that does not repeat has one date: an answer naming it answers the event; one naming
another date is refused as answering none of its dates. One date of a repeated event is
still refused (answers are kept per event)."""
from __future__ import annotations

import email
import smtplib
from datetime import UTC, date, datetime
from email import policy

import icalendar
import pytest

from agenda.recurrence import Repeat

from .agenda_helpers import answer_of, invitation_to, published
from .test_agenda_answer_edges import reply

JOSEPH = "joseph@example.org"


def answered(smtp, title: str, recurrence_id, **options):
    event, _ = published(title, notify=True, ask_confirmation=True, **options)
    _, invitation = invitation_to(smtp.sink, JOSEPH, title)
    data, organizer = reply(invitation, "ACCEPTED", sender=JOSEPH, recurrence_id=recurrence_id)
    assert "RECURRENCE-ID" in sent_answer(data)
    smtp.sendmail(JOSEPH, [organizer], data)
    return event, invitation


def sent_answer(data: bytes) -> icalendar.Event:
    message = email.message_from_bytes(data, policy=policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]


@pytest.fixture
def client(sink, smtp):
    smtp.sink = sink
    return smtp


def test_a_day_naming_an_all_day_events_date_answers_it(client):
    title = "Journée portes ouvertes (réponse datée)"
    event, invitation = answered(client, title, date(2026, 3, 12), all_day=True,
                                 starts=datetime(2026, 3, 12), ends=datetime(2026, 3, 12))
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    assert request.decoded("DTSTART") == date(2026, 3, 12)
    assert answer_of(event, "joseph.fabre").answer.value == "accepted"


def test_a_day_naming_the_day_of_an_event_at_a_time_answers_it(client):
    """09:00 in Paris on the 12th, named by its day."""
    event, _ = answered(client, "Réunion parents-professeurs (réponse datée d'un jour)",
                        date(2026, 3, 12))
    assert answer_of(event, "joseph.fabre").answer.value == "accepted"


def test_a_time_naming_the_start_of_an_event_answers_it(client):
    event, _ = answered(client, "Réunion parents-professeurs (réponse datée à l'heure)",
                        datetime(2026, 3, 12, 8, tzinfo=UTC))
    assert answer_of(event, "joseph.fabre").answer.value == "accepted"


def test_a_day_the_event_does_not_have_is_refused_as_answering_none_of_its_dates(client):
    title = "Réunion parents-professeurs (autre jour)"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(client.sink, JOSEPH, title)
    data, organizer = reply(invitation, "ACCEPTED", sender=JOSEPH,
                            recurrence_id=date(2026, 3, 13))
    assert sent_answer(data)["RECURRENCE-ID"].to_ical() == b"20260313"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail(JOSEPH, [organizer], data)
    assert refused.value.smtp_code == 550
    assert "Cette reponse ne concerne pas un evenement en cours de cet agenda." in \
        " ".join(refused.value.smtp_error.decode().split())
    assert answer_of(event, "joseph.fabre") is None


def test_a_day_of_an_all_day_series_is_still_one_date_refused(client):
    title = "Sortie du jeudi (toute la journée, une date)"
    event, _ = published(title, notify=True, ask_confirmation=True, all_day=True,
                         starts=datetime(2026, 3, 12), ends=datetime(2026, 3, 12),
                         repeat=Repeat.WEEKLY, until=date(2026, 4, 30))
    _, invitation = invitation_to(client.sink, JOSEPH, title)
    data, organizer = reply(invitation, "DECLINED", sender=JOSEPH,
                            recurrence_id=date(2026, 3, 19))
    with pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail(JOSEPH, [organizer], data)
    assert "une seule date" in refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None
