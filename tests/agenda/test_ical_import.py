"""Reading and importing .ics files: time zones the machine does not know, X-WR-TIMEZONE,
recurrences kept, the same UID updated, a broken file refused with its line — and every .ics
file shipped in the icalendar package's own tests imported or refused cleanly."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import icalendar
import pytest

from agenda import ical, ical_read, importing, recurrence
from agenda.errors import AgendaError, Problem
from portal.agenda.wording import describe
from tests.agenda.conftest import event_input, save

SHIPPED = sorted((Path(icalendar.__file__).parent / "tests").rglob("*.ics"))


def calendar(*lines: str) -> bytes:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR", *lines,
                        "END:VCALENDAR", ""]).encode()


def vevent(uid: str, *lines: str) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]


def test_the_icalendar_package_ships_test_files():
    assert len(SHIPPED) > 50


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_imports_or_is_refused_with_a_reason(path, ctx, claire, agenda_4a):
    try:
        read = ical_read.read(path.read_bytes())
    except AgendaError as error:
        words = describe(error)
        assert words and "%(" not in words
        if error.problem == Problem.ICS_UNREADABLE:
            assert f"ligne {error.params['line']}" in words
        return
    lines = importing.apply(claire, agenda_4a, read)
    assert len(lines) == len(read.events) + len(read.skipped)
    assert all(line.reason for line in lines if line.fate == importing.Fate.SKIP)


def test_a_zone_the_machine_does_not_know_is_read_from_the_files_vtimezone(ctx):
    read = ical_read.read(calendar(
        "BEGIN:VTIMEZONE", "TZID:Mars/Olympus", "BEGIN:STANDARD", "DTSTART:19700101T000000",
        "TZOFFSETFROM:+0300", "TZOFFSETTO:+0300", "TZNAME:MOT", "END:STANDARD", "END:VTIMEZONE",
        *vevent("mars-1", "DTSTART;TZID=Mars/Olympus:20260312T100000",
                "DTEND;TZID=Mars/Olympus:20260312T110000", "SUMMARY:Réunion martienne")))
    (event,) = read.events
    assert (event.starts_at, event.ends_at) == (datetime(2026, 3, 12, 7), datetime(2026, 3, 12, 8))
    assert event.notes == []


def test_a_zone_nobody_defines_is_read_as_paris_time_and_said_so(ctx):
    read = ical_read.read(calendar(*vevent(
        "nowhere-1", "DTSTART;TZID=Nowhere/Land:20260312T100000",
        "DTEND;TZID=Nowhere/Land:20260312T110000", "SUMMARY:Quelque part")))
    (event,) = read.events
    assert event.starts_at == datetime(2026, 3, 12, 9)
    assert "unknown_zone" in event.notes


def test_x_wr_timezone_gives_floating_times_their_zone(ctx):
    read = ical_read.read(calendar(
        "X-WR-TIMEZONE:America/New_York",
        *vevent("ny-1", "DTSTART:20260312T100000", "DTEND:20260312T110000", "SUMMARY:NY")))
    assert read.events[0].starts_at == datetime(2026, 3, 12, 14)      # 10:00 EDT


def test_a_broken_line_is_refused_with_its_number(ctx):
    with pytest.raises(AgendaError) as refused:
        ical_read.read(calendar(*vevent("b-1", "DTSTART:20260312T100000Z", "NOT A PROPERTY")))
    assert refused.value.problem == Problem.ICS_UNREADABLE
    assert refused.value.params["line"] == 8
    assert describe(refused.value).startswith("Fichier iCalendar illisible, ligne 8 :")


def test_a_file_that_is_no_calendar_is_refused(ctx):
    for data in (b"", b"hello", b"BEGIN:VEVENT\r\nEND:VEVENT\r\n"):
        with pytest.raises(AgendaError) as refused:
            ical_read.read(data)
        assert refused.value.problem == Problem.ICS_NOT_A_CALENDAR


def test_recurrence_kept_unknown_properties_ignored_same_uid_updated(claire, agenda_4a):
    weekly = ["DTSTART;TZID=Europe/Paris:20260317T100000",
              "DTEND;TZID=Europe/Paris:20260317T110000",
              "RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Paris:20260324T100000",
              "X-UNKNOWN-THING:whatever", "SUMMARY:Théâtre"]
    lines = importing.apply(claire, agenda_4a, ical_read.read(calendar(*vevent("w-1", *weekly))))
    assert [line.fate for line in lines] == [importing.Fate.CREATE]
    from sqlalchemy import select

    from agenda.models import Event
    from directory.db import db

    event = db.session.scalar(select(Event).where(Event.uid == "w-1"))
    starts = [o.local_start for o in recurrence.all_of(event, strict=False)]
    assert datetime(2026, 3, 24, 10) not in [o.local_start for o in recurrence.between(
        event, datetime(2026, 3, 1), datetime(2026, 5, 1))]
    assert starts[0] == datetime(2026, 3, 17, 10) and starts[-1] == datetime(2026, 4, 14, 10)
    again = importing.apply(claire, agenda_4a, ical_read.read(calendar(*vevent("w-1", *weekly))))
    assert [line.fate for line in again] == [importing.Fate.UNCHANGED]
    renamed = [line.replace("Théâtre", "Théâtre (salle B)") for line in weekly]
    again = importing.apply(claire, agenda_4a, ical_read.read(calendar(*vevent("w-1", *renamed))))
    assert [line.fate for line in again] == [importing.Fate.UPDATE]
    assert event.title == "Théâtre (salle B)" and event.sequence == 1


def test_a_uid_twice_in_the_file_keeps_the_first_and_skips_the_later(claire, agenda_4a):
    at_ten = ["DTSTART;TZID=Europe/Paris:20260317T100000",
              "DTEND;TZID=Europe/Paris:20260317T110000"]
    data = calendar(*vevent("d-1", *at_ten, "SUMMARY:Premier"),
                    *vevent("d-2", *at_ten, "SUMMARY:Autre"),
                    *vevent("d-1", *at_ten, "SUMMARY:Doublon"))
    read = ical_read.read(data)
    assert [e.title for e in read.events] == ["Premier", "Autre"]
    assert read.skipped == [("d-1", ical_read.DUPLICATE_UID)]
    lines = importing.apply(claire, agenda_4a, read)
    assert sorted((line.fate, line.uid, line.reason) for line in lines) == [
        (importing.Fate.CREATE, "d-1", ""), (importing.Fate.CREATE, "d-2", ""),
        (importing.Fate.SKIP, "d-1", ical_read.DUPLICATE_UID)]
    from sqlalchemy import select

    from agenda.models import Event
    from directory.db import db

    db.session.flush()
    assert db.session.scalar(select(Event.title).where(Event.uid == "d-1")) == "Premier"


def test_a_long_uid_and_its_moved_occurrence_fit_the_column(claire, agenda_4a):
    """A UID of 300 characters, and the copy of one occurrence moved (its UID and the
    date): both within the 255 the column holds, the occurrence still left out of the
    series."""
    long = "x" * 300 + "@test"
    data = calendar(*vevent(long, "DTSTART:20260317T090000Z", "DTEND:20260317T100000Z",
                            "RRULE:FREQ=WEEKLY;COUNT=3", "SUMMARY:Cours"),
                    *vevent(long, "RECURRENCE-ID:20260324T090000Z",
                            "DTSTART:20260325T090000Z", "DTEND:20260325T100000Z",
                            "SUMMARY:Cours déplacé"))
    read = ical_read.read(data)
    assert [len(e.uid) <= 255 for e in read.events] == [True, True]
    series = next(e for e in read.events if e.title == "Cours")
    assert [f"{d:%Y%m%d}" for d in series.exdates] == ["20260324"]
    importing.apply(claire, agenda_4a, read)
    from directory.db import db

    db.session.flush()


def test_an_export_imports_back_unchanged(claire, agenda_4a):
    event, _ = save(claire, agenda_4a, event_input(place="Musée", summary="Pique-nique"))
    data = ical.export([event], name="4A")
    lines = importing.plan(agenda_4a, ical_read.read(data))
    assert [(line.fate, line.uid) for line in lines] == [(importing.Fate.UNCHANGED, event.uid)]


def test_a_rule_repeating_every_second_is_expanded_no_further_than_its_kept_occurrences(
        claire, agenda_4a):
    """The import keeps 400 occurrences; a month's page asked the expander for millions."""
    from datetime import timedelta

    from agenda.models import Event
    from directory.db import db

    read = ical_read.read(calendar(*vevent(
        "chaque-seconde@test", "DTSTART:20270301T080000Z", "DTEND:20270301T080001Z",
        "RRULE:FREQ=SECONDLY", "SUMMARY:Trop souvent")))
    importing.apply(claire, agenda_4a, read)
    event = db.session.scalar(db.select(Event).where(Event.uid == "chaque-seconde@test"))
    start = datetime(2027, 3, 1)
    found = recurrence.between(event, start, start + timedelta(days=60))
    assert 0 < len(found) <= recurrence.MAX_OCCURRENCES


