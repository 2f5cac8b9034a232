"""The outbound queue: entries written with the message, claimed by workers under a lease.

A worker claims due entries with one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
… RETURNING: on PostgreSQL concurrent workers skip each other's rows instead of waiting, and
on SQLite the statement runs under the database's single write lock, so two claims never
return the same entry on either. The claim sets `lease_until` a minute ahead, and the worker's
heartbeat (mailgate/worker.py) pushes it on every 20 seconds while it works on the batch, so a
slow relay never loses a living worker its entries, while those of a worker that died are due
again within a minute. Finishing an entry checks `claimed_by`, so a worker whose
lease was taken over cannot overwrite the newer claim's result. The worker records the sent
entries of a batch in one statement (`mark_all_sent`), in a transaction of their own before
its failures when it has any. The claim also returns
what the gateway found of each message's sender, which the worker's copy must say
(mailgate/sender_auth.py `subject_tag`), and the recipient account's verified redirect address
and suspension as they are now, not as they were when the entry was queued (a member who
changed or lost their address, or was suspended, while their forward waited): read by the
same statement, not by another query.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, and_, bindparam, case, delete, or_, select, update

from directory.clock import utcnow
from directory.db import db, dialect_name
from directory.models import Account
from directory.sets import ids_parameter, insert_rows

from .models import EntryKind, EntryState, MailMessage, OutboundEntry, SenderCheck
from .store.sql import core

LEASE = timedelta(minutes=1)
HEARTBEAT = LEASE / 3
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=4)
KEEP_FINISHED = timedelta(days=30)
PURGE_BATCH = 5000         # entries forgotten in one transaction


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: EntryKind
    message_id: int | None
    account_id: int | None
    author_id: int | None
    address: str
    attempts: int
    expires_at: datetime
    sender_check: SenderCheck | None = None     # of its message's sender (None: unchecked)
    # The recipient account (`account_id`) at claim time: its verified redirect address
    # (None: none, or not verified) and whether it is suspended (None: no account).
    redirect: str | None = None
    suspended: bool | None = None


def enqueue(entries: Iterable[dict], *, lifetime: timedelta, now: datetime | None = None) -> None:
    """Entries: dicts with kind, message_id, account_id, author_id, address."""
    now = now or utcnow()
    rows = [{"state": EntryState.PENDING, "attempts": 0, "created_at": now,
             "next_attempt_at": now, "expires_at": now + lifetime, "lease_until": None,
             "claimed_by": None, "finished_at": None, "last_error": None, **entry}
            for entry in entries]
    insert_rows(OutboundEntry.__table__, rows)


def claim(worker: str, *, limit: int = 50, now: datetime | None = None,
          lease: timedelta = LEASE) -> list[Claimed]:
    now = now or utcnow()
    rows = core(_claim_statement(dialect_name()), {
        "v_now": now, "v_lease": now + lease, "v_worker": worker, "v_limit": limit})
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


@lru_cache(maxsize=4)
def _claim_statement(_dialect: str):
    """`claim`'s UPDATE … RETURNING, built once per database: every round of every worker
    runs it, and building it (with its cache key) cost more than running it."""
    entry = OutboundEntry.__table__.c
    message = MailMessage.__table__.c
    now = bindparam("v_now", type_=entry.lease_until.type)
    # (SQLite's RETURNING names columns unqualified: `id` is then mail_message's, and
    # `message_id` the entry's, mail_message having no column of that name.)
    sender_check = (select(message.sender_check).where(message.id == entry.message_id)
                    .scalar_subquery())
    # (account has no `account_id` column: unqualified, it is the entry's.)
    account = Account.__table__.c
    redirect = (select(case((account.redirect_verified, account.redirect_address)))
                .where(account.id == entry.account_id).scalar_subquery())
    suspended = select(account.suspended).where(account.id == entry.account_id) \
        .scalar_subquery()
    due = (select(entry.id)
           .where(entry.state == EntryState.PENDING, entry.next_attempt_at <= now,
                  or_(entry.lease_until.is_(None), entry.lease_until <= now))
           .order_by(entry.next_attempt_at, entry.id)
           .limit(bindparam("v_limit", type_=Integer)).with_for_update(skip_locked=True))
    return (update(OutboundEntry.__table__).where(entry.id.in_(due.scalar_subquery()))
            .values(lease_until=bindparam("v_lease", type_=entry.lease_until.type),
                    claimed_by=bindparam("v_worker", type_=entry.claimed_by.type),
                    attempts=entry.attempts + 1)
            .returning(entry.id, entry.kind, entry.message_id, entry.account_id,
                       entry.author_id, entry.address, entry.attempts, entry.expires_at,
                       sender_check, redirect, suspended))


def _held(entry_ids: list[int], worker: str):
    """The entries among `entry_ids` that `worker` still holds (not taken over, not done)."""
    return and_(OutboundEntry.id.in_(entry_ids), OutboundEntry.claimed_by == worker,
                OutboundEntry.state == EntryState.PENDING)


def _mine(entry_id: int, worker: str):
    return _held([entry_id], worker)


def renew(worker: str, entry_ids: Iterable[int], now: datetime | None = None) -> int:
    """The heartbeat: the entries `worker` still holds keep it for another LEASE."""
    ids = list(entry_ids)
    if not ids:
        return 0
    result = db.session.execute(
        update(OutboundEntry).where(_held(ids, worker))
        .values(lease_until=(now or utcnow()) + LEASE),
        execution_options={"synchronize_session": False})
    return result.rowcount


def mark_all_sent(entry_ids: Iterable[int], worker: str, now: datetime | None = None) -> int:
    """A batch's sent entries in one statement; those no longer `worker`'s are left as they
    are. Returns how many were marked."""
    ids = sorted(set(entry_ids))
    if not ids:
        return 0
    return core(_sent_statement(dialect_name()),
                {"ids": ids, "v_worker": worker, "v_now": now or utcnow()}).rowcount


@lru_cache(maxsize=4)
def _sent_statement(_dialect: str):
    """`mark_all_sent`'s UPDATE, built once per database (every round of a worker runs it)."""
    entry = OutboundEntry.__table__.c
    return (update(OutboundEntry.__table__)
            .where(ids_parameter(entry.id), entry.claimed_by == bindparam("v_worker"),
                   entry.state == EntryState.PENDING)
            .values(state=EntryState.SENT,
                    finished_at=bindparam("v_now", type_=entry.finished_at.type),
                    lease_until=None, last_error=None))


