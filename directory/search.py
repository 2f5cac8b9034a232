"""Directory searches at region scale: people and groups, within the viewer's perimeter.

Perimeter (SPEC §1): administrators see everything; "Utilisateur avancé" and "Gestionnaire
annuaire" see every school; "Utilisateur" sees the schools they belong to; anyone without a
directory role sees nobody. Suspended accounts are shown to administrators only.

Name searches compare a folded key ("le gall zoe", see `naming.search_key`) with a *range*
(`key >= 'zoe' AND key < 'zof'`) rather than LIKE: the range uses a plain B-tree index on both
SQLite and PostgreSQL (where migration 0002 gives the key columns the "C" collation, so that
index order is byte order) and the same index gives the sort by last name; `%` and `_` have
no meaning there and are folded away like any other punctuation.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import and_, case, exists, false, func, or_, select, true, union
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from .db import db
from .enums import GroupKind, Profile, Role
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .naming import collation_key, search_key
from .rights import active_child
from .roles import effective_roles

SEARCH_ROLES = frozenset({Role.DIRECTORY_USER, Role.DIRECTORY_ADVANCED, Role.DIRECTORY_MANAGER})
REGION_ROLES = frozenset({Role.DIRECTORY_ADVANCED, Role.DIRECTORY_MANAGER})
MAX_ID = 2**31 - 1  # ids are 32-bit integers: a bigger one is unknown, not an SQL error


def valid_id(value: int | None) -> bool:
    return isinstance(value, int) and 0 < value <= MAX_ID


def id_from(text: str | None) -> int | None:
    """The id a URL or a form wrote as `text`, or None when it names none: digits only
    (« ² » is a digit to `str.isdigit` but not to `int`) and within MAX_ID."""
    if not text or len(text) > 10 or not text.isascii() or not text.isdecimal():
        return None
    value = int(text)
    return value if valid_id(value) else None


@dataclass
class AccountFilters:
    name: str = ""                      # prefix of first or last name, case/accent-insensitive
    profiles: Sequence[Profile] = ()
    discipline: str = ""
    school_ids: Sequence[int] = ()
    group_id: int | None = None
    # With a class as group_id, its pupils' parents count as in it too (SPEC §2 lets them
    # write to the class): the search forms set it when « Parent d'élève » is asked for.
    parents_of_class: bool = False

    def is_empty(self) -> bool:
        return not (self.name.strip() or self.profiles or self.discipline or self.school_ids
                    or self.group_id is not None)


@dataclass
class GroupFilters:
    name: str = ""                      # prefix of the group's name, case/accent-insensitive
    kinds: Sequence[GroupKind] = ()
    school_ids: Sequence[int] = ()


def name_key(text: str) -> str:
    """A typed name as the folded key it is compared with: 'Le_Gall' → 'le gall'."""
    return search_key("", text)[0]


def prefix_condition(column, prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix` (a folded key), as an index-friendly range."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def can_search(viewer: Account) -> bool:
    return viewer.is_admin or bool(effective_roles(viewer) & SEARCH_ROLES)


def perimeter_school_ids(viewer: Account) -> list[int] | None:
    """The schools whose people the viewer may find; None means every school."""
    if viewer.is_admin or effective_roles(viewer) & REGION_ROLES:
        return None
    if Role.DIRECTORY_USER in effective_roles(viewer):
        return [school.id for school in viewer.schools]
    return []


@dataclass(frozen=True)
class Perimeter:
    """A viewer's perimeter as plain values (hashable: pages key their statements with it)."""

    admin: bool
    school_ids: tuple[int, ...] | None      # None: every school; (): nobody


def perimeter_of(viewer: Account) -> Perimeter:
    school_ids = perimeter_school_ids(viewer)
    return Perimeter(admin=viewer.is_admin,
                     school_ids=None if school_ids is None else tuple(sorted(school_ids)))


def perimeter_condition(viewer: Account | Perimeter, account=Account, *,
                        from_members: bool = False) -> sa.ColumnElement[bool]:
    """Whom `viewer` may find; `from_members`: read from the perimeter's members first (see
    `_in_schools`)."""
    perimeter = viewer if isinstance(viewer, Perimeter) else perimeter_of(viewer)
    if perimeter.school_ids == ():
        return false()
    condition = _shown(perimeter, account.suspended)
    if perimeter.school_ids is not None:
        condition = and_(condition, _in_schools(account, perimeter.school_ids,
                                                from_members=from_members))
    return condition


