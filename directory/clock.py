"""Naive UTC timestamps everywhere (SQLite keeps no time zone). People read them in the
readers' time zone, PREAU_TIMEZONE (Europe/Paris by default): pages and mail reports turn a
stored time into theirs through `local_time`, and nowhere else."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

DEFAULT_ZONE = "Europe/Paris"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def local_time(when: datetime) -> datetime:
    """A stored naive-UTC time as the readers' clocks show it (aware, in their zone)."""
    return when.replace(tzinfo=UTC).astimezone(readers_zone())


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
