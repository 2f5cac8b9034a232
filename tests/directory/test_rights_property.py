"""The rights engine agrees with the plain reference on random small regions, for every
(sender, candidate) pair, both as `writable()` verdicts and as `writable_query()` rows.

Each generated region is written into the test database inside a SAVEPOINT that is rolled
back after the example, on top of the demo region (whose accounts the checks leave out)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account
from directory.rights import writable, writable_query

from .rights_reference import Person, Region

EXAMPLES = 200


@pytest.fixture
def password_hash(ctx) -> str:
    return db.session.scalar(select(Account.password_hash).limit(1))


# Weighted towards students and parents, with dense memberships and links, so that most
# regions hold classmates, teachers, parents of a class and a few role changes.
PROFILES = [Profile.STUDENT] * 3 + [Profile.PARENT] * 2 + [Profile.TEACHER, Profile.STAFF,
                                                          Profile.OTHER]


@st.composite
def regions(draw) -> Region:
    """4 to 10 people in 1 to 3 schools; a class and up to two more groups of any kind;
    each person in up to two groups; parents linked to students, a few others to anyone;
    up to three people who received a message from another."""
    schools = draw(st.integers(1, 3))
    people = draw(st.lists(st.builds(
        Person,
        profile=st.sampled_from(PROFILES),
        schools=st.frozensets(st.integers(0, schools - 1), min_size=1),
        suspended=st.sampled_from([False] * 5 + [True]),
        overrides=st.just({}) | st.dictionaries(st.sampled_from(list(Role)), st.booleans(),
                                                max_size=2),
    ), min_size=4, max_size=10))
    school = st.integers(0, schools - 1)
    groups = [(GroupKind.CLASS, draw(school))] + draw(st.lists(
        st.tuples(st.sampled_from(list(GroupKind)), school), max_size=2))
    n, members, links = len(people), {}, set()
    students = [p for p, person in enumerate(people) if person.profile == Profile.STUDENT]
    for p, person in enumerate(people):
        for g in draw(st.frozensets(st.integers(0, len(groups) - 1), max_size=2)):
            members[(g, p)] = draw(st.sampled_from([False, False, False, True]))
        if person.profile == Profile.PARENT and students:
            children = draw(st.frozensets(st.sampled_from(students), min_size=1, max_size=2))
        elif draw(st.integers(0, 9)) == 0:
            children = draw(st.frozensets(st.integers(0, n - 1), min_size=1, max_size=2))
        else:
            children = frozenset()
        links |= {(p, child) for child in children if child != p}
    received = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
                            .filter(lambda pair: pair[0] != pair[1]), max_size=3))
    return Region(schools=schools, people=people, groups=groups, members=members, links=links,
                  received=received)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(region=regions(), data=st.data())
def test_engine_agrees_with_reference(ctx, password_hash, region, data):
    savepoint = db.session.begin_nested()
    try:
        region.write(password_hash)
        ids = [region.account_id(p) for p in range(len(region.people))]
        for s in range(len(region.people)):
            sender = db.session.get(Account, region.account_id(s))
            replying = data.draw(st.none() | st.integers(0, len(ids) - 1), label="replying_to")
            expected = {region.account_id(p) for p in region.reachable(s, replying)}
            verdicts = writable(sender, ids, replying_to=None if replying is None
                                else region.account_id(replying))
            assert set(verdicts) == set(ids)
            assert {i for i, v in verdicts.items() if v.allowed} == expected, (s, region)
            assert all((v.reason is None) == v.allowed for v in verdicts.values())
            as_query = set(db.session.scalars(
                writable_query(sender).where(Account.id.in_(ids))))
            assert as_query == {region.account_id(p) for p in region.reachable(s)}, (s, region)
    finally:
        savepoint.rollback()
        db.session.expunge_all()


def test_reference_sees_a_classmate_and_not_a_stranger():
    """The reference itself, on a region small enough to check by hand."""
    region = Region(
        schools=1,
        people=[Person(Profile.STUDENT, frozenset({0})), Person(Profile.STUDENT, frozenset({0})),
                Person(Profile.STUDENT, frozenset({0})), Person(Profile.PARENT, frozenset({0}))],
        groups=[(GroupKind.CLASS, 0)], members={(0, 0): False, (0, 1): False},
        links={(3, 1)})
    assert region.reachable(0) == {0, 1, 3}
    assert region.reachable(3) == {0, 1, 3}
    assert region.reachable(2) == {2}
    assert region.reachable(2, replying_to=0) == {0, 2}
    region.received.add((2, 3))       # the parent wrote to pupil 2: who may answer her
    assert region.reachable(2) == {2, 3}


@settings(max_examples=1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(region=regions())
def test_savepoint_leaves_nothing_behind(ctx, password_hash, region):
    savepoint = db.session.begin_nested()
    region.write(password_hash)
    savepoint.rollback()
    assert db.session.scalar(select(Account.id).where(Account.login == "prop.0")) is None
