"""Login throttling, as OWASP's authentication guidance and django-axes's "lock out by the
combination of user and address" describe it. Over the last 15 minutes:

- a client address and a login together: after 5 failures that pair is locked until the
  window has passed — the person typing there, not the account;
- one client address: a ceiling of 100 failures, for a whole school behind one NAT address,
  whatever the logins tried — for every browser but a known device (below);
- one login, from every address: from its 5th failure on, each new attempt must come a delay
  after the previous failure, doubling from 1 second to 1 minute at most. A stranger can slow
  an account down this way, never lock its owner out;
- a known device, OWASP's "device cookie": a browser that once logged in to the account this
  login names, with its present password, shows the signed cookie it was then given
  (portal/auth.py checks it and names the device; a new password voids it). Its
  attempts are counted by that device instead of by address and login: after 5 failures it is
  locked until the window has passed, like a pair, and they neither feed nor wait for the
  login's delay — a stranger pacing guesses from changing addresses, who keeps that delay
  at its longest, never holds up the owner at a browser they logged in from before. Nor
  does the address's ceiling hold it: a pupil failing 100 times from the school's one NAT
  address would otherwise lock every teacher out at their own browser, and the device's
  5-failure lock, which only logging in to that very account gives, already bounds its
  guesses. Its failures still count towards the address's ceiling, for the other browsers.

The attempt is reserved — written and committed — before the password is checked, then
counted: of attempts made at the same instant each sees at least the ones committed before
it, so at most the limit of them go on to a password check, whatever the concurrency. An
attempt that may not go on is removed again; one whose password was right removes the
failures of its pair (or of its device). Kept in the database, so that every web process of a
region shares it.
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
    """A reserved attempt. `device`: the known device it is counted by, if any. `wait`: None
    when the password may be checked, else how long before trying again (the attempt is then
    already withdrawn)."""

    id: int
    login: str
    client: str
    device: str | None = None
    wait: timedelta | None = None


def reserve(login: str, client: str, device: str | None = None) -> Attempt:
    """`device`: the id of the known device the caller recognised for the account this very
    login names."""
    login, client = login[:120], client[:64]

    def write() -> int:
        purge_old()
        attempt = LoginAttempt(login=_device_key(device) if device else login, client=client,
                               at=utcnow())
        db.session.add(attempt)
        db.session.flush()
        return attempt.id

    attempt_id = write_transaction(write)
    wait = _wait(attempt_id, login, client, device)
    if wait is not None:
        write_transaction(lambda: db.session.execute(
            delete(LoginAttempt).where(LoginAttempt.id == attempt_id)))
    return Attempt(attempt_id, login, client, device, wait)


def _device_key(device: str) -> str:
    """A device's failures are written under this key instead of the login, so that the
    login's own count (strangers') never includes them."""
    return f"appareil:{device}"[:120]


def _own_failures(login: str, client: str, device: str | None):
    """The failures that lock this attempt: its device's wherever they came from, else those
    of its pair."""
    if device:
        return LoginAttempt.login == _device_key(device)
    return and_(LoginAttempt.login == login, LoginAttempt.client == client)


def delay_after(failures: int) -> timedelta:
    """The wait between two attempts on a login that already has `failures` failures."""
    if failures < LOGIN_FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - LOGIN_FREE_FAILURES, 16)    # 2**16 s is past the longest
    return min(FIRST_DELAY * 2 ** doublings, LONGEST_DELAY)


def _wait(attempt_id: int, login: str, client: str, device: str | None) -> timedelta | None:
    now = utcnow()
    own = _own_failures(login, client, device)
    by_client = LoginAttempt.client == client
    others = and_(LoginAttempt.login == login, LoginAttempt.id != attempt_id)
    (own_count, own_oldest, client_count, client_oldest, login_count, login_latest) = \
        db.session.execute(
            select(func.count(case((own, 1))), func.min(case((own, LoginAttempt.at))),
                   func.count(case((by_client, 1))),
                   func.min(case((by_client, LoginAttempt.at))),
                   func.count(case((others, 1))), func.max(case((others, LoginAttempt.at))))
            .where(LoginAttempt.at > now - WINDOW,
                   or_(LoginAttempt.login == login, own, by_client))).one()
    db.session.commit()
    if own_count > PAIR_FAILURES:
        return _until_window_ends(own_oldest, now)
    if device is None and client_count > CLIENT_FAILURES:
        return _until_window_ends(client_oldest, now)
    delay = delay_after(login_count)
    if device is None and delay and login_latest is not None and now - login_latest < delay:
        return login_latest + delay - now
    return None


def _until_window_ends(oldest: datetime, now: datetime) -> timedelta:
    return max(oldest + WINDOW - now, timedelta(seconds=1))


def succeeded(attempt: Attempt) -> None:
    """The password was right: the failures of the attempt's pair (or device), this attempt
    included, no longer count. Runs inside the caller's write transaction."""
    db.session.execute(delete(LoginAttempt).where(
        _own_failures(attempt.login, attempt.client, attempt.device)))


def purge_old() -> None:
    """Failures older than the window are dropped on the way (one indexed DELETE), so the
    table only ever holds the last 15 minutes."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - WINDOW))
