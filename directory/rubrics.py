"""Who reads and who manages a rubric (SPEC §6), as SQL, callable without a request.

- A rubric belongs to a school's space (`group_id` None) or a group's space. Every school has
  a default rubric "Vie de l'établissement", read by all its people; every class has one,
  named after it, read by its pupils, their parents and its teachers
  (`ensure_default_rubrics`).
- A **population** is a group or a school crossed with one profile. Its members: the
  accounts of that profile who belong to the group (or school); for the profile Parent
  d'élève, also the parents of the group's members ("Parents d'élèves de 4A").
- Its **managers** publish, edit and write to its populations: the managers named on the
  rubric; for a group's rubric, the group's managers (while they hold the role that lets
  one manage groups: `groups.manager_membership`) and, for a class or an institutional
  group (nobody "manages" an imported class), its members who are teachers or staff; for a
  school's rubric, the school's staff (Personnel non enseignant: direction, vie scolaire);
  administrators manage every rubric.
- Its **readers**: its managers and the members of its populations.

Everything is a SQL condition or SELECT, so "Mes rubriques", the home page, the agenda's
"readers of rubric R" and the recipients of a population mailing are one query whatever the
number of accounts (`readers`, `members_of_populations`). A rubric the viewer may not see is
not found (None): pages answer 404.

Errors a manager can cause are `RubricError`s carrying a `Problem` code and its parameters;
the portal words them.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy import and_, exists, literal, or_, select, true, union

from .clock import utcnow
from .db import db, insert_ignoring_duplicates
from .enums import GroupKind, Profile
from .errors import PreauError
from .groups import manager_membership, manager_memberships
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .rights import active_child
from .rubric_models import Rubric, RubricManager, RubricPopulation
from .search import valid_id

SCHOOL_RUBRIC_NAME = "Vie de l'établissement"
SCHOOL_PROFILES = tuple(Profile)
GROUP_PROFILES = (Profile.STUDENT, Profile.PARENT, Profile.TEACHER)
MANAGING_PROFILES = (Profile.TEACHER, Profile.STAFF)
NAME_MAX = 120
DESCRIPTION_MAX = 2000
# Characters XML cannot hold: the C0 controls but tab, line feed and carriage return (a form
# feed pasted from a PDF), and U+FFFE/U+FFFF. A rubric's or an article's text holding one made
# its Atom feed fail (lxml refuses them) for every subscriber; they are dropped when saved.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def without_controls(text: str) -> str:
    """`text` without the characters an XML document cannot hold (_NOT_IN_XML)."""
    return _NOT_IN_XML.sub("", text)


class Problem(enum.StrEnum):
    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"            # max
    DESCRIPTION_TOO_LONG = "description_too_long"   # max
    NOT_A_SPACE_OF_YOURS = "not_a_space_of_yours"
    UNKNOWN_SCOPE = "unknown_scope"
    POPULATION_EXISTS = "population_exists"
    NOT_A_MANAGER_PROFILE = "not_a_manager_profile"     # name
    UNKNOWN_ACCOUNT = "unknown_account"
    DEFAULT_RUBRIC = "default_rubric"


class RubricError(PreauError):
    def __init__(self, problem: Problem, **params):
        super().__init__(problem.value)
        self.problem, self.params = problem, params


# --- populations -----------------------------------------------------------------------------

def members_of_populations(population_ids: Sequence[int] | sa.Select) -> sa.Select:
    """Ids of the members of these populations (each once): one SELECT, however many."""
    chosen = RubricPopulation.id.in_(population_ids)
    return _members(chosen)


def readers(rubric_id: int) -> sa.Select:
    """Ids of every account that reads the rubric: its managers and its populations."""
    return select(union(_members(RubricPopulation.rubric_id == rubric_id),
                        managers(rubric_id)).subquery().c[0])


def _members(chosen) -> sa.Select:
    """UNION of: members of a population's group with its profile; for parents, parents of
    the group's members; people of a population's school with its profile."""
    population = RubricPopulation
    in_group = (select(GroupMember.account_id)
                .join(population, population.group_id == GroupMember.group_id)
                .join(Account, and_(Account.id == GroupMember.account_id,
                                    Account.profile == population.profile))
                .where(chosen))
    parents = (select(ParentLink.parent_id)
               .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
               .join(population, population.group_id == GroupMember.group_id)
               .join(Account, Account.id == ParentLink.parent_id)
               .where(chosen, population.profile == Profile.PARENT,
                      Account.profile == Profile.PARENT, active_child(ParentLink.child_id)))
    in_school = (select(AccountSchool.account_id)
                 .join(population, population.school_id == AccountSchool.school_id)
                 .join(Account, and_(Account.id == AccountSchool.account_id,
                                     Account.profile == population.profile))
                 .where(chosen))
    return select(union(in_group, parents, in_school).subquery().c[0])


def managers(rubric_id: int) -> sa.Select:
    """Ids of the rubric's managers (administrators apart)."""
    named = select(RubricManager.account_id).where(RubricManager.rubric_id == rubric_id)
    of_group = (select(GroupMember.account_id)
                .join(Rubric, Rubric.group_id == GroupMember.group_id)
                .join(Group, Group.id == GroupMember.group_id)
                .join(Account, Account.id == GroupMember.account_id)
                .where(Rubric.id == rubric_id,
                       or_(manager_memberships(Account),
                           and_(Group.kind != GroupKind.AD_HOC,
                                Account.profile.in_(MANAGING_PROFILES)))))
    of_school = (select(AccountSchool.account_id)
                 .join(Rubric, and_(Rubric.school_id == AccountSchool.school_id,
                                    Rubric.group_id.is_(None)))
                 .join(Account, Account.id == AccountSchool.account_id)
                 .where(Rubric.id == rubric_id, Account.profile == Profile.STAFF))
    return select(union(named, of_group, of_school).subquery().c[0])


