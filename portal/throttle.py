"""Login throttling, as OWASP's authentication guidance and django-axes's "lock out by the
combination of user and address" describe it. Over the last 15 minutes:

- a client address and a login together: after 5 failures that pair is locked until the
  window has passed — the person typing there, not the account;
- one client address: a ceiling of 100 failures, for a whole school behind one NAT address,
  whatever the logins tried;
- one login, from every address: from its 5th failure on, each new attempt must come a delay
  after the previous failure, doubling from 1 second to 1 minute at most. A stranger can slow
  an account down this way, never lock its owner out.

The attempt is reserved — written and committed — before the password is checked, then
counted: of attempts made at the same instant each sees at least the ones committed before
it, so at most the limit of them go on to a password check, whatever the concurrency. An
attempt that may not go on is removed again; one whose password was right removes the pair's
failures. Kept in the database, so that every web process of a region shares it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select

from directory.clock import utcnow
from directory.db import db, write_transaction
from directory.models import LoginAttempt

WINDOW = timedelta(minutes=15)
PAIR_FAILURES = 5
CLIENT_FAILURES = 100
LOGIN_FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=1)
LONGEST_DELAY = timedelta(minutes=1)


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt. `wait`: None when the password may be checked, else how long
    before trying again (the attempt is then already withdrawn)."""

    id: int
    login: str
    client: str
    wait: timedelta | None = None


def reserve(login: str, client: str) -> Attempt:
    login, client = login[:120], client[:64]

    def write() -> int:
        purge_old()
        attempt = LoginAttempt(login=login, client=client, at=utcnow())
        db.session.add(attempt)
        db.session.flush()
        return attempt.id

    attempt_id = write_transaction(write)
    wait = _wait(attempt_id, login, client)
    if wait is not None:
        write_transaction(lambda: db.session.execute(
            delete(LoginAttempt).where(LoginAttempt.id == attempt_id)))
    return Attempt(attempt_id, login, client, wait)


def delay_after(failures: int) -> timedelta:
    """The wait between two attempts on a login that already has `failures` failures."""
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - LOGIN_FREE_FAILURES, 16)    # 2**16 s is past the longest
    return min(FIRST_DELAY * 2 ** doublings, LONGEST_DELAY)


def _wait(attempt_id: int, login: str, client: str) -> timedelta | None:
    now = utcnow()
    pair = and_(LoginAttempt.login == login, LoginAttempt.client == client)
    by_client = LoginAttempt.client == client
    others = and_(LoginAttempt.login == login, LoginAttempt.id != attempt_id)
    (pair_count, pair_oldest, client_count, client_oldest, login_count, login_latest) = \
        db.session.execute(
            select(func.count(case((pair, 1))), func.min(case((pair, LoginAttempt.at))),
                   func.count(case((by_client, 1))),
                   func.min(case((by_client, LoginAttempt.at))),
                   func.count(case((others, 1))), func.max(case((others, LoginAttempt.at))))
            .where(LoginAttempt.at > now - WINDOW,
                   or_(LoginAttempt.login == login, by_client))).one()
    db.session.commit()
    if pair_count > PAIR_FAILURES:
        return _until_window_ends(pair_oldest, now)
    if client_count > CLIENT_FAILURES:
        return _until_window_ends(client_oldest, now)
    delay = delay_after(login_count)
    if delay and login_latest is not None and now - login_latest < delay:
        return login_latest + delay - now
    return None


def _until_window_ends(oldest: datetime, now: datetime) -> timedelta:
    return max(oldest + WINDOW - now, timedelta(seconds=1))


def succeeded(attempt: Attempt) -> None:
    """The password was right: the pair's failures, this attempt included, no longer count.
    Runs inside the caller's write transaction."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.login == attempt.login,
                                                  LoginAttempt.client == attempt.client))


def purge_old() -> None:
    """Failures older than the window are dropped on the way (one indexed DELETE), so the
    table only ever holds the last 15 minutes."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - WINDOW))
