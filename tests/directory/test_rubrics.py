"""Rubrics: the defaults every school and class has, who reads them (populations), who manages
them, and the SQL of a population's members checked against an obvious reference."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory import rubrics
from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink, RoleOverride
from directory.roles import effective_roles, role_condition
from directory.rubric_models import Rubric, RubricPopulation
from directory.rubrics import Problem, RubricError
from tests.rubric_helpers import account, parent_of_a_pupil_of, rubric_of, school_class


@pytest.fixture
def zoe(ctx):
    return account("zoe.le-gall")


@pytest.fixture
def school(zoe):
    return zoe.schools[0]


@pytest.fixture
def four_a(school):
    return school_class("4A", school)


@pytest.fixture
def four_b(school):
    return school_class("4B", school)


def test_every_school_and_class_has_its_default_rubric(school, four_a):
    life = db.session.scalar(select(Rubric).where(Rubric.default_of == f"school:{school.id}"))
    assert life.name == "Vie de l'établissement" and life.group_id is None
    assert {p.profile for p in life.populations} == set(Profile)
    assert {p.school_id for p in life.populations} == {school.id}
    rubric = rubric_of(four_a)
    assert rubric.name == "4A" and rubric.school_id == school.id
    assert sorted((p.group_id, p.profile) for p in rubric.populations) == sorted(
        (four_a.id, p) for p in (Profile.STUDENT, Profile.PARENT, Profile.TEACHER))
    classes = db.session.scalar(select(func.count()).select_from(Group).where(
        Group.kind == GroupKind.CLASS))
    assert db.session.scalar(select(func.count()).select_from(Rubric).where(
        Rubric.group_id.isnot(None))) == classes


def test_defaults_are_created_once_and_for_new_classes(school):
    assert rubrics.ensure_default_rubrics() == 0
    group = Group(kind=GroupKind.CLASS, name="3Z", search_name="3z", school_id=school.id)
    db.session.add(group)
    db.session.flush()
    assert rubrics.ensure_default_rubrics([school.id]) == 1
    assert rubric_of(group).name == "3Z"
    assert rubrics.ensure_default_rubrics([school.id]) == 0


def test_a_parent_of_4a_reads_the_4a_rubric_a_parent_of_4b_does_not(four_a, four_b):
    rubric = rubric_of(four_a)
    joseph = account("joseph.fabre")
    other = parent_of_a_pupil_of(four_b)
    assert rubrics.visible_rubric(joseph, rubric.id) is rubric
    assert rubrics.visible_rubric(other, rubric.id) is None
    assert rubrics.visible_rubric(other, rubric_of(four_b).id) is not None
    readers = set(db.session.scalars(rubrics.readers(rubric.id)))
    assert {joseph.id, account("zoe.le-gall").id, account("claire.bernard").id} <= readers
    assert other.id not in readers
    assert rubrics.visible_rubric(account("admin"), rubric.id) is rubric


def test_managers_of_class_and_school_rubrics(school, four_a):
    rubric = rubric_of(four_a)
    life = db.session.scalar(select(Rubric).where(Rubric.default_of == f"school:{school.id}"))
    claire, paul, zoe = account("claire.bernard"), account("paul.durand"), account("zoe.le-gall")
    assert rubrics.managed_rubric(claire, rubric.id) is rubric
    assert rubrics.managed_rubric(zoe, rubric.id) is None
    assert rubrics.managed_rubric(claire, life.id) is None
    assert rubrics.managed_rubric(paul, life.id) is life
    assert rubrics.managed_rubric(account("admin"), rubric.id) is rubric
    managers = set(db.session.scalars(rubrics.managers(rubric.id)))
    assert claire.id in managers and zoe.id not in managers
    rubrics.add_manager(life, "claire.bernard")
    assert rubrics.managed_rubric(claire, life.id) is life
    with pytest.raises(RubricError) as refused:
        rubrics.add_manager(life, "zoe.le-gall")
    assert refused.value.problem == Problem.NOT_A_MANAGER_PROFILE


def _reference_members(population: RubricPopulation) -> set[int]:
    """From the SPEC, slowly: the people of the scope with the profile; for parents, also
    the parents of the group's members."""
    if population.school_id:
        people = db.session.scalars(select(AccountSchool.account_id).where(
            AccountSchool.school_id == population.school_id)).all()
    else:
        people = db.session.scalars(select(GroupMember.account_id).where(
            GroupMember.group_id == population.group_id)).all()
        if population.profile == Profile.PARENT:
            people += db.session.scalars(select(ParentLink.parent_id).where(
                ParentLink.child_id.in_(people))).all()
    return {a.id for a in map(lambda i: db.session.get(Account, i), set(people))
            if a.profile == population.profile}


def test_members_of_populations_match_the_reference(school, four_a):
    populations = list(rubric_of(four_a).populations) + list(db.session.scalar(
        select(Rubric).where(Rubric.default_of == f"school:{school.id}")).populations)
    for population in populations:
        found = list(db.session.scalars(rubrics.members_of_populations([population.id])))
        assert len(found) == len(set(found))
        assert set(found) == _reference_members(population), population
    together = set(db.session.scalars(rubrics.members_of_populations(
        [p.id for p in populations])))
    assert together == set().union(*(_reference_members(p) for p in populations))