# --- what one account reads and manages ------------------------------------------------------

def manages_condition(account: Account, rubric=Rubric) -> sa.ColumnElement[bool]:
    """SQL over `rubric`: `account` manages it."""
    if account.is_admin:
        return true()
    return rubric.id.in_(union(*_managing(account)))


def reads_condition(account: Account, rubric=Rubric) -> sa.ColumnElement[bool]:
    """SQL over `rubric`: `account` reads it (manages it, or belongs to a population)."""
    if account.is_admin:
        return true()
    return rubric.id.in_(union(*_populations_of(account), *_managing(account)))


# Both conditions are "the rubric's id is among these", each way of reading or managing one
# an indexed lookup that starts from the account: as one OR of EXISTS correlated to the
# rubric, PostgreSQL read every rubric of the region for each of them (the agenda's two lists
# for a member of staff: 58.8 and 26.4 ms among 9,500 rubrics, now 0.13 and 0.07 ms).
# `correlate(None)`: the ids do not depend on the rubric the caller's query reads, even where
# that query reads the same tables.

def _managing(account: Account) -> list[sa.Select]:
    """The ids of the rubrics `account` manages (administrators apart), one SELECT per way."""
    named = select(RubricManager.rubric_id).where(RubricManager.account_id == account.id)
    group_manager = manager_membership(account)
    of_group = (select(Rubric.id).join(GroupMember, GroupMember.group_id == Rubric.group_id)
                .where(GroupMember.account_id == account.id))
    if account.profile in MANAGING_PROFILES:
        of_group = of_group.join(Group, Group.id == GroupMember.group_id)
        group_manager = or_(group_manager, Group.kind != GroupKind.AD_HOC)
    ways = [named, of_group.where(group_manager)]
    if account.profile == Profile.STAFF:
        ways.append(select(Rubric.id)
                    .join(AccountSchool, AccountSchool.school_id == Rubric.school_id)
                    .where(AccountSchool.account_id == account.id, Rubric.group_id.is_(None)))
    return [way.correlate(None) for way in ways]


