"""Login throttling: after 5 failures in 15 minutes for one login or one client address,
no password is checked until the window has passed. Kept in the database so that every web
process of a region shares it."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, delete, func, or_, select

from directory.clock import utcnow
from directory.db import db
from directory.models import LoginAttempt

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def minutes_blocked(login: str, client: str) -> int:
    """0 when a login may be tried; otherwise how many minutes until it may."""
    since = utcnow() - WINDOW
    by_login, by_client, oldest = db.session.execute(
        select(func.count(case((LoginAttempt.login == login, 1))),
               func.count(case((LoginAttempt.client == client, 1))),
               func.min(LoginAttempt.at))
        .where(LoginAttempt.at > since,
               or_(LoginAttempt.login == login, LoginAttempt.client == client))
    ).one()
    if by_login < MAX_FAILURES and by_client < MAX_FAILURES:
        return 0
    remaining = (oldest + WINDOW - utcnow()).total_seconds()
    return max(1, int(remaining // 60) + 1)


def record_failure(login: str, client: str) -> None:
    """Count one failure; failures older than the window are dropped on the way (one indexed
    DELETE), so the table only ever holds the last 15 minutes."""
    purge_old()
    db.session.add(LoginAttempt(login=login[:120], client=client[:64], at=utcnow()))
    db.session.commit()


def forget_failures(login: str) -> None:
    """After a successful login, the account's own failures no longer count."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.login == login))


def purge_old() -> None:
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - WINDOW))
