"""A moved occurrence named by a day (RECURRENCE-ID;VALUE=DATE). RFC 5545 §3.8.4.4 wants
RECURRENCE-ID of DTSTART's type: a day in an all-day series, which names that day's
occurrence; some clients write a day in a series at a time of day too, which names the
occurrence starting that day (Paris time), as a day in EXDATE does — or, when several start
that day, none can be told apart and the moved copy is skipped with its reason."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from agenda import ical_read, importing, recurrence
from agenda.models import Event
from directory.db import db
from portal.agenda.wording import skip_reason
from tests.agenda.test_ical_import import calendar, vevent


def imported(claire, agenda_4a, data: bytes) -> dict[str, Event]:
    importing.apply(claire, agenda_4a, ical_read.read(data))
    db.session.flush()
    return {e.title: e for e in db.session.scalars(
        select(Event).where(Event.agenda_id == agenda_4a.id))}


def days_of(event: Event) -> list[str]:
    return [f"{o.local_start:%d/%m %H:%M}" for o in recurrence.all_of(event, strict=False)]


def test_a_day_names_the_occurrence_of_that_day_in_an_all_day_series(claire, agenda_4a):
    events = imported(claire, agenda_4a, calendar(
        *vevent("sortie@test", "DTSTART;VALUE=DATE:20260317", "DTEND;VALUE=DATE:20260318",
                "RRULE:FREQ=WEEKLY;COUNT=3", "SUMMARY:Sortie"),
        *vevent("sortie@test", "RECURRENCE-ID;VALUE=DATE:20260324",
                "DTSTART;VALUE=DATE:20260326", "DTEND;VALUE=DATE:20260327",
                "SUMMARY:Sortie reportée")))
    assert days_of(events["Sortie"]) == ["17/03 00:00", "31/03 00:00"]
    assert days_of(events["Sortie reportée"]) == ["26/03 00:00"]


def test_a_day_names_the_occurrence_starting_that_day_in_a_timed_series(claire, agenda_4a):
    """The Tuesday 10:00 (Paris) class moved to Wednesday, named by its day: the Tuesday
    was shown twice, at 10:00 in the series and on Wednesday as its moved copy."""
    events = imported(claire, agenda_4a, calendar(
        *vevent("cours@test", "DTSTART;TZID=Europe/Paris:20260317T100000",
                "DTEND;TZID=Europe/Paris:20260317T110000", "RRULE:FREQ=WEEKLY;COUNT=3",
                "SUMMARY:Cours"),
        *vevent("cours@test", "RECURRENCE-ID;VALUE=DATE:20260324",
                "DTSTART;TZID=Europe/Paris:20260325T100000",
                "DTEND;TZID=Europe/Paris:20260325T110000", "SUMMARY:Cours déplacé")))
    assert days_of(events["Cours"]) == ["17/03 10:00", "31/03 10:00"]
    assert days_of(events["Cours déplacé"]) == ["25/03 10:00"]
    # named by the day or by its time, the moved copy is the same event
    assert events["Cours déplacé"].uid == "cours@test/20260324T090000Z"


def test_the_moved_copy_may_come_before_its_series(ctx):
    read = ical_read.read(calendar(
        *vevent("cours@test", "RECURRENCE-ID;VALUE=DATE:20260324",
                "DTSTART:20260325T090000Z", "DTEND:20260325T100000Z", "SUMMARY:Cours déplacé"),
        *vevent("cours@test", "DTSTART:20260317T090000Z", "DTEND:20260317T100000Z",
                "RRULE:FREQ=WEEKLY;COUNT=3", "SUMMARY:Cours")))
    series = next(e for e in read.events if e.title == "Cours")
    assert series.exdates == [datetime(2026, 3, 24, 9)]


def test_a_day_among_several_occurrences_of_that_day_is_skipped_with_its_reason(ctx):
    read = ical_read.read(calendar(
        *vevent("garde@test", "DTSTART:20260324T080000Z", "DTEND:20260324T090000Z",
                "RRULE:FREQ=HOURLY;COUNT=4", "SUMMARY:Permanence"),
        *vevent("garde@test", "RECURRENCE-ID;VALUE=DATE:20260324",
                "DTSTART:20260324T150000Z", "DTEND:20260324T160000Z",
                "SUMMARY:Permanence déplacée")))
    assert [e.title for e in read.events] == ["Permanence"]
    assert read.events[0].exdates == []
    ((uid, reason),) = read.skipped
    assert uid == "garde@test"
    assert "plusieurs" in skip_reason(reason)


def test_a_day_of_an_all_day_series_given_a_time_still_names_that_day(ctx):
    """The other way round: a client writes a time of day for an occurrence of an all-day
    series (midnight UTC, 01:00 in Paris): the date written is the day."""
    read = ical_read.read(calendar(
        *vevent("sortie@test", "DTSTART;VALUE=DATE:20260317", "DTEND;VALUE=DATE:20260318",
                "RRULE:FREQ=WEEKLY;COUNT=3", "SUMMARY:Sortie"),
        *vevent("sortie@test", "RECURRENCE-ID:20260324T000000Z",
                "DTSTART;VALUE=DATE:20260326", "DTEND;VALUE=DATE:20260327",
                "SUMMARY:Sortie reportée")))
    series = next(e for e in read.events if e.title == "Sortie")
    assert series.exdates == [datetime(2026, 3, 23, 23)]      # the 24th's Paris midnight
