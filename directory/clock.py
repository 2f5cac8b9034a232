"""Naive UTC timestamps everywhere (SQLite keeps no time zone). People read them in the
readers' time zone, PREAU_TIMEZONE (Europe/Paris by default): pages and mail reports turn a
stored time into theirs through `local_time`, and nowhere else.

Every "now" of the project is `utcnow()`, so that tests can travel in time (`travel_to`):
the scheduler of automated communications decides what is due by it, and a test checks
what happens on a given day — across a change to summer time, after three days without a
worker — by moving the clock instead of waiting."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

DEFAULT_ZONE = "Europe/Paris"
_shift = timedelta(0)       # moved by `travel_to` only


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) + _shift


@contextmanager
def travel_to(when: datetime) -> Iterator[None]:
    """Inside the block, `utcnow()` starts from `when` (naive UTC) and runs on: for every
    thread of the process, as a worker and a web server in tests share one clock."""
    global _shift
    before = _shift
    _shift = when - datetime.now(UTC).replace(tzinfo=None)
    try:
        yield
    finally:
        _shift = before


def local_time(when: datetime) -> datetime:
    """A stored naive-UTC time as the readers' clocks show it (aware, in their zone). A time
    so near the ends of the calendar (31/12/9999 23:30) that the readers' zone would take it
    past them stays in UTC: a page showing it is shown, not a 500."""
    aware = when.replace(tzinfo=UTC)
    try:
        return aware.astimezone(readers_zone())
    except OverflowError:
        return aware


# A last day from this year on means no end: exports write 31/12/9999 for it.
NO_END_FROM_YEAR = 9000


def end_of_local_day(day: date) -> datetime | None:
    """The naive UTC moment `day` ends on the readers' clocks (the next day's start): when an
    access whose last day is `day` ends. None (no end) for a day in NO_END_FROM_YEAR or later."""
    if day.year >= NO_END_FROM_YEAR:
        return None
    next_day = datetime.combine(day + timedelta(days=1), time(), tzinfo=readers_zone())
    return next_day.astimezone(UTC).replace(tzinfo=None)


def has_ended(end: datetime | None, now: datetime | None = None) -> bool:
    """Whether an access (or a membership) ending at `end` has ended."""
    return end is not None and end <= (now or utcnow())


def last_local_day(end: datetime) -> date:
    """The last day, on the readers' clocks, before the naive UTC moment `end`: the inverse
    of `end_of_local_day`."""
    return local_time(end - timedelta(microseconds=1)).date()


def readers_zone() -> ZoneInfo:
    """PREAU_TIMEZONE of the running app; the default outside one."""
    from flask import current_app, has_app_context

    name = current_app.config.get("PREAU", {}).get("TIMEZONE") if has_app_context() else None
    return zone_named(name or DEFAULT_ZONE)


@lru_cache(maxsize=8)
def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"PREAU_TIMEZONE inconnu : « {name} » (exemple : Europe/Paris)."
                           ) from None