def _shown(perimeter: Perimeter, suspended) -> sa.ColumnElement[bool]:
    """Suspended accounts are shown to administrators only (`suspended`: the column read)."""
    return true() if perimeter.admin else suspended.is_(False)


def _in_schools(account, school_ids: Sequence[int], *,
                from_members: bool = False) -> sa.ColumnElement[bool]:
    """An IN rather than an EXISTS: SQLite then starts from the school's members (a thousand)
    instead of testing every name of the region that matches. PostgreSQL does not: it walks
    the region's matching names and hashes the school's members; `from_members` makes it
    start from the members (see `member_of`)."""
    members = select(AccountSchool.account_id).where(AccountSchool.school_id.in_(list(school_ids)))
    return member_of(account.id, members) if from_members else account.id.in_(members)


# A page of people whose schools are at most this many (the viewer's perimeter, or the
# schools chosen in the filter) is read from those schools' members, a thousand or so each,
# rather than from the name indexes across the region (`_members_first`).
FEW_SCHOOLS = 3


def _members_first(perimeter: Perimeter, filters: AccountFilters) -> str | None:
    """Which school list a page of people is read from, its members rather than the region's
    names: "perimeter", "filter", or None (from the name indexes).

    For a pupil (one school of 958 accounts among 473,764), PostgreSQL read « mar » by walking
    the 16,404 last names and 34,349 first names of the region that match and joining them
    with the school's members: 13 ms for the page's ids and as much for its count (« m »: 17
    and more). Read from the school's members by primary key, filtered and sorted: 2.3 ms for
    « m », whatever the prefix; from the schools' name index (`_school_index`, migration
    0025), where the page asks for nothing it lacks, 0.3 ms. A region-wide perimeter keeps
    the name indexes, and a search within a group starts from the group's members."""
    if filters.group_id is not None:    # a group's members are fewer still: let it start there
        return None
    if perimeter.school_ids is not None and 0 < len(perimeter.school_ids) <= FEW_SCHOOLS:
        return "perimeter"
    if filters.school_ids and len(filters.school_ids) <= FEW_SCHOOLS:
        return "filter"
    return None


# A name prefix as two bound parameters (`name_bounds` gives their values): a statement built
# with them serves every name typed (see portal/directory_pages.py).
NAME_FROM = sa.bindparam("name_from", type_=sa.String)
NAME_TO = sa.bindparam("name_to", type_=sa.String)
BOUND_NAME = "\x00bound"   # AccountFilters.name that stands for NAME_FROM/NAME_TO


def name_bounds(name: str) -> dict[str, str]:
    """The values of NAME_FROM and NAME_TO for a typed name that folds to a non-empty key."""
    key = name_key(name)
    return {"name_from": key, "name_to": key[:-1] + chr(ord(key[-1]) + 1)}


def _name_condition(column, key: str) -> sa.ColumnElement[bool]:
    if key == BOUND_NAME:
        return and_(column >= NAME_FROM, column < NAME_TO)
    return prefix_condition(column, key)


def _name_match(key: str, last_name, first_name) -> sa.ColumnElement[bool]:
    """The folded name asked for (see `_key_of`) starts the last name or the first name
    (`last_name`, `first_name`: the key columns read); a name that folds to nothing finds
    nobody."""
    if not key:
        return false()
    return or_(_name_condition(last_name, key), _name_condition(first_name, key))


def _key_of(filters: AccountFilters) -> str | None:
    """The folded name asked for (BOUND_NAME passes through); None: no name asked."""
    if filters.name == BOUND_NAME:
        return BOUND_NAME
    return name_key(filters.name) if filters.name.strip() else None


def search_query(viewer: Account | Perimeter, filters: AccountFilters, *,
                 members_first: str | None = None) -> sa.Select:
    """SELECT of Account rows within the viewer's search perimeter, sorted by last name then
    first name. Callers paginate it or use it inside INSERT ... SELECT."""
    query = select(Account).where(*_conditions(viewer, filters, members_first))
    key = _key_of(filters)
    if key is not None:
        query = query.where(_name_match(key, Account.search_name, Account.search_first))
    return query.order_by(Account.search_name, Account.id)


