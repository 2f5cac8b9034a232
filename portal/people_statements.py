"""The statements of a page of people (the ids of its people, their rows with schools and
classes, the capped count of the whole search), built once per shape and run through
SQLAlchemy Core.

Building them with the expression language costs more Python than running them (about 1.5 ms
each on the Annuaire's searches, where a prebuilt statement runs in 0.4 ms): the page builds
them once per *shape* — the viewer's perimeter, the shape of her writing rule
(`rights.RuleShape`), the filters other than the name, the page asked for — and passes the
name typed and the rule's values (`SenderRule.parameters`) as bound parameters. The builder
below reads nothing but its arguments, all plain values, so a statement is reused only where
it is the very statement the same arguments would build again; a change of perimeter, of the
rule's shape or of a filter is another shape.

Two statements rather than one: PostgreSQL plans a statement again at every search when its
plan depends on the name typed (how many people a prefix matches decides how the page is
read), and planning one statement holding the count, the writing rule and the schools and
classes cost as much as running it. So only `ids` (the page's people, in order) is planned
each time; `rows` (the people of a list of ids with their schools and classes aggregated,
whether one may write to them, and the capped count as an uncorrelated scalar subquery, run
once) has one good plan whatever the values, which PostgreSQL keeps (a generic plan of
psycopg's prepared statement). The count alone is run only for an empty page past the
first, whose number of pages must then be told.

A page read from the members of few schools (a pupil's or a parent's perimeter, or a school
chosen in the filter: directory/search.py `members_page_ids`) reads every match to sort them:
its `ids` then count them too, and `rows` carry no count.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import select

from directory.driver_reads import KeptStatement
from directory.enums import Profile
from directory.models import Account, GroupMember
from directory.rights import RuleShape, SenderRule, rule_condition, sender_rule
from directory.search import (
    BOUND_NAME,
    AccountFilters,
    Perimeter,
    class_names,
    count_query,
    members_page_ids,
    name_bounds,
    name_key,
    perimeter_of,
    school_names,
    search_page_ids,
)
from directory.sets import among

NO_LETTER = "-"     # a name without letter or digit: it folds to nothing and finds nobody
PERSON_COLUMNS = (Account.id, Account.first_name, Account.last_name, Account.profile,
                  Account.discipline, Account.address, Account.suspended)


@dataclass(frozen=True)
class _Shape:
    perimeter: Perimeter
    rule: RuleShape            # the viewer's values are parameters (SenderRule.parameters)
    name: str                  # BOUND_NAME, NO_LETTER (finds nobody) or "" (no name asked)
    profiles: tuple[Profile, ...]
    discipline: str
    school_ids: tuple[int, ...]
    group_id: int | None
    parents_of_class: bool
    offset: int
    limit: int
    manager_of: int | None     # the group whose managers the rows flag


@dataclass(frozen=True)
class PeopleStatements:
    ids: sa.Select             # the ids of the page's people, in the page's order
                               # [, the number of matches: when total_with_ids]
    rows: sa.Select            # of the ids bound as IDS: PERSON_COLUMNS, writable (the
                               # rule_condition: with `suspended`, a refused row's reason),
                               # total (NULL when total_with_ids), schools, classes[,
                               # is_manager, member_ends_at]
    count: sa.Select           # the matches, counted up to cap + 1
    total_with_ids: bool = False
    _kept: dict = field(default_factory=dict, compare=False)

    def run(self, which: str, connection, params: dict) -> list:
        """The rows of `ids` or `rows` (`which`): on PostgreSQL, after the first run, on the
        driver's cursor as that first run was sent (directory/driver_reads.py
        `KeptStatement`), about 0.1 ms of CPU less each."""
        kept = self._kept.get(which)
        if kept is None:
            kept = self._kept[which] = KeptStatement(getattr(self, which))
        return kept.rows(connection, params)


IDS = "ids"


def people_statements(viewer, filters: AccountFilters, offset: int, limit: int, cap: int,
                      manager_of: int | None = None, rule: SenderRule | None = None
                      ) -> tuple[PeopleStatements, dict]:
    """The statements of this page and their parameters (`rule`: the viewer's
    `sender_rule`, when read already)."""
    rule = rule or sender_rule(viewer)
    typed = filters.name.strip()
    name, params = "", dict(rule.parameters)
    if typed:
        name = BOUND_NAME if name_key(typed) else NO_LETTER
        if name == BOUND_NAME:
            params.update(name_bounds(typed))
    shape = _Shape(perimeter=perimeter_of(viewer), rule=rule.shape, name=name,
                   profiles=tuple(filters.profiles), discipline=filters.discipline,
                   school_ids=tuple(filters.school_ids), group_id=filters.group_id,
                   parents_of_class=filters.parents_of_class, offset=offset, limit=limit,
                   manager_of=manager_of)
    return _built(shape, cap), params


@lru_cache(maxsize=512)
def _built(shape: _Shape, cap: int) -> PeopleStatements:
    filters = AccountFilters(name=shape.name,
                             profiles=shape.profiles, discipline=shape.discipline,
                             school_ids=shape.school_ids, group_id=shape.group_id,
                             parents_of_class=shape.parents_of_class)
    count = count_query(shape.perimeter, filters, cap)
    counted_ids = members_page_ids(shape.perimeter, filters, shape.offset, shape.limit)
    total = count.scalar_subquery() if counted_ids is None else sa.null()
    columns = [*PERSON_COLUMNS, rule_condition(shape.rule).label("writable"),
               total.label("total"),
               school_names().label("schools"), class_names().label("classes")]
    if shape.manager_of is not None:
        columns.append(select(GroupMember.is_manager)
                       .where(GroupMember.group_id == shape.manager_of,
                              GroupMember.account_id == Account.id)
                       .scalar_subquery().label("is_manager"))
        columns.append(select(GroupMember.access_ends_at)
                       .where(GroupMember.group_id == shape.manager_of,
                              GroupMember.account_id == Account.id)
                       .scalar_subquery().label("member_ends_at"))
    return PeopleStatements(
        ids=counted_ids if counted_ids is not None else
        search_page_ids(shape.perimeter, filters, shape.offset, shape.limit),
        rows=select(*columns).where(among(Account.id, IDS)),
        count=count, total_with_ids=counted_ids is not None)
