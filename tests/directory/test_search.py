"""Directory searches: name prefixes folded like the keys, perimeters by role, filters, order,
and group searches."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account, Group, School
from directory.role_grants import grant_role, remove_role
from directory.search import (
    FEW_SCHOOLS,
    AccountFilters,
    GroupFilters,
    can_search,
    count_query,
    group_search_query,
    name_key,
    perimeter_of,
    search_page,
    search_page_ids,
    search_query,
)
from directory.sets import among


def account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def logins(viewer: Account, **filters) -> list[str]:
    return list(db.session.scalars(search_query(viewer, AccountFilters(**filters))
                                   .with_only_columns(Account.login)))


def school(uai: str) -> School:
    return db.session.scalar(select(School).where(School.uai == uai))


@pytest.fixture
def zoe(ctx):
    return account("zoe.le-gall")


@pytest.fixture
def paul(ctx):
    return account("paul.durand")


@pytest.mark.parametrize("typed", ["zoe", "Zoé", "ZOE", "le gall", "Le Gall", "LE-GALL",
                                   "le_gall", "  le   gall  ", "le gall z", "lE GaLl ZoÉ"])
def test_name_prefix_is_case_and_accent_insensitive(paul, typed):
    assert "zoe.le-gall" in logins(paul, name=typed)


@pytest.mark.parametrize("typed", ["gall", "oe", "le gall x", "zoé le"])
def test_only_prefixes_of_first_or_last_name_match(paul, typed):
    assert "zoe.le-gall" not in logins(paul, name=typed)


@pytest.mark.parametrize("typed", ["%", "_", "%%", "\\", "'", "--"])
def test_punctuation_alone_finds_nobody(paul, typed):
    assert logins(paul, name=typed) == []


@pytest.mark.parametrize(("typed", "same_as"), [
    ("z%", "z"), ("l_cas", "l cas"), ("le%gall", "le gall"), ("'; DROP TABLE account;--",
                                                             "drop table account")])
def test_wildcards_and_quotes_are_plain_punctuation(paul, typed, same_as):
    assert logins(paul, name=typed) == logins(paul, name=same_as)
    assert "lucas.martin" not in logins(paul, name=typed)


def test_results_sorted_by_last_then_first_name(paul):
    rows = db.session.execute(search_query(paul, AccountFilters(name="ma"))
                              .with_only_columns(Account.last_name, Account.first_name)).all()
    assert len(rows) > 3
    keys = [(name_key(last), name_key(first)) for last, first in rows]
    assert keys == sorted(keys)


def test_user_searches_own_schools_only(zoe, paul):
    other = school("0310002C")
    assert can_search(zoe)
    stranger = db.session.scalars(select(Account).where(Account.schools.contains(other))
                                  .order_by(Account.id)).first()
    assert stranger.login not in logins(zoe, name=stranger.last_name)
    assert stranger.login in logins(paul, name=stranger.last_name)
    assert logins(zoe, school_ids=[other.id]) == []


def test_manager_and_admin_search_every_school(ctx):
    other = school("0310002C")
    for login in ("claire.bernard", "admin"):
        assert logins(account(login), school_ids=[other.id])


def test_granting_advanced_role_widens_the_perimeter_at_once(zoe):
    other = school("0310002C")
    grant_role(zoe, Role.DIRECTORY_ADVANCED)
    db.session.commit()
    assert logins(zoe, school_ids=[other.id])


def test_without_directory_role_nobody_is_found(zoe):
    remove_role(zoe, Role.DIRECTORY_USER)
    db.session.commit()
    assert not can_search(zoe)
    assert logins(zoe) == []


def test_suspended_accounts_are_shown_to_administrators_only(paul):
    lucas = account("lucas.martin")
    lucas.suspended = True
    db.session.commit()
    assert "lucas.martin" not in logins(paul, name="martin")
    assert "lucas.martin" in logins(account("admin"), name="martin")


def test_filters_combine(paul):
    four_a = db.session.scalar(select(Group).where(Group.name == "4A",
                                                   Group.school_id == school("0310024H").id))
    in_class = logins(paul, group_id=four_a.id)
    assert {"zoe.le-gall", "lucas.martin", "claire.bernard"} <= set(in_class)
    students = logins(paul, group_id=four_a.id, profiles=[Profile.STUDENT])
    assert "claire.bernard" not in students and "zoe.le-gall" in students
    assert logins(paul, group_id=four_a.id, discipline="français") == ["claire.bernard"]
    assert logins(paul, name="bernard", profiles=[Profile.TEACHER],
                  school_ids=[school("0310024H").id]) == ["claire.bernard"]
    assert logins(paul, group_id=2**40) == []


def test_group_search_by_kind_name_and_school(ctx):
    zoe = account("zoe.le-gall")
    first = school("0310024H")

    def names(viewer, **filters):
        return [(g.name, g.kind, g.school_id) for g in
                db.session.scalars(group_search_query(viewer, GroupFilters(**filters)))]

    classes = names(zoe, kinds=[GroupKind.CLASS])
    assert ("4A", GroupKind.CLASS, first.id) in classes
    assert {school_id for *_, school_id in classes} == {first.id}
    assert names(zoe, name="théâtre") == [("Théâtre", GroupKind.GROUP, first.id)]
    assert names(zoe, name="4", kinds=[GroupKind.CLASS]) == [("4A", GroupKind.CLASS, first.id)]
    everywhere = names(account("paul.durand"), name="4a", kinds=[GroupKind.CLASS])
    assert len(everywhere) == 3
    ad_hoc = names(account("paul.durand"), kinds=[GroupKind.AD_HOC],
                   school_ids=[school("0310002C").id])
    assert ad_hoc and all(kind == GroupKind.AD_HOC for _, kind, _ in ad_hoc)
    assert names(zoe, name="%") == []


@pytest.mark.parametrize("typed", ["ma", "m", "mar", "du", "le g", "lucas", "b", "zz"])
@pytest.mark.parametrize("login", ["paul.durand", "zoe.le-gall", "admin"])
def test_a_page_is_the_same_slice_of_the_search(ctx, typed, login):
    """search_page (two sorted sides, merged) gives exactly the rows of search_query."""
    viewer = account(login)
    filters = AccountFilters(name=typed)
    everything = list(db.session.scalars(search_query(viewer, filters)
                                         .with_only_columns(Account.id)))
    for offset, limit in ((0, 20), (20, 20), (5, 50), (len(everything) - 3, 20)):
        offset = max(offset, 0)
        page = [a.id for a in db.session.scalars(search_page(viewer, filters, offset, limit))]
        assert page == everything[offset:offset + limit], (offset, limit)


@pytest.mark.parametrize("typed", ["m", "mar", "le g", "lucas", "zz", ""])
def test_a_page_read_from_the_members_of_chosen_schools_is_the_same_slice(paul, typed):
    """A region-wide viewer choosing one school in the filter: the page is read from that
    school's members (search._members_first), and is still the search's slice and count."""
    filters = AccountFilters(name=typed, school_ids=(school("0310024H").id,))
    everything = list(db.session.scalars(search_query(paul, filters)
                                         .with_only_columns(Account.id)))
    assert everything or typed == "zz"
    for offset, limit in ((0, 20), (3, 5), (max(len(everything) - 3, 0), 20)):
        page = [a.id for a in db.session.scalars(search_page(paul, filters, offset, limit))]
        assert page == everything[offset:offset + limit], (offset, limit)
        ids = list(db.session.scalars(search_page_ids(paul, filters, offset, limit)))
        assert ids == page
    for cap in (0, 1, len(everything) - 1, len(everything), 1000):
        assert db.session.scalar(count_query(paul, filters, cap)) == \
            min(len(everything), cap + 1), cap


@pytest.mark.parametrize("typed", ["m", "ma", "b", "le", "z", "lucas"])
def test_a_pupils_capped_count_is_the_number_of_results(zoe, typed):
    """A pupil's perimeter is one school: counted from its members."""
    total = len(logins(zoe, name=typed))
    for cap in [*range(min(total, 10) + 2), 1000]:
        assert db.session.scalar(count_query(zoe, AccountFilters(name=typed), cap)) == \
            min(total, cap + 1), cap