def search_page(viewer: Account | Perimeter, filters: AccountFilters, offset: int,
                limit: int) -> sa.Select:
    """One page of `search_query`, written so that it costs the same whatever the region.

    A name matches by last name or by first name. As one OR, a planner either sorts every
    match (tens of thousands for "mar" in a region) or walks the last-name index from "a"
    (slow for "du"). Here each side is its own SELECT, sorted and cut at offset + limit: the
    last-name side is a bounded range scan of its index, the first-name side reads a covering
    index (migration 0002); only their union of at most 2 × (offset + limit) rows is sorted.
    A page of few schools' people is read from their members instead (`_members_first`)."""
    key = _key_of(filters)
    if not key or _members_first(_perimeter(viewer), filters):
        return _members_query(viewer, filters).limit(limit).offset(offset)
    found = _name_sides(viewer, filters, key, offset + limit)
    return (select(Account).join(found, found.c.id == Account.id)
            .order_by(found.c.search_name, found.c.id).limit(limit).offset(offset))


def search_page_ids(viewer: Account | Perimeter, filters: AccountFilters, offset: int,
                    limit: int) -> sa.Select:
    """The ids of `search_page`'s people, in its order. For a name read from the name indexes
    (not `_members_first`), from the union of its two sides alone, without joining `account`
    back (on PostgreSQL, over the 20 prefixes of bench/directory_http.sh: planned in 0.28 ms
    instead of 0.35 on average, run in 0.10 ms instead of 0.17)."""
    key = _key_of(filters)
    if not key or _members_first(_perimeter(viewer), filters):
        return search_page(viewer, filters, offset, limit).with_only_columns(
            Account.id, maintain_column_froms=True)
    found = _name_sides(viewer, filters, key, offset + limit)
    return (select(found.c.id).order_by(found.c.search_name, found.c.id)
            .limit(limit).offset(offset))


def members_page_ids(viewer: Account | Perimeter, filters: AccountFilters, offset: int,
                     limit: int) -> sa.Select | None:
    """For a page read from few schools' members (`_members_first`): the ids of its people
    in `search_page_ids`' order, each with the number of every match as a second column, read
    from the schools' name index (`_school_index`) where it holds what the page asks, else
    from the members' accounts (`search_page`). Every match is read to be sorted, so counting
    them there costs nothing, where `count_query` would read them again. None for a page read
    from the name indexes."""
    perimeter = _perimeter(viewer)
    if not _members_first(perimeter, filters):
        return None
    matches = _school_index(perimeter, filters)
    if matches is not None:
        return (select(matches.c.account_id, func.count().over().label("total"))
                .order_by(matches.c.search_name, matches.c.account_id)
                .limit(limit).offset(offset))
    return search_page(viewer, filters, offset, limit).with_only_columns(
        Account.id, func.count().over().label("total"), maintain_column_froms=True)


def _school_index(perimeter: Perimeter, filters: AccountFilters) -> sa.Subquery | None:
    """The people of a page read from few schools' members (`_members_first`), as
    (account_id, search_name) rows, each person once, read from the schools' name index alone
    (the copy of the account's names, suspension and profile in `account_school`, see
    AccountSchool); None for a page read otherwise, or one that asks for what the index does
    not hold (a discipline) or for two lists of schools (the perimeter's and the filter's).

    For a pupil's « mar » among 473,764 accounts on PostgreSQL, warm: 11 buffers, 0.18–0.20 ms
    of execution and 0.06–0.09 ms of planning, where reading her school's 958 accounts by
    primary key took 2,920 buffers, 1.36–1.48 ms and 0.40 ms (migration 0025)."""
    members_first = _members_first(perimeter, filters)
    if members_first is None or filters.discipline:
        return None
    if members_first == "perimeter":    # and a filter of schools too: two lists
        school_ids = None if filters.school_ids else perimeter.school_ids
    else:                               # a perimeter of schools too: two lists; (): nobody
        school_ids = filters.school_ids if perimeter.school_ids is None else None
    if not school_ids:
        return None
    conditions = [AccountSchool.school_id.in_(list(school_ids)),
                  _shown(perimeter, AccountSchool.suspended)]
    if filters.profiles:
        conditions.append(AccountSchool.profile.in_(list(filters.profiles)))
    key = _key_of(filters)
    if key is not None:
        conditions.append(_name_match(key, AccountSchool.search_name,
                                      AccountSchool.search_first))
    matches = select(AccountSchool.account_id, AccountSchool.search_name).where(*conditions)
    # a person of two of the schools has a row in each: DISTINCT (one school: none needed,
    # 0.1 ms less)
    return (matches.distinct() if len(school_ids) > 1 else matches).subquery()


