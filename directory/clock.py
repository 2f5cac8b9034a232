"""Naive UTC timestamps everywhere (SQLite keeps no time zone)."""
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
