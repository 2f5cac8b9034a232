"""The audience's one SELECT (directory/audience.py) agrees with a plain reference written
from SPEC §9 and issue 15, on the demo region with dates scattered over a year, for random
filters, exclusions, triggers and windows (Hypothesis)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from directory.audience import DEFAULT_DAYS, Audience, Trigger, TriggerKind, recipients
from directory.db import db
from directory.enums import Profile, Role
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink
from directory.roles import effective_roles

NOW = datetime(2027, 3, 1, 9, 0)


@dataclass
class Region:
    """Everything the reference reads, loaded once."""
    people: dict[int, Account]
    roles: dict[int, frozenset[Role]]
    schools: dict[int, set[int]]
    members: list[tuple[int, int, datetime | None, datetime | None]]
    parents: list[tuple[int, int]]
    groups: list[int]
    school_ids: list[int]


@pytest.fixture
def region(ctx) -> Region:
    """The demo region with creation, last access and ends spread from the ids (rolled back
    after the test)."""
    base = NOW - timedelta(days=100)
    for account in db.session.scalars(select(Account)):
        account.created_at = base + timedelta(days=account.id % 97, minutes=account.id % 60)
        account.last_access_at = None if account.id % 3 == 0 else \
            account.created_at + timedelta(days=account.id % 41, hours=account.id % 7)
        account.access_ends_at = NOW + timedelta(days=account.id % 23, hours=3) \
            if account.id % 5 == 0 else None
    for member in db.session.scalars(select(GroupMember)):
        member.joined_at = None if member.account_id % 4 == 0 else \
            NOW - timedelta(days=(member.account_id + member.group_id) % 31)
        member.access_ends_at = NOW + timedelta(days=member.account_id % 17, hours=5) \
            if member.account_id % 7 == 0 else None
    db.session.flush()
    people = {a.id: a for a in db.session.scalars(select(Account))}
    schools: dict[int, set[int]] = {}
    for account_id, school_id in db.session.execute(select(AccountSchool.account_id,
                                                           AccountSchool.school_id)):
        schools.setdefault(account_id, set()).add(school_id)
    first_school = min(s for ss in schools.values() for s in ss)
    return Region(
        people=people, roles={i: effective_roles(a) for i, a in people.items()},
        schools=schools,
        members=list(db.session.execute(select(GroupMember.group_id, GroupMember.account_id,
                                               GroupMember.joined_at,
                                               GroupMember.access_ends_at)).tuples()),
        parents=list(db.session.execute(select(ParentLink.parent_id,
                                               ParentLink.child_id)).tuples()),
        groups=list(db.session.scalars(select(Group.id).where(
            Group.school_id == first_school).order_by(Group.id))),
        school_ids=sorted({s for ss in schools.values() for s in ss})[:3])


def reference(region: Region, audience: Audience, trigger: Trigger,
              start: datetime, now: datetime) -> set[int]:
    """Issue 15 and the module's docstring, read literally, one person at a time."""
    chosen: set[int] = set()
    for group_id, account_id, _, _ in region.members:
        if group_id in audience.group_ids:
            chosen.add(account_id)
    children_of_groups = {a for g, a, _, _ in region.members
                          if g in audience.parents_of_group_ids}
    chosen |= {parent for parent, child in region.parents if child in children_of_groups}
    if Profile.PARENT in audience.profiles:     # "Parents d'élèves de 4A": of its pupils
        members = {a for g, a, _, _ in region.members if g in audience.group_ids}
        chosen |= {parent for parent, child in region.parents
                   if child in members and region.people[parent].profile == Profile.PARENT}
    if not audience.group_ids and not audience.parents_of_group_ids:
        chosen = {i for i in region.people
                  if not audience.school_ids or region.schools.get(i, set()) & set(
                      audience.school_ids)}
    elif audience.school_ids:
        chosen = {i for i in chosen if region.schools.get(i, set()) & set(audience.school_ids)}
    found = set()
    for i in chosen:
        person = region.people[i]
        seen = person.last_access_at or person.created_at
        if person.suspended or i in audience.excluded_ids:
            continue
        if audience.profiles and person.profile not in audience.profiles:
            continue
        if not set(audience.roles) <= region.roles[i]:
            continue
        if audience.inactive_days is not None and \
                seen > now - timedelta(days=audience.inactive_days):
            continue
        if audience.never_logged_in and person.last_access_at is not None:
            continue
        if trigger.kind != TriggerKind.NONE and not fired(region, audience, trigger, person,
                                                          start, now):
            continue
        found.add(i)
    return found


def fired(region, audience, trigger, person, start, now) -> bool:
    steps = trigger.days or DEFAULT_DAYS[trigger.kind]

    def within(moment: datetime) -> bool:
        return start < moment <= now

    if trigger.kind == TriggerKind.NEVER_LOGGED_IN:
        if person.last_access_at is not None:
            return False
        if audience.group_ids:
            joined = [j or person.created_at for g, a, j, _ in region.members
                      if a == person.id and g in audience.group_ids]
            since = max(joined) if joined else person.created_at    # a parent, say
        else:
            since = person.created_at
        return any(within(since + timedelta(days=n)) for n in steps)
    if trigger.kind == TriggerKind.INACTIVE:
        seen = person.last_access_at or person.created_at
        return any(within(seen + timedelta(days=n)) for n in steps)
    ends = [person.access_ends_at] + [e for g, a, _, e in region.members
                                      if a == person.id and g in audience.group_ids]
    return any(end is not None and end > now and within(end - timedelta(days=n))
               for end in ends for n in steps)


@st.composite
def cases(draw, region: Region):
    groups = st.just([]) | st.lists(st.sampled_from(region.groups), max_size=3, unique=True)
    some_ids = st.lists(st.sampled_from(sorted(region.people)), max_size=4, unique=True)
    audience = Audience(
        school_ids=tuple(draw(st.lists(st.sampled_from(region.school_ids), max_size=2,
                                       unique=True))),
        group_ids=tuple(draw(groups)), parents_of_group_ids=tuple(draw(groups)),
        profiles=tuple(draw(st.lists(st.sampled_from(list(Profile)), max_size=2,
                                     unique=True))),
        roles=tuple(draw(st.just([]) | st.lists(st.sampled_from(list(Role)), max_size=1))),
        inactive_days=draw(st.none() | st.none() | st.integers(1, 60)),
        never_logged_in=draw(st.sampled_from([False, False, True])),
        excluded_ids=tuple(draw(some_ids)))
    kind = draw(st.sampled_from(list(TriggerKind)))
    days = () if kind == TriggerKind.NONE else tuple(draw(st.lists(
        st.integers(1, 60), max_size=3, unique=True)))
    now = NOW + timedelta(hours=draw(st.integers(-24 * 30, 24 * 30)))
    start = now - timedelta(hours=draw(st.integers(1, 24 * 15)))
    return audience, Trigger(kind, days), start, now


def test_the_sql_audience_agrees_with_the_reference(region):
    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(cases(region))
    def check(case):
        audience, trigger, start, now = case
        found = set(db.session.scalars(recipients(audience, now, trigger, start)))
        assert found == reference(region, audience, trigger, start, now)

    check()