def _name_sides(viewer, filters: AccountFilters, key: str, first: int) -> sa.Subquery:
    """The first `first` matches by last name and by first name, each in name order, as one
    union (id, search_name)."""
    conditions = _conditions(viewer, filters)
    sides = []
    for column in (Account.search_name, Account.search_first):
        side = (select(Account.id, Account.search_name)
                .where(*conditions, _name_condition(column, key))
                .order_by(Account.search_name, Account.id).limit(first).subquery())
        sides.append(select(side.c.id, side.c.search_name))
    return union(*sides).subquery()


def count_query(viewer: Account | Perimeter, filters: AccountFilters, cap: int) -> sa.Select:
    """The number of matches of `search_query`, counted up to cap + 1 (see `count_capped`).
    A page of few schools' people is counted from their members (`_members_first`), in the
    schools' name index where it holds what is asked (`_school_index`). Otherwise
    a name is counted as `search_page` reads it, side by side: each side (last name, first
    name) cut at cap + 1 and read from its covering index (migrations 0002 and 0018), then
    their union (a person matching by both counts once), cut again. When the last names alone
    pass the cap (a common prefix), the union is not read at all: the CASE asks for it only
    otherwise (on PostgreSQL the union's InitPlan is then never executed: 1.4 → 0.3 ms for
    « mar » among 473,764 accounts)."""
    key = _key_of(filters)
    perimeter = _perimeter(viewer)
    matches = _school_index(perimeter, filters)
    if matches is not None:
        limited = select(matches.c.account_id).limit(cap + 1).subquery()
        return select(func.count()).select_from(limited)
    if not key or _members_first(perimeter, filters):
        limited = ids_of(_members_query(viewer, filters)).limit(cap + 1).subquery()
        return select(func.count()).select_from(limited)
    conditions = _conditions(viewer, filters)

    def side(column) -> sa.Subquery:
        return (select(Account.id).where(*conditions, _name_condition(column, key))
                .limit(cap + 1).subquery())

    by_last_name = select(func.count()).select_from(side(Account.search_name))
    found = union(select(side(Account.search_name).c.id),
                  select(side(Account.search_first).c.id)).subquery()
    by_either = select(func.count()).select_from(select(found.c.id).limit(cap + 1).subquery())
    return select(case((by_last_name.scalar_subquery() > cap, cap + 1),
                       else_=by_either.scalar_subquery()))


def _members_query(viewer: Account | Perimeter, filters: AccountFilters) -> sa.Select:
    """`search_query`, read from the members of few schools when `_members_first` says so."""
    return search_query(viewer, filters,
                        members_first=_members_first(_perimeter(viewer), filters))


def _perimeter(viewer: Account | Perimeter) -> Perimeter:
    return viewer if isinstance(viewer, Perimeter) else perimeter_of(viewer)


def _conditions(viewer: Account | Perimeter, filters: AccountFilters,
                members_first: str | None = None) -> list[sa.ColumnElement[bool]]:
    """Perimeter and every filter but the name; `members_first` (see `_members_first`) reads
    that school list's members first."""
    conditions = [perimeter_condition(viewer, from_members=members_first == "perimeter")]
    if filters.profiles:
        conditions.append(Account.profile.in_(list(filters.profiles)))
    if filters.discipline:
        conditions.append(Account.discipline == filters.discipline)
    if filters.school_ids:
        conditions.append(_in_schools(Account, filters.school_ids,
                                      from_members=members_first == "filter"))
    if filters.group_id is not None:
        conditions.append(_in_group(filters.group_id, filters.parents_of_class)
                          if valid_id(filters.group_id) else false())
    return conditions


def _in_group(group_id: int, parents_of_class: bool) -> sa.ColumnElement[bool]:
    member = exists().where(GroupMember.group_id == group_id,
                            GroupMember.account_id == Account.id)
    if not parents_of_class:
        return member
    is_class = exists().where(Group.id == group_id, Group.kind == GroupKind.CLASS)
    parent = exists().where(GroupMember.group_id == group_id,
                            GroupMember.account_id == ParentLink.child_id,
                            ParentLink.parent_id == Account.id,
                            active_child(ParentLink.child_id))
    return or_(member, and_(is_class, parent))


