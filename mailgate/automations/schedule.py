"""When a communication runs next, in the readers' time zone (PREAU_TIMEZONE, Europe/Paris).

"Every day at 08:00" means 08:00 on the readers' clocks: 07:00 UTC in winter, 06:00 UTC in
summer. The next occurrence is always the first one *after now*: a worker back after three
days runs the missed occurrence once, then plans the next one to come — never a burst of
every occurrence it missed.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from directory.clock import readers_zone

from .models import Communication, Repeat


def parse_time(value: str) -> time:
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def to_utc(local: datetime) -> datetime:
    """A wall-clock time of the readers' zone as naive UTC."""
    return local.replace(tzinfo=readers_zone()).astimezone(UTC).replace(tzinfo=None)


def next_occurrence(communication: Communication, now: datetime) -> datetime | None:
    """The first planned time strictly after `now` (naive UTC); None when none remains."""
    if communication.repeat == Repeat.ONCE:
        send_at = communication.send_at
        return send_at if send_at is not None and send_at > now else None
    at = parse_time(communication.at_time or "08:00")
    today = now.replace(tzinfo=UTC).astimezone(readers_zone()).date()
    for ahead in range(0, 9):
        day = today + timedelta(days=ahead)
        if communication.repeat == Repeat.WEEKLY and day.weekday() != communication.weekday:
            continue
        candidate = to_utc(datetime.combine(day, at))
        if candidate > now:
            return candidate
    return None


def plan(communication: Communication, now: datetime) -> None:
    """Set the next run of a communication just created, edited or reactivated. A ONCE
    communication whose time has passed runs at once (it was asked for)."""
    if communication.draft or not communication.active:
        communication.next_run_at = None
    elif communication.repeat == Repeat.ONCE:
        communication.next_run_at = communication.send_at or now
    else:
        communication.next_run_at = next_occurrence(communication, now)
