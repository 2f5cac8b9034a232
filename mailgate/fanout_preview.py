"""What a population mailing will do, counted before anything is written (SPEC §6): how many
read it in their Préau inbox, how many get it forwarded, who cannot be reached (no redirect
address) and who the rights engine refuses, and why.

It is `routing.check`'s judgement, in the same order, as one SQL query over the whole
population — loading 100,000 accounts to ask `check` would take the time of the sending
itself:
1. a suspended account: refused (SUSPENDED);
2. the rights engine says no (`rights.writable_condition`, which also lets the author answer
   those who wrote to them): refused (NOT_ALLOWED);
3. an internal mailbox (the INTERNAL_MAIL role, `roles.role_condition`): delivered, or
   refused (MAILBOX_FULL) when the message does not fit;
4. no verified redirect address: refused (NO_REDIRECT, "unreachable");
5. otherwise forwarded.
The counts are keyed (state, refusal) exactly as the job's report (`fanout.progress`), and
tests/mailgate/test_fanout.py checks that the two agree on a population holding every case.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import and_, case, exists, func, literal, or_, select

from directory.db import db
from directory.enums import Role
from directory.models import Account
from directory.rights import writable_condition
from directory.roles import role_condition

from .fanout_models import RecipientState
from .models import Mailbox
from .routing import Refusal
from .settings import current

NAMES_SHOWN = 200


@dataclass(frozen=True)
class Named:
    id: int
    first_name: str
    last_name: str
    profile: str
    refusal: str | None


@dataclass(frozen=True)
class Preview:
    counts: dict[tuple[str, str | None], int]
    not_reached: list[Named]        # refused or unreachable, by name, the first NAMES_SHOWN

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, state: RecipientState, refusal: str | None = None) -> int:
        return sum(n for (s, r), n in self.counts.items()
                   if s == state and (refusal is None or r == refusal))


def preview(author: Account, recipients: sa.Select, size: int) -> Preview:
    """Judge the accounts `recipients` selects (the author apart, as `fanout.submit` does)
    for a message of `size` bytes."""
    chosen = recipients.subquery()
    state, refusal = _judgement(author, size)
    people = (select(Account.id, state.label("state"), refusal.label("refusal"))
              .where(Account.id.in_(select(chosen.c[0])), Account.id != author.id)
              .subquery())
    counts = {(s, r): n for s, r, n in db.session.execute(
        select(people.c.state, people.c.refusal, func.count())
        .group_by(people.c.state, people.c.refusal))}
    not_reached = [Named(*row) for row in db.session.execute(
        select(Account.id, Account.first_name, Account.last_name, Account.profile,
               people.c.refusal)
        .join(people, people.c.id == Account.id)
        .where(people.c.state == RecipientState.REFUSED.value)
        .order_by(Account.search_name, Account.id).limit(NAMES_SHOWN))]
    return Preview(counts, not_reached)


def _judgement(author: Account, size: int) -> tuple[sa.ColumnElement, sa.ColumnElement]:
    settings = current()
    allowed = writable_condition(author, Account)
    internal = role_condition(Role.INTERNAL_MAIL, Account)
    full = exists().where(Mailbox.account_id == Account.id,
                          Mailbox.used_bytes + max(size, 1) > settings.quota_bytes)
    no_redirect = or_(Account.redirect_verified.is_(False),
                      func.coalesce(Account.redirect_address, "") == "")
    refused, delivered = RecipientState.REFUSED.value, RecipientState.DELIVERED.value
    state = case((Account.suspended.is_(True), literal(refused)),
                 (~allowed, literal(refused)),
                 (and_(internal, full), literal(refused)),
                 (internal, literal(delivered)),
                 (no_redirect, literal(refused)),
                 else_=literal(RecipientState.FORWARDED.value))
    refusal = case((Account.suspended.is_(True), literal(Refusal.SUSPENDED.value)),
                   (~allowed, literal(Refusal.NOT_ALLOWED.value)),
                   (and_(internal, full), literal(Refusal.MAILBOX_FULL.value)),
                   (internal, sa.null()),
                   (no_redirect, literal(Refusal.NO_REDIRECT.value)),
                   else_=sa.null())
    return state, refusal


