"""Answers by mail that must not land on the wrong answer: two parents who registered one
family address each get their own invitation at it, and a mail client's answer counts for
the one it names — or is refused, never given to whichever account came first; an answer to
one date of a repeated event does not answer every date; one to a cancelled event is told
so."""
from __future__ import annotations

import email
import itertools
import os
import smtplib
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import icalendar
import pytest

from agenda import events
from agenda.recurrence import Repeat
from directory.db import db, write_transaction
from directory.enums import Profile
from mailgate import worker

from .agenda_helpers import answer_of, invitation_to, published
from .conftest import new_account

_families = itertools.count(1)


def reply(invitation: bytes, partstat: str, *, sender: str, name: str | None = None,
          recurrence_id=None) -> tuple[bytes, str]:
    """The METHOD:REPLY a mail client writes for the invitation's attendee, with the CN it
    was invited under unless `name` says another (empty: none); `recurrence_id`: the answer
    for that occurrence only, as clients send when one date of a series is answered."""
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    answer = icalendar.Event()
    for field in ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "DTSTAMP"):
        answer.add(field, request.decoded(field))
    answer.add("ORGANIZER", request["ORGANIZER"])
    invited = request["ATTENDEE"]
    who = icalendar.vCalAddress(str(invited))
    cn = str(invited.params["CN"]) if name is None else name
    if cn:
        who.params["CN"] = cn
    who.params["PARTSTAT"] = partstat
    answer.add("ATTENDEE", who)
    if recurrence_id is not None:
        answer.add("RECURRENCE-ID", recurrence_id)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Test client//FR")
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "REPLY")
    calendar.add_component(answer)
    organizer = str(request["ORGANIZER"]).removeprefix("mailto:")
    message = EmailMessage()
    message["From"], message["To"] = sender, organizer
    message["Subject"] = f"Accepté : {request['SUMMARY']}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Réponse à l'invitation.")
    message.add_alternative(calendar.to_ical(), maintype="text", subtype="calendar",
                            params={"method": "REPLY"})
    return message.as_bytes(policy=policy.SMTP), organizer


def invitations_by_name(sink, address: str, title: str) -> dict[str, bytes]:
    """The invitations of `title` forwarded to `address`, by the name they are made out to."""
    worker.drain()
    found = {}
    for delivery in sink.to(address):
        message = email.message_from_bytes(delivery.data, policy=policy.default)
        if title not in str(message["Subject"]):
            continue
        part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        data = part.get_payload(decode=True)
        attendee = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]["ATTENDEE"]
        found[str(attendee.params["CN"])] = data
    return found


@pytest.fixture
def family():
    """Two parents of a new pupil of 4A who registered one address; the first created is
    the one the gateway takes as the author of that address's mail."""
    address = f"famille-{os.getpid()}-{next(_families)}@example.org"
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    first = new_account(Profile.PARENT, redirect=address, parent_of=pupil.login)
    second = new_account(Profile.PARENT, redirect=address, parent_of=pupil.login)
    return address, first, second


def test_each_parent_of_a_shared_address_answers_for_themself(sink, smtp, family):
    address, first, second = family
    title = "Réunion parents (adresse partagée)"
    event, _ = published(title, notify=True, ask_confirmation=True)
    invitations = invitations_by_name(sink, address, title)
    assert set(invitations) == {first.full_name, second.full_name}   # one each, at one address
    data, organizer = reply(invitations[second.full_name], "DECLINED", sender=address)
    smtp.sendmail(address, [organizer], data)
    assert answer_of(event, second.login).answer.value == "refused"
    assert answer_of(event, first.login) is None
    data, organizer = reply(invitations[first.full_name], "ACCEPTED", sender=address)
    smtp.sendmail(address, [organizer], data)
    assert answer_of(event, first.login).answer.value == "accepted"
    assert answer_of(event, second.login).answer.value == "refused"


@pytest.mark.parametrize("name", ["", "Famille Passerelle"])
def test_an_answer_from_a_shared_address_that_names_no_one_of_it_is_refused(
        sink, smtp, family, name):
    """A client that drops the invitation's name, or puts the mailbox owner's own: nobody
    can tell which parent answers, so the sender is told so rather than one of them
    answered for."""
    address, first, second = family
    title = f"Réunion parents (sans nom {name or 'vide'})"
    event, _ = published(title, notify=True, ask_confirmation=True)
    invitations = invitations_by_name(sink, address, title)
    data, organizer = reply(invitations[second.full_name], "ACCEPTED", sender=address,
                            name=name)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail(address, [organizer], data)
    assert refused.value.smtp_code == 550
    assert "plusieurs personnes" in refused.value.smtp_error.decode()
    assert answer_of(event, first.login) is None and answer_of(event, second.login) is None


def test_a_shared_address_with_one_invited_answers_for_that_one(sink, smtp):
    """Only the second account of the address reads the agenda: the answer is its own,
    whoever the gateway took as the address's author."""
    address = f"famille-{os.getpid()}-{next(_families)}@example.org"
    outsider = new_account(Profile.PARENT, redirect=address)
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    parent = new_account(Profile.PARENT, redirect=address, parent_of=pupil.login)
    title = "Réunion parents (un seul invité)"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, address, title)
    data, organizer = reply(invitation, "ACCEPTED", sender=address, name="")
    smtp.sendmail(address, [organizer], data)
    assert answer_of(event, parent.login).answer.value == "accepted"
    assert answer_of(event, outsider.login) is None


def weekly(title: str):
    return published(title, notify=True, ask_confirmation=True, repeat=Repeat.WEEKLY,
                     until=date(2026, 4, 30))


def test_an_answer_for_one_date_of_a_series_is_refused(sink, smtp):
    """Answers are kept per event: one for the second Thursday alone would have answered
    every Thursday."""
    title = "Atelier du jeudi (une date)"
    event, _ = weekly(title)
    _, invitation = invitation_to(sink, "joseph@example.org", title)
    request = icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]
    assert "RRULE" in request
    second_thursday = request.decoded("DTSTART") + timedelta(days=7)
    data, organizer = reply(invitation, "DECLINED", sender="joseph@example.org",
                            recurrence_id=second_thursday)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], data)
    assert refused.value.smtp_code == 550
    assert "une seule date" in refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None
    data, organizer = reply(invitation, "DECLINED", sender="joseph@example.org")
    smtp.sendmail("joseph@example.org", [organizer], data)      # the whole series: counts
    assert answer_of(event, "joseph.fabre").answer.value == "refused"


def test_an_answer_to_a_cancelled_event_is_told_so(sink, smtp):
    title = "Sortie au musée (annulée avant la réponse)"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, "joseph@example.org", title)
    write_transaction(lambda: events.cancel(db.session.merge(event)))
    data, organizer = reply(invitation, "ACCEPTED", sender="joseph@example.org")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("joseph@example.org", [organizer], data)
    assert refused.value.smtp_code == 550
    assert "Cet evenement est annule : il n'attend plus de reponse." in \
        refused.value.smtp_error.decode()
    assert answer_of(event, "joseph.fabre") is None