def readdress(addresses: dict[int, str], worker: str) -> None:
    """Entry id → the address the worker sent it to, when that is no longer the one it was
    queued with (its recipient's redirect address changed meanwhile): the entry says where it
    went, for a bounce's report (its masking) and for operators. One executemany."""
    if addresses:
        core(_readdress_statement(dialect_name()),
             [{"v_id": entry_id, "v_worker": worker, "v_address": address}
              for entry_id, address in sorted(addresses.items())])


@lru_cache(maxsize=4)
def _readdress_statement(_dialect: str):
    entry = OutboundEntry.__table__.c
    return (update(OutboundEntry.__table__)
            .where(entry.id == bindparam("v_id", type_=entry.id.type),
                   entry.claimed_by == bindparam("v_worker", type_=entry.claimed_by.type),
                   entry.state == EntryState.PENDING)
            .values(address=bindparam("v_address", type_=entry.address.type)))


def retry_delay(attempts: int) -> timedelta:
    """1 min, 2, 4, 8 … up to 4 hours between attempts."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LONGEST_WAIT)


def defer(entry: Claimed, worker: str, error: str, now: datetime | None = None) -> bool:
    """A temporary failure: try again later, and at the latest a minute before the entry's
    lifetime ends (a claim after its end fails it untried): the time left is tried, not
    given up hours early because the next delay of the series would overshoot. False when
    no attempt fits any more (the caller then fails it)."""
    now = now or utcnow()
    next_attempt = min(now + retry_delay(entry.attempts), entry.expires_at - FIRST_RETRY)
    if next_attempt <= now:
        return False
    db.session.execute(
        update(OutboundEntry).where(_mine(entry.id, worker))
        .values(next_attempt_at=next_attempt, lease_until=None, claimed_by=None,
                last_error=error[:2000]), execution_options={"synchronize_session": False})
    return True


def release(entry_ids: list[int], worker: str) -> None:
    """Give back entries the worker claimed but did not try (it was told to stop): due again
    at once, for any worker, their attempt not counted."""
    if entry_ids:
        db.session.execute(
            update(OutboundEntry).where(_held(entry_ids, worker))
            .values(lease_until=None, claimed_by=None, attempts=OutboundEntry.attempts - 1),
            execution_options={"synchronize_session": False})


def mark_failed(entry_id: int, worker: str, error: str, now: datetime | None = None) -> bool:
    """The worker's claimed entry failed for good (FAILED). False when it no longer holds it
    (a bounce marked it already, mailgate/bounces.py: the caller must not report twice)."""
    result = db.session.execute(
        update(OutboundEntry).where(_mine(entry_id, worker))
        .values(state=EntryState.FAILED, finished_at=now or utcnow(), lease_until=None,
                last_error=error[:2000]),
        execution_options={"synchronize_session": False})
    return result.rowcount == 1


def entries_for(account_ids: list[int]) -> list[tuple[int, int, int | None]]:
    """(entry id, account id, message id) of the entries, of any kind and state, for these
    accounts."""
    return list(db.session.execute(
        select(OutboundEntry.id, OutboundEntry.account_id, OutboundEntry.message_id)
        .where(OutboundEntry.account_id.in_(account_ids))).tuples())


def forget_recipients(entry_ids: list[int]) -> None:
    """The entries of accounts being erased (SPEC §8, RGPD): those still to be sent are not
    sent to the erased person's address, and those finished no longer hold it (a bounce
    arriving later is still matched, and reported without it)."""
    if not entry_ids:
        return
    entries = ids_parameter(OutboundEntry.id)
    db.session.execute(
        delete(OutboundEntry).where(entries, OutboundEntry.state == EntryState.PENDING),
        {"ids": entry_ids}, execution_options={"synchronize_session": False})
    db.session.execute(update(OutboundEntry).where(entries).values(address=""),
                       {"ids": entry_ids}, execution_options={"synchronize_session": False})


def purge_finished(now: datetime | None = None, keep: timedelta = KEEP_FINISHED,
                   limit: int | None = None) -> int:
    """Forget at most `limit` entries finished long ago (a bounce arriving later is no longer
    matched), oldest first; the caller commits and asks again while it gets `limit`
    (PURGE_BATCH): the first purge of a queue that grew for months is many short
    transactions, not one."""
    limit = limit or PURGE_BATCH
    entry = OutboundEntry.__table__.c
    old = (select(entry.id).where(entry.finished_at < (now or utcnow()) - keep)
           .order_by(entry.finished_at).limit(limit))
    result = db.session.execute(delete(OutboundEntry).where(OutboundEntry.id.in_(old)),
                                execution_options={"synchronize_session": False})
    return result.rowcount
