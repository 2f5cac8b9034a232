"""Recurring events: the choices of the form as RFC 5545 rules, and their occurrences.

The rule is kept as an RRULE in the local time of the first occurrence (DTSTART;TZID=
Europe/Paris): "every week at 10:00" means 10:00 on the wall before and after a DST change,
not every 168 hours. Occurrences are computed by recurring-ical-events from the very
component the export writes (agenda/ical.py), so what the portal shows and what a phone
shows cannot disagree. A rule is bounded: the form asks for an end date, and a rule imported
without one is read over `HORIZON` only.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import icalendar
import recurring_ical_events

from . import ical, times
from .errors import AgendaError, Problem
from .models import Event

MAX_OCCURRENCES = 400
HORIZON = timedelta(days=3 * 366)


class Repeat(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    OTHER = "other"                 # an imported rule the form cannot show: kept as it is


_RULES = {
    Repeat.DAILY: "FREQ=DAILY",
    Repeat.WEEKLY: "FREQ=WEEKLY",
    Repeat.FORTNIGHTLY: "FREQ=WEEKLY;INTERVAL=2",
    Repeat.MONTHLY: "FREQ=MONTHLY",
}


@dataclass(frozen=True)
class Occurrence:
    event: Event
    starts_at: datetime         # UTC
    ends_at: datetime           # UTC

    @property
    def local_start(self) -> datetime:
        return times.to_local(self.starts_at)

    @property
    def local_end(self) -> datetime:
        return times.to_local(self.ends_at)


def rule(repeat: Repeat, until: date | None, all_day: bool) -> str | None:
    """The RRULE of a form choice, up to and including the local day `until`."""
    if repeat in (Repeat.NONE, Repeat.OTHER):
        return None
    if until is None:
        raise AgendaError(Problem.BAD_RECURRENCE)
    if all_day:
        end = until.strftime("%Y%m%d")
    else:
        end = times.to_utc(datetime.combine(until, time(23, 59, 59))).strftime("%Y%m%dT%H%M%SZ")
    return f"{_RULES[repeat]};UNTIL={end}"


def repeat_of(rrule: str | None) -> tuple[Repeat, date | None]:
    """The form's choice for a stored rule (OTHER when the form cannot express it)."""
    if not rrule:
        return Repeat.NONE, None
    head, _, until = rrule.rpartition(";UNTIL=")
    for repeat, text in _RULES.items():
        if head == text and until:
            moment = icalendar.vDDDTypes.from_ical(until)
            if isinstance(moment, datetime):
                return repeat, times.to_local(times.from_aware(moment)).date()
            return repeat, moment
    return Repeat.OTHER, None


def between(event: Event, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of `event` overlapping [start, end) (UTC), cancelled ones left out."""
    if not event.rrule:
        if event.starts_at < end and event.ends_at > start:
            return [Occurrence(event, event.starts_at, event.ends_at)]
        return []
    # Never past the last occurrence kept when the event was saved (at most MAX_OCCURRENCES):
    # an imported rule may repeat every second, and a page asks for weeks.
    if event.last_ends_at is not None:     # an instant's last occurrence ends where it starts
        instant = timedelta(microseconds=1) if event.ends_at == event.starts_at else timedelta()
        end = min(end, event.last_ends_at + instant)
    if start >= end:
        return []
    cal = ical.calendar([ical.vevent(event)])
    try:
        found = recurring_ical_events.of(cal).between(times.aware(start), times.aware(end))
        return sorted((_occurrence(event, component) for component in found),
                      key=lambda o: o.starts_at)
    except (recurring_ical_events.InvalidCalendar, ValueError):   # a rule kept as it came
        if event.starts_at < end and event.ends_at > start:
            return [Occurrence(event, event.starts_at, event.ends_at)]
        return []


def all_of(event: Event, *, strict: bool = True) -> list[Occurrence]:
    """Every occurrence of `event` within `HORIZON` of its start. `strict`: more than
    `MAX_OCCURRENCES` is refused (the form); otherwise the first ones are kept (imports)."""
    if not event.rrule:
        return [Occurrence(event, event.starts_at, event.ends_at)]
    cal = ical.calendar([ical.vevent(event)])
    found = []
    try:
        for component in recurring_ical_events.of(cal).after(times.aware(event.starts_at)):
            occurrence = _occurrence(event, component)
            if occurrence.starts_at > event.starts_at + HORIZON:
                break
            found.append(occurrence)
            if len(found) > MAX_OCCURRENCES:
                if strict:
                    raise AgendaError(Problem.RECURRENCE_TOO_LONG, max=MAX_OCCURRENCES)
                found.pop()
                break
    except (recurring_ical_events.InvalidCalendar, ValueError) as error:
        if isinstance(error, AgendaError):
            raise
        raise AgendaError(Problem.BAD_RECURRENCE) from None
    return found


def _occurrence(event: Event, component) -> Occurrence:
    start, end = component.start, component.end
    if not isinstance(start, datetime):         # all-day: local days
        return Occurrence(event, times.day_start(start), times.day_start(end))
    return Occurrence(event, times.from_aware(start), times.from_aware(end))
