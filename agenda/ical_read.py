"""Reading an .ics file (RFC 5545) into events to import, with the `icalendar` library.

A file is refused as a whole, with the line and the reason, when it is not a calendar or a
content line cannot be parsed; otherwise each VEVENT is read on its own and one that cannot
be used (no start, an end before its start) is skipped with its reason, the others imported.
A UID met again (merged calendars, an exporter that repeats an event) keeps its first event;
the later ones are skipped with the reason DUPLICATE_UID.
Unknown properties are ignored. Times:
- with a TZID the file defines (VTIMEZONE) or the machine knows: converted to UTC, even when
  the zone is unknown to the machine (icalendar builds it from the file's VTIMEZONE);
- with a TZID neither knows, or floating (no zone): read as Paris time, and said so;
- a calendar-wide X-WR-TIMEZONE (Google's exports) is applied first (x-wr-timezone).
Recurring events keep their RRULE and EXDATEs; a modified occurrence (RECURRENCE-ID) becomes
an event of its own and is excluded from its series. RDATE is not kept (said so).
RFC 5545 §3.8.4.4 wants a RECURRENCE-ID of its series' DTSTART type; some clients write a day
for an occurrence of a series at a time of day, or a time for one of an all-day series: each
names the occurrence of that day (`_original_start`), as a day in EXDATE does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import icalendar
import x_wr_timezone
from dateutil.rrule import rrulestr
from icalendar.parser import Contentline

from . import recurrence, times
from .errors import AgendaError, Problem
from .events import LONGEST
from .models import Event, EventStatus

MAX_BYTES = 5 * 1024 * 1024
# Events (VEVENT) a file may hold: each is looked up, and a repeated one expanded, at the
# preview and again at the import; a school's year fits many times over.
MAX_EVENTS = 5_000
TITLE_MAX, PLACE_MAX, SUMMARY_MAX = 200, 200, 10_000
# What the calendar library raises on text it cannot read: the import and the answers by mail
# (agenda/itip.py) catch the same.
UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError)


@dataclass
class ImportedEvent:
    uid: str
    title: str
    starts_at: datetime             # UTC
    ends_at: datetime               # UTC
    all_day: bool
    place: str = ""
    summary: str = ""
    rrule: str | None = None
    exdates: list[datetime] = field(default_factory=list)      # UTC starts
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)             # reason codes, see NOTES


NOTES = ("floating_time", "unknown_zone", "rdate_ignored", "untitled")
UID_MAX = 255       # Event.uid's length
# Skip reasons of ours, which the portal words (the calendar library's own are kept as said)
DUPLICATE_UID = "duplicate_uid"
NO_START = "no_start"
MIXED_TIMES = "mixed_times"             # a day for one end, a time for the other
END_BEFORE_START = "end_before_start"
TOO_LONG = "too_long"                   # longer than an event of the form may last
SEVERAL_THAT_DAY = "several_that_day"   # a RECURRENCE-ID day on which several occurrences start


@dataclass
class ReadCalendar:
    events: list[ImportedEvent]
    skipped: list[tuple[str, str]]          # (uid, reason as the library said it, or one
                                            # of our codes below)


def read(data: bytes) -> ReadCalendar:
    if len(data) > MAX_BYTES:
        raise AgendaError(Problem.ICS_TOO_LARGE, max_mb=MAX_BYTES // (1024 * 1024))
    text = _decoded(data)
    if (line := nul_line(text)) is not None:
        raise AgendaError(Problem.ICS_UNREADABLE, line=line, reason="NUL (U+0000)")
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise AgendaError(Problem.ICS_NOT_A_CALENDAR)
    if _check_lines(text) > MAX_EVENTS:
        raise AgendaError(Problem.ICS_TOO_MANY_EVENTS, max=MAX_EVENTS)
    try:
        result = _read_calendars(text)
    except RecursionError:      # components nested deeper than Python walks them
        raise AgendaError(Problem.ICS_TOO_NESTED) from None
    if not result.events and not result.skipped:
        raise AgendaError(Problem.ICS_NO_EVENT)
    return result


def _read_calendars(text: str) -> ReadCalendar:
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except UNREADABLE as error:
        raise AgendaError(Problem.ICS_UNREADABLE, line="?", reason=_one_line(error)) from None
    result = ReadCalendar([], [])
    for calendar in calendars:
        if calendar.name != "VCALENDAR":
            raise AgendaError(Problem.ICS_NOT_A_CALENDAR)
        try:
            calendar = x_wr_timezone.to_standard(calendar)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass                        # an unknown X-WR-TIMEZONE: events read as they are
        _read_events(calendar, result)
    return result


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def nul_line(text: str | bytes) -> int | None:
    """The line of the first NUL (U+0000), or None. Text holding one is unreadable, a file or an
    answer by mail: no calendar writes it (a UTF-16 file has one in every other byte), and
    PostgreSQL refuses it in any text column."""
    nul, newline = ("\x00", "\n") if isinstance(text, str) else (b"\x00", b"\n")
    at = text.find(nul)
    return None if at < 0 else text.count(newline, 0, at) + 1


def _check_lines(text: str) -> int:
    """Parse every unfolded content line, to name the first broken one by its line number.
    Returns the number of events (BEGIN:VEVENT lines, as the calendar library reads them)."""
    number, start, current, events = 0, 1, "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and current:
            current += raw[1:]
            continue
        events += _check_line(current, start)
        current, start = raw, number
    return events + _check_line(current, start)


def _check_line(line: str, number: int) -> bool:
    """Whether the line begins an event; raises ICS_UNREADABLE when it cannot be parsed."""
    if not line.strip():
        return False
    try:
        name, _params, value = Contentline(line).parts()
    except ValueError as error:
        reason = str(error).split(": ")[-1] if ": " in str(error) else str(error)
        raise AgendaError(Problem.ICS_UNREADABLE, line=number, reason=_one_line(reason)) \
            from None
    return name.upper() == "BEGIN" and str(value).strip().upper() == "VEVENT"


def _read_events(calendar, result: ReadCalendar) -> None:
    overrides: dict[str, list[datetime]] = {}
    seen = {event.uid for event in result.events}       # the file's earlier calendars too
    series: dict[str, object] = {}                      # uid: the component of its series
    for component in calendar.walk("VEVENT"):
        if component.get("RECURRENCE-ID") is None:
            series.setdefault(_uid(component), component)
    for component in calendar.walk("VEVENT"):
        uid = _uid(component)
        try:
            event = _event(component, uid)
            recurrence_id = component.get("RECURRENCE-ID")
            original = None if recurrence_id is None else _original_start(
                recurrence_id.dt, series.get(uid), uid, event.notes)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
            result.skipped.append((uid, _one_line(error)))
            continue
        if original is not None:
            event.uid = f"{uid[:UID_MAX - 17]}/{original:%Y%m%dT%H%M%SZ}"   # 17: the date
        if event.uid in seen:
            result.skipped.append((event.uid, DUPLICATE_UID))
            continue
        seen.add(event.uid)
        if original is not None:
            overrides.setdefault(uid, []).append(original)
        result.events.append(event)
    for event in result.events:
        event.exdates += overrides.get(event.uid, [])


def _uid(component) -> str:
    return (str(component.get("UID", "")).strip() or _made_up_uid(component))[:UID_MAX]


def _original_start(moment: datetime | date, series, uid: str, notes: list[str]) -> datetime:
    """The UTC start of the occurrence a RECURRENCE-ID names in `series` (its component, None
    when the file has none: the value is read as it is). In an all-day series, the day it
    names, as written (a time too: its date); in a series at a time of day, a day names the
    occurrence starting that day (Paris time), or the day's start when none does — the copy
    then excludes nothing —, and is refused (ValueError) when several do."""
    start = series.get("DTSTART") if series is not None else None
    if start is None:
        return _utc(moment, notes)
    if not isinstance(start.dt, datetime):
        return times.day_start(moment.date() if isinstance(moment, datetime) else moment)
    if isinstance(moment, datetime):
        return _utc(moment, notes)
    starting = _starting_on(_event(series, uid), {moment})
    if len(starting) > 1:
        raise ValueError(SEVERAL_THAT_DAY)
    return starting[0] if starting else times.day_start(moment)


def _event(component, uid: str) -> ImportedEvent:
    problems = [f"{name}: {reason}" for name, reason in getattr(component, "errors", [])]
    start_property = component.get("DTSTART")
    if start_property is None:
        raise ValueError(problems[0] if problems else NO_START)
    notes: list[str] = []
    start = start_property.dt
    all_day = not isinstance(start, datetime)
    end_property = component.get("DTEND")
    if end_property is not None:
        end = end_property.dt
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:
        end = start + timedelta(days=1) if all_day else start
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise ValueError(MIXED_TIMES)
    if all_day:
        last = end - timedelta(days=1) if end > start else start
        starts_at, ends_at = times.all_day_range(start, last)
    else:
        starts_at, ends_at = _utc(start, notes, start_property), _utc(end, notes, end_property)
    if ends_at < starts_at:
        raise ValueError(END_BEFORE_START)
    if ends_at - starts_at > LONGEST:
        raise ValueError(TOO_LONG)
    title = " ".join(str(component.get("SUMMARY", "")).split())[:TITLE_MAX]
    if not title:
        title, notes = "(sans titre)", notes + ["untitled"]
    event = ImportedEvent(
        uid=uid, title=title, starts_at=starts_at, ends_at=ends_at, all_day=all_day,
        place=" ".join(str(component.get("LOCATION", "")).split())[:PLACE_MAX],
        summary=str(component.get("DESCRIPTION", "")).strip()[:SUMMARY_MAX],
        cancelled=str(component.get("STATUS", "")).upper() == "CANCELLED", notes=notes)
    rule = component.get("RRULE")
    if rule is not None and component.get("RECURRENCE-ID") is None:
        rules = rule if isinstance(rule, list) else [rule]
        event.rrule = rules[0].to_ical().decode("ascii")
        rrulestr(event.rrule, dtstart=start if isinstance(start, datetime)
                 else datetime.combine(start, datetime.min.time()))   # ValueError: skipped
        event.exdates = _exdates(component, event, notes)
    if component.get("RDATE") is not None:
        notes.append("rdate_ignored")
    return event


def _exdates(component, event: ImportedEvent, notes: list[str]) -> list[datetime]:
    """The UTC starts of the occurrences the EXDATEs exclude. A day (VALUE=DATE) excludes, in
    a series at a time of day, the occurrences that start on that day (Paris time): some
    calendars write days there, where RFC 5545 wants DTSTART's type, and the day's midnight
    excluded nothing."""
    found, days = [], set()
    values = component.get("EXDATE", [])
    for value in values if isinstance(values, list) else [values]:
        for moment in value.dts:
            day_or_time = moment.dt
            if isinstance(day_or_time, datetime):
                found.append(_utc(day_or_time, notes))
            elif event.all_day:
                found.append(times.day_start(day_or_time))
            else:
                days.add(day_or_time)
    return found + _starting_on(event, days) if days else found


def _starting_on(event: ImportedEvent, days: set[date]) -> list[datetime]:
    """The UTC starts of `event`'s occurrences that start on one of `days`, among those the
    import keeps (agenda/importing.py: the first MAX_OCCURRENCES, or the first date alone
    of a rule the expander rejects), found as the portal finds them (agenda/recurrence.py)
    from an event not saved."""
    series = Event(uid=event.uid, title=event.title, starts_at=event.starts_at,
                   ends_at=event.ends_at, all_day=False, rrule=event.rrule, sequence=0,
                   status=EventStatus.PUBLISHED, created_at=event.starts_at,
                   updated_at=event.starts_at)
    try:
        kept = recurrence.all_of(series, strict=False)
    except AgendaError:
        kept = [recurrence.Occurrence(series, event.starts_at, event.ends_at)]
    return [o.starts_at for o in kept if o.local_start.date() in days]


def _utc(moment: datetime | date, notes: list[str], prop=None) -> datetime:
    if not isinstance(moment, datetime):
        return times.day_start(moment)
    if moment.tzinfo is not None:
        return times.from_aware(moment)
    zone = prop.params.get("TZID") if prop is not None else None
    notes.append("unknown_zone" if zone else "floating_time")
    try:
        return times.to_utc(moment)
    except times.AmbiguousTime:
        return times.from_aware(moment.replace(tzinfo=times.readers_zone()))


def _made_up_uid(component) -> str:
    """A UID for an event that has none: the same file imported twice gives the same one."""
    seed = component.to_ical()
    return f"sans-uid-{hashlib.sha256(seed).hexdigest()[:24]}@import"


def _one_line(error) -> str:
    return " ".join(str(error).split())[:300]