def _populations_of(account: Account) -> list[sa.Select]:
    """The ids of the rubrics one of whose populations `account` belongs to."""
    population = RubricPopulation
    of_profile = population.profile == account.profile
    ways = [select(population.rubric_id)
            .join(GroupMember, GroupMember.group_id == population.group_id)
            .where(GroupMember.account_id == account.id, of_profile),
            select(population.rubric_id)
            .join(AccountSchool, AccountSchool.school_id == population.school_id)
            .where(AccountSchool.account_id == account.id, of_profile)]
    if account.profile == Profile.PARENT:
        ways.append(select(population.rubric_id)
                    .join(GroupMember, GroupMember.group_id == population.group_id)
                    .join(ParentLink, ParentLink.child_id == GroupMember.account_id)
                    .where(ParentLink.parent_id == account.id, of_profile,
                           active_child(ParentLink.child_id)))
    return [way.correlate(None) for way in ways]


def listed(account: Account, condition: sa.ColumnElement[bool],
           rubric=Rubric) -> sa.ColumnElement[bool]:
    """`condition` (`reads_condition`, `manages_condition`) as lists of rubrics apply it ("Mes
    rubriques", the agenda's choices): an administrator reads and manages every rubric of the
    region, and a list of thousands helps nobody, so hers are those of her own spaces (her
    schools' and her groups')."""
    if not account.is_admin:
        return condition
    own_groups = select(GroupMember.group_id).where(GroupMember.account_id == account.id)
    own_schools = select(AccountSchool.school_id).where(AccountSchool.account_id == account.id)
    return and_(condition, or_(
        rubric.group_id.in_(own_groups.correlate(None)),
        and_(rubric.group_id.is_(None), rubric.school_id.in_(own_schools.correlate(None)))))


def readable_rubric_ids(account: Account) -> sa.Select:
    return select(Rubric.id).where(reads_condition(account))


def visible_rubric(account: Account, rubric_id: int) -> Rubric | None:
    """The rubric if `account` reads it, else None."""
    if not valid_id(rubric_id):
        return None
    return db.session.scalar(select(Rubric).where(Rubric.id == rubric_id,
                                                  reads_condition(account)))


def managed_rubric(account: Account, rubric_id: int) -> Rubric | None:
    """The rubric if `account` manages it, else None."""
    if not valid_id(rubric_id):
        return None
    return db.session.scalar(select(Rubric).where(Rubric.id == rubric_id,
                                                  manages_condition(account)))


def may_read(account: Account, rubric: Rubric) -> bool:
    return visible_rubric(account, rubric.id) is not None


def may_manage(account: Account, rubric: Rubric) -> bool:
    return managed_rubric(account, rubric.id) is not None


def readable_rubrics(account: Account) -> list[Rubric]:
    """"Mes rubriques": school rubrics first, then by space and name."""
    return list(db.session.scalars(
        select(Rubric).outerjoin(Group, Group.id == Rubric.group_id)
        .where(listed(account, reads_condition(account)))
        .order_by(Rubric.school_id, Rubric.group_id.isnot(None), Group.name, Rubric.name,
                  Rubric.id)))


def managed_rubric_ids(account: Account, rubric_ids: Iterable[int]) -> set[int]:
    ids = list(rubric_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Rubric.id).where(Rubric.id.in_(ids),
                                                          manages_condition(account))))


# --- the defaults every school and class has --------------------------------------------------

def default_rubrics_missing(school_ids: Sequence[int]) -> bool:
    """Whether a school of `school_ids` or one of its classes lacks its default rubric: one
    read through the unique `default_of`, so that a page calls `ensure_default_rubrics` (a
    write) only the first time after a school or a class appears."""
    if not school_ids:
        return False
    school_key = literal("school:") + sa.cast(School.id, sa.String)
    group_key = literal("group:") + sa.cast(Group.id, sa.String)
    schools = select(School.id).where(School.id.in_(school_ids),
                                      ~exists().where(Rubric.default_of == school_key))
    classes = select(Group.id).where(Group.kind == GroupKind.CLASS,
                                     Group.school_id.in_(school_ids),
                                     ~exists().where(Rubric.default_of == group_key))
    return bool(db.session.scalar(select(or_(schools.exists(), classes.exists()))))


