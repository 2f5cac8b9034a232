"""Answers by mail the reader could not take (agenda review R1, #3): a RECURRENCE-ID of year 1
(below UTC's first year once converted from Paris time: OverflowError), and
a calendar nested deeper than the library walks it (RecursionError), went up to the gateway
as unexpected errors: a 451, which the sender's server retries for days. They are refused."""
from __future__ import annotations

import smtplib
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

import icalendar
import pytest

from .agenda_helpers import answer_of, invitation_to, published
from .test_agenda_answer_edges import reply

JOSEPH = "joseph@example.org"


def refused(smtp, data: bytes, organizer: str) -> str:
    with pytest.raises(smtplib.SMTPDataError) as error:
        smtp.sendmail(JOSEPH, [organizer], data)
    assert error.value.smtp_code == 550, error.value        # a refusal, never a 451
    return " ".join(error.value.smtp_error.decode().split())


@pytest.mark.parametrize("moment", [datetime(1, 1, 1),
                                    datetime(1, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))],
                         ids=["floating", "paris"])
def test_a_reply_dated_year_one_is_refused_not_retried(sink, smtp, moment):
    title = f"Réunion (réponse de l'an 1, {moment.tzinfo or 'flottante'})"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, JOSEPH, title)
    data, organizer = reply(invitation, "ACCEPTED", sender=JOSEPH, recurrence_id=moment)
    assert "Cette reponse ne concerne pas un evenement en cours de cet agenda." in \
        refused(smtp, data, organizer)
    assert answer_of(event, "joseph.fabre") is None


def test_a_deeply_nested_reply_is_refused(sink, smtp):
    title = "Réunion (réponse imbriquée)"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, JOSEPH, title)
    organizer = str(icalendar.Calendar.from_ical(invitation).walk("VEVENT")[0]["ORGANIZER"]) \
        .removeprefix("mailto:")
    nested = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test client//FR",
                          "METHOD:REPLY", *["BEGIN:X"] * 1500, *["END:X"] * 1500,
                          "END:VCALENDAR", ""]).encode()
    message = EmailMessage()
    message["From"], message["To"] = JOSEPH, organizer
    message["Subject"] = f"Accepté : {title}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Réponse à l'invitation.")
    message.add_alternative(nested, maintype="text", subtype="calendar",
                            params={"method": "REPLY"})
    assert "Ce message ne contient pas de reponse iCalendar (METHOD:REPLY) lisible." in \
        refused(smtp, message.as_bytes(policy=policy.SMTP), organizer)
    assert answer_of(event, "joseph.fabre") is None
