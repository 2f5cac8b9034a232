"""Quota: `mailbox.used_bytes` is the sum of the sizes of the account's items, maintained by
the store's functions (and only them: other modules must not insert or delete items
themselves); `recount_usage` recomputes it from the items, to check or repair."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import BigInteger, and_, bindparam, func, select, update

from directory.db import db, dialect_name
from directory.sets import add_to, any_of, ids_parameter

from ..models import Mailbox, MailboxItem
from .sql import core


def reserve(account_ids: Iterable[int], size: int, quota: int | None) -> set[int]:
    """Add `size` to each account's usage when it fits in `quota` (None: no limit); returns the
    accounts it was added to. One conditional UPDATE: concurrent deliveries cannot overshoot."""
    ids = set(account_ids)
    if not ids:
        return set()
    table = Mailbox.__table__.c      # Core columns: no ORM bookkeeping on the hot path
    condition = any_of(table.account_id, ids)
    if quota is not None:
        condition = and_(condition, table.used_bytes + size <= quota)
    statement = update(Mailbox.__table__).where(condition).values(
        used_bytes=table.used_bytes + size)
    return set(db.session.scalars(statement.returning(table.account_id)))


def lock_usage(account_ids: Iterable[int]) -> dict[int, int]:
    """account id → bytes used, the rows locked until commit (FOR UPDATE on PostgreSQL, in
    account order so that two writers never wait on each other crosswise; SQLite's writer
    already holds the database lock, see `directory.db.write_lock`). For deciding quota of several
    messages at once in Python, then `add_usage`."""
    return _usage(account_ids, locked=True)


def read_usage(account_ids: Iterable[int]) -> dict[int, int]:
    """account id → bytes used, without locking: a batch decides on these, writes its
    messages, then `settle_usage` locks the rows only for the end of its transaction."""
    return _usage(account_ids, locked=False)


def _usage(account_ids: Iterable[int], *, locked: bool) -> dict[int, int]:
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    return dict(core(_usage_statement(dialect_name(), locked), {"ids": ids}).all())


@lru_cache(maxsize=8)
def _usage_statement(_dialect: str, locked: bool):
    """The usage query, built once per database (twice per group commit of the gateway)."""
    table = Mailbox.__table__.c
    query = select(table.account_id, table.used_bytes).where(ids_parameter(table.account_id))
    return query.order_by(table.account_id).with_for_update() if locked else query


class QuotaRace(Exception):
    """Another transaction filled a mailbox between `read_usage` and `settle_usage`: what was
    decided no longer fits. The caller rolls back and decides again."""


def settle_usage(read: dict[int, int], added: dict[int, int],
                 limits: dict[int, int]) -> None:
    """Add `added` to the usage read earlier by `read_usage`, the rows now locked (in account
    order) until commit. Two gateway processes delivering to one mailbox thus wait on each
    other only for the end of their transactions, not for all of it. `limits`: account id →
    quota that its added bytes had to fit in; QuotaRace if they no longer do."""
    locked = lock_usage(added)
    for account_id, amount in added.items():
        limit = limits.get(account_id)
        now = locked.get(account_id, 0)
        if amount and limit is not None and now != read.get(account_id) \
                and now + amount > limit:
            raise QuotaRace(account_id)
    add_usage(added)


def add_usage(added: dict[int, int]) -> None:
    """used_bytes += bytes, per account: one statement."""
    add_to(Mailbox.__table__, "account_id", "used_bytes", added)


def usage(account_id: int) -> int:
    return db.session.scalar(select(Mailbox.used_bytes).where(
        Mailbox.account_id == account_id)) or 0


def full_mailboxes(account_ids: Iterable[int], quota: int, incoming: int = 0) -> set[int]:
    """Accounts whose usage leaves no room for `incoming` bytes (at least one)."""
    ids = sorted(set(account_ids))
    if not ids:
        return set()
    return set(core(_full_statement(dialect_name()), {
        "ids": ids, "incoming": max(incoming, 1), "quota": quota}).scalars())


@lru_cache(maxsize=4)
def _full_statement(_dialect: str):
    """`full_mailboxes`' query, built once per database (every message asks it)."""
    table = Mailbox.__table__.c
    return select(table.account_id).where(
        ids_parameter(table.account_id),
        table.used_bytes + bindparam("incoming", type_=BigInteger) > bindparam("quota"))


def recount_usage(account_id: int) -> int:
    """Recompute the counter from the items (the SUM the counter must always equal)."""
    total = db.session.scalar(select(func.coalesce(func.sum(MailboxItem.size), 0)).where(
        MailboxItem.account_id == account_id))
    db.session.execute(update(Mailbox).where(Mailbox.account_id == account_id)
                       .values(used_bytes=total))
    return total