def test_few_schools_are_read_member_by_member_on_postgresql(zoe, paul):
    """On PostgreSQL a pupil's search, or a search of one chosen school, starts from the
    school's members (= ANY(ARRAY(…))); a region-wide search, or one of more than
    FEW_SCHOOLS schools, from the name indexes (the union of the two sides). The pages
    themselves read such a search's ids from the schools' name index
    (tests/directory/test_school_index.py)."""
    from sqlalchemy.dialects import postgresql

    def sql(viewer, **filters) -> str:
        statement = search_page_ids(perimeter_of(viewer), AccountFilters(name="mar", **filters),
                                    0, 20)
        return str(statement.compile(dialect=postgresql.dialect()))

    db.session.add_all(School(uai=f"031999{n}A", name=f"Collège {n}", city="Muret")
                       for n in range(FEW_SCHOOLS))
    db.session.flush()
    school_ids = list(db.session.scalars(select(School.id).order_by(School.id)))
    assert len(school_ids) > FEW_SCHOOLS
    assert "= ANY(ARRAY(SELECT account_school.account_id" in sql(zoe)
    assert "UNION" not in sql(zoe)
    assert "ANY(ARRAY" not in sql(paul) and "UNION" in sql(paul)
    assert "ANY(ARRAY" in sql(paul, school_ids=tuple(school_ids[:FEW_SCHOOLS]))
    assert "ANY(ARRAY" not in sql(paul, school_ids=tuple(school_ids[:FEW_SCHOOLS + 1]))
    assert "ANY(ARRAY" not in sql(zoe, group_id=1)     # a group's members are fewer still