def ensure_default_rubrics(school_ids: Sequence[int] | None = None) -> int:
    """Create the missing default rubrics (with their populations) of these schools (every
    school if None) and of their classes: two INSERT … SELECT, then the new rubrics'
    populations. Safe to run at once from two places (the unique `default_of`). Returns how
    many were created; the caller commits."""
    now = utcnow()
    school_key = literal("school:") + sa.cast(School.id, sa.String)
    group_key = literal("group:") + sa.cast(Group.id, sa.String)
    for_schools = select(School.id, sa.null(), literal(SCHOOL_RUBRIC_NAME), literal(""),
                         school_key, literal(now)).where(
        ~exists().where(Rubric.default_of == school_key))
    for_classes = select(Group.school_id, Group.id, Group.name, literal(""), group_key,
                         literal(now)).where(
        Group.kind == GroupKind.CLASS, ~exists().where(Rubric.default_of == group_key))
    if school_ids is not None:
        for_schools = for_schools.where(School.id.in_(school_ids))
        for_classes = for_classes.where(Group.school_id.in_(school_ids))
    columns = ["school_id", "group_id", "name", "description", "default_of", "created_at"]
    created = []
    for query in (for_schools, for_classes):
        statement = insert_ignoring_duplicates(Rubric).from_select(columns, query).returning(
            Rubric.id, Rubric.school_id, Rubric.group_id)
        created += db.session.execute(statement).all()
    rows = [{"rubric_id": rubric_id, "group_id": group_id,
             "school_id": None if group_id else school_id, "profile": profile}
            for rubric_id, school_id, group_id in created
            for profile in (GROUP_PROFILES if group_id else SCHOOL_PROFILES)]
    if rows:
        db.session.execute(sa.insert(RubricPopulation), rows)
    return len(created)


# --- managing rubrics ------------------------------------------------------------------------

def creatable_spaces(account: Account) -> tuple[list[School], list[Group]]:
    """Schools and groups where `account` may create a rubric: those whose default rubric
    it would manage."""
    if account.is_admin:
        schools = list(account.schools)
        groups = list(db.session.scalars(select(Group).where(
            Group.school_id.in_([s.id for s in schools])).order_by(Group.name, Group.id)))
        return schools, groups
    schools = list(account.schools) if account.profile == Profile.STAFF else []
    query = (select(Group).join(GroupMember, GroupMember.group_id == Group.id)
             .where(GroupMember.account_id == account.id))
    if account.profile in MANAGING_PROFILES:
        query = query.where(or_(manager_membership(account), Group.kind != GroupKind.AD_HOC))
    else:
        query = query.where(manager_membership(account))
    return schools, list(db.session.scalars(query.order_by(Group.name, Group.id)))


def create_rubric(editor: Account, *, name: str, description: str = "",
                  school_id: int | None = None, group_id: int | None = None) -> Rubric:
    """A new rubric in a space the editor may publish in, open to the same populations as
    that space's default rubric; the caller commits."""
    name, description = _checked_text(name, description)
    schools, groups = creatable_spaces(editor)
    if group_id is not None:
        group = next((g for g in groups if g.id == group_id), None)
        if group is None:
            raise RubricError(Problem.NOT_A_SPACE_OF_YOURS)
        rubric = Rubric(school_id=group.school_id, group_id=group.id, name=name,
                        description=description)
        profiles, scope = GROUP_PROFILES, {"group_id": group.id}
    else:
        school = next((s for s in schools if s.id == school_id), None)
        if school is None:
            raise RubricError(Problem.NOT_A_SPACE_OF_YOURS)
        rubric = Rubric(school_id=school.id, name=name, description=description)
        profiles, scope = SCHOOL_PROFILES, {"school_id": school.id}
    rubric.populations = [RubricPopulation(profile=p, **scope) for p in profiles]
    db.session.add(rubric)
    db.session.flush()
    return rubric


def update_rubric(rubric: Rubric, *, name: str, description: str) -> None:
    rubric.name, rubric.description = _checked_text(name, description)


def delete_rubric(rubric: Rubric) -> None:
    """Not a default rubric: every school and class keeps its own."""
    if rubric.default_of:
        raise RubricError(Problem.DEFAULT_RUBRIC)
    db.session.delete(rubric)