def ids_of(query: sa.Select, id_column=Account.id) -> sa.Select:
    """The same search reduced to its ids, unsorted: for IN (…) and INSERT … SELECT."""
    return query.with_only_columns(id_column, maintain_column_froms=True).order_by(None)


def count_capped(query: sa.Select, cap: int, id_column=Account.id) -> int:
    """Number of results, counted up to cap + 1 only: past that, nobody pages through them
    and an exact count of a whole region would cost more than the page itself."""
    limited = ids_of(query, id_column).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(limited))


def classes_by_account(account_ids: Sequence[int]) -> dict[int, list[str]]:
    """Class names of each account, in one query (for a page of results or an export).
    The kind is checked here rather than in SQL: given `kind = …`, SQLite without statistics
    walks every class of the region instead of the few memberships of these accounts."""
    classes: dict[int, list[str]] = defaultdict(list)
    if not account_ids:
        return classes
    rows = db.session.execute(
        select(GroupMember.account_id, Group.name, Group.kind)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.account_id.in_(list(account_ids))))
    for account_id, name, kind in sorted(rows, key=lambda row: row[1]):
        if kind == GroupKind.CLASS:
            classes[account_id].append(name)
    return classes


class member_of(FunctionElement):
    """`column` is one of the ids `members` (a SELECT of one column) returns, read from those
    members first: `= ANY(ARRAY(…))` on PostgreSQL, whose planner cannot tell how many an
    array holds and so probes the primary key for each rather than walk another index;
    `IN (…)` on SQLite, which starts from the subquery anyway. Untyped, as `among`."""

    inherit_cache = True

    def __init__(self, column, members: sa.Select):
        super().__init__(column, members.scalar_subquery())


@compiles(member_of, "postgresql")
def _any_of_members(element, compiler, **kw):
    column, members = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(ARRAY{compiler.process(members, **kw)})"


@compiles(member_of)
def _in_members(element, compiler, **kw):
    column, members = element.clauses
    return f"{compiler.process(column, **kw)} IN {compiler.process(members, **kw)}"


class _TextArray(sa.types.TypeDecorator):
    """text[] read as the driver gives it: psycopg builds the list of str in C, where a JSON
    array went through json.loads (1.3 µs a row and list, ~5 % of an Annuaire page) and
    SQLAlchemy's ARRAY would walk each list again in Python."""

    impl = ARRAY(sa.Text)
    cache_ok = True

    def result_processor(self, dialect, coltype):
        return None


class name_list(FunctionElement):
    """The names of a correlated subquery's rows as one list, in the page's own statement
    (array_agg on PostgreSQL, json_group_array on SQLite): a page of people gets its schools
    and classes without a round trip of its own. NULL or empty when none."""

    type = sa.JSON().with_variant(_TextArray(), "postgresql")
    inherit_cache = True


@compiles(name_list, "postgresql")
def _array_agg(element, compiler, **kw):
    return f"array_agg({compiler.process(element.clauses, **kw)})"


@compiles(name_list, "sqlite")
def _json_group_array(element, compiler, **kw):
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


def school_names(account=Account) -> sa.ScalarSelect:
    """The names of `account`'s schools, correlated to the enclosing statement's account."""
    return (select(name_list(School.name))
            .join(AccountSchool, AccountSchool.school_id == School.id)
            .where(AccountSchool.account_id == account.id).scalar_subquery())


def class_names(account=Account) -> sa.ScalarSelect:
    """The names of `account`'s classes, correlated as `school_names`. The kind is an
    aggregate FILTER rather than a WHERE: given `kind = …`, SQLite without statistics walks
    every class of the region instead of the few memberships of this account."""
    return (select(name_list(Group.name).filter(Group.kind == GroupKind.CLASS))
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.account_id == account.id).scalar_subquery())


def classes_of_group_members(group_id: int) -> dict[int, list[str]]:
    """Class names of every member of a group, in one query whatever the group's size."""
    member, membership = aliased(GroupMember), aliased(GroupMember)
    classes: dict[int, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(member.account_id, Group.name)
        .join(membership, membership.account_id == member.account_id)
        .join(Group, Group.id == membership.group_id)
        .where(member.group_id == group_id, Group.kind == GroupKind.CLASS)
        .order_by(Group.name))
    for account_id, name in rows:
        classes[account_id].append(name)
    return classes


