"""A Date field at the end of the calendar (review R5, finding 2): read as an unreadable date —
the time the message is stored — as for a broken clock. « 31 Dec 9999 23:30 -0100 » is
past year 9999 in UTC: turning it into UTC raised OverflowError, which is no ValueError, so
the gateway's commit failed and it answered 451 to every try, for days. The same date in
UTC (or without zone, « -0000 ») was stored, and then overflowed on every page showing it in
Paris time."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from directory.clock import utcnow
from directory.enums import Profile
from mailgate import mime

from .conftest import address_of, new_account
from .helpers import mail, raw, stored_with_id


def _sent_at(date: str) -> datetime:
    return mime.parse(f"Date: {date}\r\nSubject: x\r\n\r\nx".encode()).sent_at


@pytest.mark.parametrize("date", [
    "Fri, 31 Dec 9999 23:30:00 -0100",      # past 9999 in UTC
    "Fri, 31 Dec 9999 23:30:00 +0000",      # past 9999 in Paris
    "Fri, 31 Dec 9999 23:30:00 -0000",      # no zone: naive
    "Mon, 1 Jan 9000 00:00:00 +0000",
    "Mon, 1 Jan 1800 00:00:00 +0000",
])
def test_a_date_near_the_ends_of_the_calendar_reads_as_the_time_of_reading(date):
    before = utcnow()
    assert before <= _sent_at(date) <= utcnow()


def test_an_ordinary_date_is_kept_in_utc():
    assert _sent_at("Tue, 1 Dec 2026 15:10:00 +0100") == datetime(2026, 12, 1, 14, 10)
    assert _sent_at("Fri, 31 Dec 8999 23:30:00 +0000") == datetime(8999, 12, 31, 23, 30)


def test_a_date_that_overflows_in_utc_is_accepted(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message = mail("joseph@example.org", address_of(pupil), "Au bout du temps")
    message.replace_header("Date", "Fri, 31 Dec 9999 23:30:00 -0100")
    assert smtp.mail("joseph@example.org")[0] == 250
    assert smtp.rcpt(address_of(pupil))[0] == 250
    code, reply = smtp.data(raw(message))
    assert code == 250, reply
    stored = stored_with_id(message["Message-ID"])
    assert abs(stored.sent_at - stored.stored_at) < timedelta(seconds=5)
