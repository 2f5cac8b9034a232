"""Local time of the agenda (PREAU_TIMEZONE, Europe/Paris by default: the readers' zone of
directory/clock.py) against the naive UTC the database keeps.

Every conversion goes through zoneinfo, so "10:00 on the Sunday the clocks change" and "every
Tuesday at 10:00 from March to April" stay at 10:00 on the wall whatever the offset that day.
A local time that does not exist (02:30 on the last Sunday of March) or exists twice (02:30 on
the last Sunday of October) is refused rather than guessed.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from directory.clock import local_time, readers_zone


class AmbiguousTime(ValueError):
    """A local time skipped or repeated by a DST change; `kind` is "gap" or "fold"."""

    def __init__(self, kind: str, when: datetime):
        super().__init__(f"{kind} {when:%Y-%m-%d %H:%M}")
        self.kind, self.when = kind, when


def to_utc(local: datetime) -> datetime:
    """Naive local wall time → naive UTC; a wall time the DST change skips or repeats raises."""
    first = local.replace(tzinfo=readers_zone(), fold=0)
    second = local.replace(tzinfo=readers_zone(), fold=1)
    if first.utcoffset() != second.utcoffset():
        back = first.astimezone(UTC).astimezone(readers_zone()).replace(tzinfo=None)
        raise AmbiguousTime("gap" if back != local else "fold", local)
    return first.astimezone(UTC).replace(tzinfo=None)


def to_local(utc: datetime) -> datetime:
    """Naive UTC → naive local wall time."""
    return local_time(utc).replace(tzinfo=None)


def aware(utc: datetime) -> datetime:
    """Naive UTC → aware local time (for iCalendar, which writes its TZID)."""
    return local_time(utc)


def from_aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def day_start(day: date) -> datetime:
    """UTC of local midnight starting `day` (midnight always exists in Paris)."""
    return to_utc(datetime.combine(day, time()))


def all_day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds of the local days first…last included."""
    return day_start(first), day_start(last + timedelta(days=1))


def local_date(utc: datetime) -> date:
    return to_local(utc).date()
