"""Month and week grids: which local days a page shows, and each occurrence on every day it
covers (a three-day trip shows on its three days). Pure functions of dates."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from agenda import times
from agenda.recurrence import Occurrence


def parse_month(text: str | None, today: date) -> date:
    """First day of the month `AAAA-MM`, or of today's month."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return date(year, month, 1) if 1900 < year < 3000 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


def parse_day(text: str | None, today: date) -> date:
    try:
        day = date.fromisoformat(text or "")
        return day if 1900 < day.year < 3000 else today
    except ValueError:
        return today


def month_weeks(first: date) -> list[list[date]]:
    """Weeks (Monday first) covering the month that starts on `first`."""
    start = first - timedelta(days=first.weekday())
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    weeks = []
    while start < following:
        weeks.append([start + timedelta(days=n) for n in range(7)])
        start += timedelta(days=7)
    return weeks


def week_days(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def utc_bounds(days: Sequence[date]) -> tuple[datetime, datetime]:
    return times.all_day_range(days[0], days[-1])


def by_day(occurrences: Sequence[Occurrence],
           shown: Sequence[date]) -> dict[date, list[Occurrence]]:
    """The occurrences of each day of `shown` (an event over years is not walked day by
    day beyond the page)."""
    found: dict[date, list[Occurrence]] = defaultdict(list)
    for occurrence in occurrences:
        day = max(times.local_date(occurrence.starts_at), shown[0])
        last = min(times.local_date(max(occurrence.ends_at - timedelta(seconds=1),
                                        occurrence.starts_at)), shown[-1])
        while day <= last:
            found[day].append(occurrence)
            day += timedelta(days=1)
    return found


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)