def disciplines_near(viewer: Account) -> list[str]:
    """The disciplines taught in the viewer's own schools: the choices of the filter (bounded
    by the size of those schools, not of the region)."""
    school_ids = [school.id for school in viewer.schools]
    if not school_ids:
        return []
    return sorted(db.session.scalars(
        select(Account.discipline).distinct()
        .join(AccountSchool, AccountSchool.account_id == Account.id)
        .where(AccountSchool.school_id.in_(school_ids), Account.discipline.is_not(None),
               Account.discipline != "")), key=collation_key)


@dataclass
class SchoolChoices:
    """The schools a search form offers and the ones it was asked for."""

    offered: list          # (id, name, uai) rows: one's own schools, then any asked for by id
    by_code: list[int]     # ids of the schools named by UAI code
    unknown: list[str]     # UAI codes that are no school of the viewer's perimeter


def school_choices(viewer: Account, asked_ids: Sequence[int] = (),
                   codes: Sequence[str] = ()) -> SchoolChoices:
    """A region has hundreds of schools: a form offers the viewer's own, and reaches the
    others by UAI code (at most one query for each kind of request, none otherwise)."""
    perimeter = perimeter_school_ids(viewer)
    own = sorted(((s.id, s.name, s.uai) for s in viewer.schools
                  if perimeter is None or s.id in perimeter),
                 key=lambda row: (collation_key(row[1]), row[2]))
    known = {row[0] for row in own}
    others = [i for i in asked_ids if valid_id(i) and i not in known]
    offered = own + (_schools(perimeter, School.id.in_(others)) if others else [])
    codes = [code.upper() for code in codes]
    named = _schools(perimeter, School.uai.in_(codes)) if codes else []
    return SchoolChoices(offered=offered, by_code=[row[0] for row in named],
                         unknown=[code for code in codes if code not in {r[2] for r in named}])


def _schools(perimeter: list[int] | None, condition) -> list:
    query = select(School.id, School.name, School.uai).where(condition)
    if perimeter is not None:
        query = query.where(School.id.in_(perimeter))
    rows = db.session.execute(query)
    return sorted((tuple(row) for row in rows), key=lambda row: (collation_key(row[1]), row[2]))


# Groups -----------------------------------------------------------------------------------

def group_perimeter(viewer: Account) -> sa.ColumnElement[bool]:
    """Groups are visible in the schools whose people the viewer may find."""
    school_ids = perimeter_school_ids(viewer)
    if school_ids is None:
        return true()
    return Group.school_id.in_(school_ids) if school_ids else false()


def group_search_query(viewer: Account, filters: GroupFilters) -> sa.Select:
    """SELECT of the Group rows the viewer may see, sorted by name then school."""
    query = select(Group).where(group_perimeter(viewer))
    if filters.name.strip():
        key = name_key(filters.name)
        query = query.where(prefix_condition(Group.search_name, key) if key else false())
    if filters.kinds:
        query = query.where(Group.kind.in_(list(filters.kinds)))
    if filters.school_ids:
        query = query.where(Group.school_id.in_(list(filters.school_ids)))
    return query.order_by(Group.search_name, Group.school_id, Group.id)


def visible_group(viewer: Account, group_id: int) -> Group | None:
    if not valid_id(group_id):
        return None
    return db.session.scalar(select(Group).where(Group.id == group_id, group_perimeter(viewer)))


def groups_near(viewer: Account) -> list[tuple[int, str, GroupKind, str]]:
    """(id, name, kind, school UAI) of the groups of the viewer's own schools: the choices of
    the people search's group filter, as plain rows (pages cache them)."""
    school_ids = [school.id for school in viewer.schools]
    return [tuple(row) for row in db.session.execute(
        select(Group.id, Group.name, Group.kind, School.uai)
        .join(School, School.id == Group.school_id)
        .where(Group.school_id.in_(school_ids), group_perimeter(viewer))
        .order_by(Group.school_id, Group.kind, Group.search_name))]


def member_counts(viewer: Account | Perimeter, group_ids: Sequence[int]) -> dict[int, int]:
    """How many members of each group `viewer` finds: those its « Voir la liste » shows
    (`perimeter_condition`: a suspended member, or one outside the viewer's perimeter, is
    not counted). A group without any is left out."""
    if not group_ids:
        return {}
    rows = db.session.execute(
        select(GroupMember.group_id, func.count())
        .join(Account, Account.id == GroupMember.account_id)
        .where(GroupMember.group_id.in_(list(group_ids)), perimeter_condition(viewer))
        .group_by(GroupMember.group_id))
    return dict(rows.all())