def population_choices(rubric: Rubric) -> tuple[School, list[Group]]:
    """What a population may be built from: the rubric's school and the groups of it."""
    return rubric.school, list(db.session.scalars(
        select(Group).where(Group.school_id == rubric.school_id)
        .order_by(Group.kind, Group.name, Group.id)))


def add_population(rubric: Rubric, *, profile: Profile, group_id: int | None = None,
                   school_id: int | None = None) -> RubricPopulation:
    if (group_id is None) == (school_id is None):
        raise RubricError(Problem.UNKNOWN_SCOPE)
    if group_id is not None:
        group = db.session.get(Group, group_id) if valid_id(group_id) else None
        if group is None or group.school_id != rubric.school_id:
            raise RubricError(Problem.UNKNOWN_SCOPE)
    elif school_id != rubric.school_id:
        raise RubricError(Problem.UNKNOWN_SCOPE)
    # One of group_id and school_id is always NULL, so the unique constraint never matches
    # two rows: the rubric's row is locked first (the same form sent twice at once made two
    # identical populations on PostgreSQL; SQLite's writers take turns), and the check reads
    # the table, not the relationship loaded before the lock.
    db.session.execute(select(Rubric.id).where(Rubric.id == rubric.id).with_for_update())
    if db.session.scalar(select(exists().where(
            RubricPopulation.rubric_id == rubric.id, RubricPopulation.profile == profile,
            RubricPopulation.group_id.is_(None) if group_id is None
            else RubricPopulation.group_id == group_id,
            RubricPopulation.school_id.is_(None) if school_id is None
            else RubricPopulation.school_id == school_id))):
        raise RubricError(Problem.POPULATION_EXISTS)
    population = RubricPopulation(group_id=group_id, school_id=school_id, profile=profile)
    rubric.populations.append(population)
    db.session.flush()
    return population


def remove_population(rubric: Rubric, population_id: int) -> None:
    population = next((p for p in rubric.populations if p.id == population_id), None)
    if population is None:
        raise RubricError(Problem.UNKNOWN_SCOPE)
    rubric.populations.remove(population)


def named_managers(rubric: Rubric) -> list[Account]:
    return list(db.session.scalars(
        select(Account).join(RubricManager, RubricManager.account_id == Account.id)
        .where(RubricManager.rubric_id == rubric.id).order_by(Account.search_name)))


def add_manager(rubric: Rubric, login_or_id: str | int) -> Account:
    """Name a teacher or staff member of the rubric's school as a manager."""
    condition = Account.id == login_or_id if isinstance(login_or_id, int) \
        else Account.login == str(login_or_id).strip().lower()
    account = db.session.scalar(select(Account).where(condition, exists().where(
        AccountSchool.account_id == Account.id, AccountSchool.school_id == rubric.school_id)))
    if account is None:
        raise RubricError(Problem.UNKNOWN_ACCOUNT)
    if account.profile not in MANAGING_PROFILES and not account.is_admin:
        raise RubricError(Problem.NOT_A_MANAGER_PROFILE, name=account.full_name)
    db.session.execute(insert_ignoring_duplicates(RubricManager).values(
        rubric_id=rubric.id, account_id=account.id))    # twice at once: named once, no error
    return account


def remove_manager(rubric: Rubric, account_id: int) -> None:
    db.session.execute(sa.delete(RubricManager).where(RubricManager.rubric_id == rubric.id,
                                                      RubricManager.account_id == account_id))


def _checked_text(name: str, description: str) -> tuple[str, str]:
    name = " ".join(without_controls(name or "").split())
    description = without_controls(description or "").strip()
    if not name:
        raise RubricError(Problem.NAME_MISSING)
    if len(name) > NAME_MAX:
        raise RubricError(Problem.NAME_TOO_LONG, max=NAME_MAX)
    if len(description) > DESCRIPTION_MAX:
        raise RubricError(Problem.DESCRIPTION_TOO_LONG, max=DESCRIPTION_MAX)
    return name, description