def test_populations_are_the_rubrics_school_and_its_groups(four_a):
    rubric = rubric_of(four_a)
    added = rubrics.add_population(rubric, profile=Profile.STAFF, school_id=rubric.school_id)
    assert added.id
    with pytest.raises(RubricError) as twice:
        rubrics.add_population(rubric, profile=Profile.STAFF, school_id=rubric.school_id)
    assert twice.value.problem == Problem.POPULATION_EXISTS
    elsewhere = db.session.scalar(select(Group).where(Group.school_id != rubric.school_id))
    with pytest.raises(RubricError):
        rubrics.add_population(rubric, profile=Profile.STUDENT, group_id=elsewhere.id)
    rubrics.remove_population(rubric, added.id)
    assert added not in rubric.populations


def test_a_teacher_creates_a_rubric_in_her_class_not_in_another(four_a, four_b):
    claire = account("claire.bernard")
    rubric = rubrics.create_rubric(claire, name=" Sortie  au musée ", group_id=four_a.id)
    assert rubric.name == "Sortie au musée" and rubric.school_id == four_a.school_id
    assert rubrics.managed_rubric(claire, rubric.id) is rubric
    taught = set(db.session.scalars(select(GroupMember.group_id).where(
        GroupMember.account_id == claire.id)))
    if four_b.id not in taught:
        with pytest.raises(RubricError):
            rubrics.create_rubric(claire, name="X", group_id=four_b.id)
    with pytest.raises(RubricError) as unnamed:
        rubrics.create_rubric(claire, name="  ", group_id=four_a.id)
    assert unnamed.value.problem == Problem.NAME_MISSING
    with pytest.raises(RubricError):
        rubrics.delete_rubric(rubric_of(four_a))


def test_role_condition_agrees_with_effective_roles(zoe):
    teacher = account("claire.bernard")
    db.session.add_all([RoleOverride(account_id=zoe.id, role=Role.INTERNAL_MAIL, granted=False),
                        RoleOverride(account_id=teacher.id, role=Role.INTERNAL_MAIL,
                                     granted=True)])
    db.session.flush()
    db.session.expire_all()
    people = db.session.scalars(select(Account).order_by(Account.id).limit(80)).all() + [
        account("zoe.le-gall"), account("claire.bernard")]
    for role in Role:
        found = set(db.session.scalars(select(Account.id).where(
            Account.id.in_([p.id for p in people]), role_condition(role))))
        assert found == {p.id for p in people if role in effective_roles(p)}, role


def test_what_each_account_reads_and_manages_agrees_with_each_rubrics_readers(school, four_a):
    """The two directions of one rule: the rubrics an account reads (`reads_condition`, the
    ids of every way of reading one) and manages, against `readers` and `managers` of each
    rubric; with a named manager, an ad hoc group's rubric and its manager, and a teacher of
    that group who does not manage it."""
    claire, paul = account("claire.bernard"), account("paul.durand")
    life = db.session.scalar(select(Rubric).where(Rubric.default_of == f"school:{school.id}"))
    rubrics.add_manager(life, "claire.bernard")
    club = Group(kind=GroupKind.AD_HOC, name="Club échecs", search_name="club echecs",
                 school_id=school.id)
    db.session.add(club)
    db.session.flush()
    db.session.add_all([GroupMember(group_id=club.id, account_id=paul.id, is_manager=True),
                        GroupMember(group_id=club.id, account_id=claire.id)])
    # a group's manager holds the role that lets one manage groups
    paul.role_overrides.append(RoleOverride(role=Role.DIRECTORY_MANAGER, granted=True))
    db.session.add(Rubric(school_id=school.id, group_id=club.id, name="Échecs",
                          description="", created_at=life.created_at))
    db.session.flush()
    people = db.session.scalars(select(Account).where(
        Account.is_admin.is_(False),
        Account.id.in_(select(AccountSchool.account_id)
                       .where(AccountSchool.school_id == school.id)))).all()
    every = db.session.scalars(select(Rubric.id)).all()
    reading = {r: set(db.session.scalars(rubrics.readers(r))) for r in every}
    managing = {r: set(db.session.scalars(rubrics.managers(r))) for r in every}
    managed_somewhere = 0
    for person in people:
        reads = set(db.session.scalars(select(Rubric.id).where(
            rubrics.reads_condition(person))))
        manages = set(db.session.scalars(select(Rubric.id).where(
            rubrics.manages_condition(person))))
        assert reads == {r for r in every if person.id in reading[r]}, person.login
        assert manages == {r for r in every if person.id in managing[r]}, person.login
        managed_somewhere += bool(manages)
    club_rubric = db.session.scalar(select(Rubric.id).where(Rubric.group_id == club.id))
    assert paul.id in managing[club_rubric] and claire.id not in managing[club_rubric]
    assert claire.id in managing[life.id]
    assert managed_somewhere >= 3