def test_an_event_longer_than_a_year_is_skipped_with_its_reason(claire, agenda_4a):
    read = ical_read.read(calendar(*vevent(
        "millenaire@test", "DTSTART;VALUE=DATE:00020101", "DTEND;VALUE=DATE:99980101",
        "SUMMARY:Toujours")))
    assert read.events == [] and read.skipped == [("millenaire@test", ical_read.TOO_LONG)]
    lines = importing.apply(claire, agenda_4a, read)
    assert [line.reason for line in lines] == [ical_read.TOO_LONG]


def test_an_instants_series_keeps_its_last_occurrence_in_a_page(claire, agenda_4a):
    """An event without length: its last occurrence ends where it starts, at the bound."""
    from datetime import timedelta

    from agenda.models import Event
    from directory.db import db

    read = ical_read.read(calendar(*vevent(
        "instant@test", "DTSTART:20270301T080000Z", "DTEND:20270301T080000Z",
        "RRULE:FREQ=DAILY;COUNT=3", "SUMMARY:Rappel")))
    importing.apply(claire, agenda_4a, read)
    event = db.session.scalar(db.select(Event).where(Event.uid == "instant@test"))
    found = recurrence.between(event, datetime(2027, 3, 1), datetime(2027, 3, 1) + timedelta(10))
    assert [o.starts_at.day for o in found] == [1, 2, 3]
