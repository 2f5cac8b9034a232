"""Ad hoc groups: who may create and change them, managers always members, adding the whole
result of a search in one statement."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from directory import groups
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.errors import InvalidInput
from directory.models import Account, Group, GroupMember, School
from directory.search import AccountFilters


def account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def member_rows(group: Group) -> dict[str, bool]:
    return dict(db.session.execute(
        select(Account.login, GroupMember.is_manager).join(GroupMember)
        .where(GroupMember.group_id == group.id)).all())


@pytest.fixture
def claire(ctx):
    return account("claire.bernard")


@pytest.fixture
def group(claire):
    created = groups.create_group(claire, name="Atelier théâtre", description="Le jeudi",
                                  school_id=claire.schools[0].id, persistent=True)
    db.session.commit()
    return created


def test_creator_is_manager_and_member(group):
    assert group.kind == GroupKind.AD_HOC and group.search_name == "atelier theatre"
    assert member_rows(group) == {"claire.bernard": True}


def test_co_managers_need_the_manager_role(claire):
    school_id = claire.schools[0].id
    with pytest.raises(InvalidInput, match="Paul Durand n'a pas le rôle « Gestionnaire "):
        groups.create_group(claire, name="G", description="", school_id=school_id,
                            persistent=False, co_managers=[account("paul.durand")])
    teacher = db.session.scalars(select(Account).where(
        Account.profile == Profile.TEACHER, Account.id != claire.id)).first()
    created = groups.create_group(claire, name="G", description="", school_id=school_id,
                                  persistent=False, co_managers=[teacher])
    assert member_rows(created) == {"claire.bernard": True, teacher.login: True}


@pytest.mark.parametrize(("name", "message"), [
    ("", "Donnez un nom"), ("x" * 121, "dépasse 120"), ("œ" * 61, "dépasse 120"),
    ("%%%", "au moins une lettre"),
    ("Atelier théâtre", "existe déjà")])
def test_bad_names_are_refused(claire, group, name, message):
    before = db.session.scalar(select(func.count()).select_from(Group))
    with pytest.raises(InvalidInput, match=message):
        groups.create_group(claire, name=name, description="", school_id=claire.schools[0].id,
                            persistent=False)
    assert db.session.scalar(select(func.count()).select_from(Group)) == before


def test_only_managers_create_and_only_in_their_schools(claire):
    with pytest.raises(InvalidInput, match="Seul un gestionnaire"):
        groups.create_group(account("zoe.le-gall"), name="G", description="",
                            school_id=claire.schools[0].id, persistent=False)
    other = db.session.scalar(select(School).where(School.uai == "0310002C"))
    with pytest.raises(InvalidInput, match="Choisissez un de vos établissements"):
        groups.create_group(claire, name="G", description="", school_id=other.id,
                            persistent=False)
    admin_group = groups.create_group(account("admin"), name="G", description="",
                                      school_id=other.id, persistent=False)
    assert admin_group.school_id == other.id


def test_managed_group_is_found_by_managers_and_administrators_only(group):
    assert groups.managed_group(account("claire.bernard"), group.id) is group
    assert groups.managed_group(account("admin"), group.id) is group
    for login in ("paul.durand", "zoe.le-gall"):
        assert groups.managed_group(account(login), group.id) is None
    a_class = db.session.scalar(select(Group).where(Group.kind == GroupKind.CLASS))
    assert groups.managed_group(account("admin"), a_class.id) is None
    assert groups.managed_group(account("admin"), 2**40) is None


def test_add_the_list_is_one_count_and_one_insert_and_skips_members(claire, group):
    four_a = db.session.scalar(select(Group.id).where(Group.name == "4A",
                                                      Group.school_id == group.school_id))
    filters = AccountFilters(group_id=four_a, profiles=[Profile.STUDENT])
    assert claire.role_overrides == [] and claire.schools and group.id  # loaded beforehand
    statements = []
    connection = db.session.connection()

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    event.listen(connection, "before_cursor_execute", record)
    try:
        added = groups.add_search_results(claire, group, filters)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert statements == ["SELECT", "INSERT"]   # the group's size, counted up to its bound
    students = db.session.scalar(select(func.count()).where(
        GroupMember.group_id == four_a, GroupMember.account_id == Account.id,
        Account.profile == Profile.STUDENT))
    assert added == students > 20
    assert groups.add_search_results(claire, group, filters) == 0
    assert len(member_rows(group)) == students + 1


def test_add_the_list_needs_a_criterion_and_keeps_suspended_out(claire, group):
    with pytest.raises(InvalidInput, match="au moins un critère"):
        groups.add_search_results(claire, group, AccountFilters())
    lucas = account("lucas.martin")
    lucas.suspended = True
    db.session.commit()
    groups.add_search_results(claire, group, AccountFilters(name="martin"))
    assert "lucas.martin" not in member_rows(group)


def test_add_one_member_within_the_perimeter(claire, group):
    zoe = account("zoe.le-gall")
    assert groups.add_member(claire, group, zoe.id) == (zoe, True)
    assert groups.add_member(claire, group, zoe.id) == (zoe, False)
    assert member_rows(group)["zoe.le-gall"] is False
    with pytest.raises(InvalidInput, match="n'existe pas"):
        groups.add_member(claire, group, 987654321)


def test_manager_cannot_be_removed_and_last_manager_stays(claire, group):
    zoe = account("zoe.le-gall")
    groups.add_member(claire, group, zoe.id)
    with pytest.raises(InvalidInput, match="Claire Bernard est gestionnaire du groupe"):
        groups.remove_member(group, claire.id)
    with pytest.raises(InvalidInput, match="au moins un gestionnaire"):
        groups.set_manager(claire, group, claire.id, False)
    with pytest.raises(InvalidInput, match="Zoé Le Gall n'a pas le rôle"):
        groups.set_manager(claire, group, zoe.id, True)
    assert groups.remove_member(group, zoe.id) == zoe
    assert member_rows(group) == {"claire.bernard": True}
    with pytest.raises(InvalidInput, match="n'est pas membre"):
        groups.remove_member(group, zoe.id)


def test_manager_role_can_be_handed_over(claire, group):
    colleague = db.session.scalars(select(Account).where(
        Account.profile == Profile.TEACHER, Account.id != claire.id)).first()
    groups.add_member(claire, group, colleague.id)
    groups.set_manager(claire, group, colleague.id, True)
    groups.set_manager(claire, group, claire.id, False)
    db.session.commit()
    assert member_rows(group) == {"claire.bernard": False, colleague.login: True}
    assert groups.managed_group(claire, group.id) is None


def test_update_and_delete(claire, group):
    groups.update_group(claire, group, name="Atelier cinéma", description="",
                        school_id=group.school_id, persistent=False)
    db.session.commit()
    assert (group.name, group.search_name, group.persistent) == ("Atelier cinéma",
                                                                 "atelier cinema", False)
    group_id = group.id
    groups.delete_group(group)
    db.session.commit()
    assert db.session.get(Group, group_id) is None
    assert db.session.scalar(select(func.count()).where(GroupMember.group_id == group_id)) == 0
