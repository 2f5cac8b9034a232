"""Who a message to many is for (SPEC §9): the filters of "Écrire à plusieurs" and the
targets of automated communications, turned into ONE SELECT of account ids that the
background fan-out (mailgate/fanout.py) inserts from — never a loop over accounts.

An `Audience` reads as a sentence:
- *who*: the members of the chosen groups, and the parents of the members of the "parents
  of the pupils of…" groups; when neither is chosen, everyone of the space's schools (seed
  002: "no group = the whole space"). Parents are linked to their children, not members of
  their classes: with the profile Parent d'élève chosen, a chosen group also brings the
  parents of its members, as a rubric's population "Parents d'élèves de 4A" does
  (directory/rubrics.py);
- *kept if* their profile is one of the chosen profiles, they hold every chosen role,
  they have been inactive for more than N days (no access since, counting from the account's
  creation for those who never came), they never logged in;
- *minus* the people excluded one by one.
A `Trigger` then keeps the people for whom a rule's moment came within a window (the time
since the communication last ran): "never logged in N days after the account was created
or joined the group", "inactive for N days", "access ends in N days". Because the windows of
successive runs do not overlap, each person gets each step once, and a run after three days
without a worker covers the three days in one message.

The rights engine is not asked here: the fan-out judges every recipient when it routes.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from .enums import Profile, Role
from .models import Account, AccountSchool, GroupMember, ParentLink
from .rights import active_child
from .roles import role_condition
from .sets import any_of


@dataclass(frozen=True)
class Audience:
    school_ids: tuple[int, ...] = ()            # the space; empty: the whole region
    group_ids: tuple[int, ...] = ()
    parents_of_group_ids: tuple[int, ...] = ()
    profiles: tuple[Profile, ...] = ()
    roles: tuple[Role, ...] = ()
    inactive_days: int | None = None
    never_logged_in: bool = False
    excluded_ids: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        """What a communication stores (JSON)."""
        return {"school_ids": list(self.school_ids), "group_ids": list(self.group_ids),
                "parents_of_group_ids": list(self.parents_of_group_ids),
                "profiles": [p.value for p in self.profiles],
                "roles": [r.value for r in self.roles], "inactive_days": self.inactive_days,
                "never_logged_in": self.never_logged_in,
                "excluded_ids": list(self.excluded_ids)}

    @classmethod
    def from_dict(cls, data: dict | None) -> Audience:
        data = data or {}
        return cls(school_ids=tuple(data.get("school_ids") or ()),
                   group_ids=tuple(data.get("group_ids") or ()),
                   parents_of_group_ids=tuple(data.get("parents_of_group_ids") or ()),
                   profiles=tuple(Profile(p) for p in data.get("profiles") or ()),
                   roles=tuple(Role(r) for r in data.get("roles") or ()),
                   inactive_days=data.get("inactive_days"),
                   never_logged_in=bool(data.get("never_logged_in")),
                   excluded_ids=tuple(data.get("excluded_ids") or ()))


class TriggerKind(enum.StrEnum):
    NONE = "none"
    NEVER_LOGGED_IN = "never_logged_in"     # N days after creation / joining, still never came
    INACTIVE = "inactive"                   # N days since the last access
    ACCESS_ENDS = "access_ends"             # N days before the account or membership ends


DEFAULT_DAYS = {TriggerKind.NEVER_LOGGED_IN: (7, 15), TriggerKind.INACTIVE: (30,),
                TriggerKind.ACCESS_ENDS: (15, 7, 5, 3, 1)}


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind = TriggerKind.NONE
    days: tuple[int, ...] = field(default=())


def last_seen(account=Account) -> sa.ColumnElement:
    """The last access, or the account's creation for someone who never came."""
    return func.coalesce(account.last_access_at, account.created_at)


def recipients(audience: Audience, now: datetime, trigger: Trigger = Trigger(),
               window_start: datetime | None = None, *, but: int | None = None) -> sa.Select:
    """SELECT account.id of the audience (and of the trigger's window (window_start, now]),
    the account `but` apart (the author: the fan-out never sends her own message to her,
    mailgate.fanout.submit)."""
    query = select(Account.id).where(_who(audience), *_kept(audience, now))
    if trigger.kind != TriggerKind.NONE:
        query = query.where(_triggered(audience, trigger, window_start or now, now))
    if but is not None:
        query = query.where(Account.id != but)
    return query