def test_list_conditions_are_plain_lookups_on_sqlite(zoe):
    """SQLite has no boolean: a Boolean-typed condition would be written `(… IN …) = 1`,
    which its planner does not read as a lookup of the list's ids."""
    from sqlalchemy.dialects import sqlite

    statement = search_page_ids(perimeter_of(zoe), AccountFilters(name="mar"), 0, 20) \
        .where(among(Account.id, "ids"))
    sql = " ".join(str(statement.compile(dialect=sqlite.dialect())).split())
    assert "account.id IN (SELECT account_school.account_id" in sql
    assert "json_each(?))" in sql
    assert ") = 1" not in sql


def test_schools_offered_by_code_sort_the_french_way(ctx):
    """A byte-order sort put « École … » after every « Lycée … »."""
    from directory.search import school_choices

    schools = [School(uai="0319991A", name="Lycée Arago", city="Muret"),
               School(uai="0319992B", name="École Zola", city="Muret"),
               School(uai="0319993C", name="collège Berthelot", city="Muret")]
    db.session.add_all(schools)
    db.session.flush()
    choices = school_choices(account("admin"), codes=["0319991A", "0319992B", "0319993C"])
    names = {s.id: s.name for s in schools}
    assert [names[i] for i in choices.by_code] == ["collège Berthelot", "École Zola",
                                                   "Lycée Arago"]


@pytest.mark.parametrize("typed", ["m", "ma", "b", "le", "z", "é", "durand", "le gall"])
def test_the_capped_count_is_the_number_of_results_up_to_cap_plus_one(paul, typed):
    """Whether the last names alone pass the cap (the first names are then not read) or
    only last and first names together do (a person found by both counting once)."""
    filters = AccountFilters(name=typed)
    total = len(logins(paul, name=typed))
    for cap in [*range(min(total, 40) + 2), 100, 1000]:
        assert db.session.scalar(count_query(paul, filters, cap)) == min(total, cap + 1), cap


def test_among_finds_the_ids_of_one_list_parameter(ctx):
    """Small and large ids alike (psycopg binds them as different integer types), a list of
    one, ids that are nobody's, and the same statement again with another list."""
    statement = select(Account.id).where(among(Account.id, "ids")).order_by(Account.id)
    ids = list(db.session.scalars(select(Account.id).order_by(Account.id).limit(30)))
    big = 2**31 - 1
    assert list(db.session.scalars(statement, {"ids": [*ids[:20], big]})) == ids[:20]
    assert list(db.session.scalars(statement, {"ids": [ids[-1]]})) == [ids[-1]]
    assert list(db.session.scalars(statement, {"ids": []})) == []