def count(audience: Audience, now: datetime, *, but: int | None = None) -> int:
    """How many people the message goes to, its author `but` apart as the fan-out does."""
    from .db import db

    chosen = recipients(audience, now, but=but).subquery()
    return db.session.scalar(select(func.count()).select_from(chosen))


def _who(audience: Audience) -> sa.ColumnElement[bool]:
    chosen = []
    if audience.group_ids:
        chosen.append(exists().where(GroupMember.account_id == Account.id,
                                     GroupMember.group_id.in_(audience.group_ids)))
        if Profile.PARENT in audience.profiles:
            chosen.append(and_(Account.profile == Profile.PARENT,
                               _parent_of_members(audience.group_ids)))
    if audience.parents_of_group_ids:
        chosen.append(_parent_of_members(audience.parents_of_group_ids))
    if not chosen:
        if not audience.school_ids:
            return sa.true()
        chosen.append(_in_schools(audience.school_ids))
    return or_(*chosen)


def _parent_of_members(group_ids) -> sa.ColumnElement[bool]:
    child = aliased(GroupMember)
    return exists().where(ParentLink.parent_id == Account.id,
                          child.account_id == ParentLink.child_id, child.group_id.in_(group_ids),
                          active_child(ParentLink.child_id))


def _in_schools(school_ids) -> sa.ColumnElement[bool]:
    return exists().where(AccountSchool.account_id == Account.id,
                          AccountSchool.school_id.in_(school_ids))


def _kept(audience: Audience, now: datetime) -> list[sa.ColumnElement[bool]]:
    kept = []
    if audience.school_ids and (audience.group_ids or audience.parents_of_group_ids):
        kept.append(_in_schools(audience.school_ids))
    if audience.profiles:
        kept.append(Account.profile.in_(audience.profiles))
    kept += [role_condition(role, Account) for role in audience.roles]
    if audience.inactive_days is not None:
        kept.append(last_seen() <= now - timedelta(days=audience.inactive_days))
    if audience.never_logged_in:
        kept.append(Account.last_access_at.is_(None))
    if audience.excluded_ids:
        kept.append(~any_of(Account.id, audience.excluded_ids))  # one parameter, however many
    kept.append(Account.suspended.is_(False))
    return kept


def _triggered(audience: Audience, trigger: Trigger, start: datetime,
               end: datetime) -> sa.ColumnElement[bool]:
    """The rule's moment (its start + N days) fell in (start, end] for one of its steps."""
    steps = trigger.days or DEFAULT_DAYS[trigger.kind]
    if trigger.kind == TriggerKind.NEVER_LOGGED_IN:
        since = func.coalesce(_joined(audience.group_ids), Account.created_at) \
            if audience.group_ids else Account.created_at
        return and_(Account.last_access_at.is_(None),
                    or_(*[_moment_in(since, timedelta(days=n), start, end) for n in steps]))
    if trigger.kind == TriggerKind.INACTIVE:
        return or_(*[_moment_in(last_seen(), timedelta(days=n), start, end) for n in steps])
    if trigger.kind == TriggerKind.ACCESS_ENDS:
        return or_(*[_ends_in(audience, timedelta(days=n), start, end) for n in steps])
    return false()


def _moment_in(since, delay: timedelta, start: datetime, end: datetime):
    """since + delay in (start, end], written on the column so that an index serves it."""
    return and_(since > start - delay, since <= end - delay)


def _joined(group_ids):
    """When the account joined the target groups (its creation, for memberships older than
    the record of joining; NULL for a parent brought by a child's membership): a correlated
    scalar, so the window stays one comparison."""
    return (select(func.max(func.coalesce(GroupMember.joined_at, Account.created_at)))
            .where(GroupMember.account_id == Account.id, GroupMember.group_id.in_(group_ids))
            .correlate(Account).scalar_subquery())


def _ends_in(audience: Audience, before: timedelta, start: datetime, end: datetime):
    """The account's end, or the end of its membership of a target group, is `before` away
    from a moment of (start, end], and still to come."""
    account_ends = and_(Account.access_ends_at > end,
                        _moment_in(Account.access_ends_at, -before, start, end))
    if not audience.group_ids:
        return account_ends
    membership_ends = exists().where(
        GroupMember.account_id == Account.id, GroupMember.group_id.in_(audience.group_ids),
        GroupMember.access_ends_at > end,
        _moment_in(GroupMember.access_ends_at, -before, start, end))
    return or_(account_ends, membership_ends)
