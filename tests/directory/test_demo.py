"""The demo region loaded by the test session (`load_demo(600)`): SPEC §10's fixed accounts
exactly, and the shape promised by issue 3."""
import pytest
from sqlalchemy import func, select

from directory.accounts import create_account, school_by_uai
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import (
    Account,
    AccountSchool,
    AllocatedAddress,
    Group,
    GroupMember,
    ParentLink,
    School,
)
from directory.passwords import verify_password
from tests.conftest import DEMO_PASSWORD


def _account(login: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.login == login))
    assert account is not None, f"{login} missing from the demo region"
    return account


def _class_members(name: str) -> dict[str, bool]:
    rows = db.session.execute(
        select(Account.login, GroupMember.is_manager)
        .join(GroupMember, GroupMember.account_id == Account.id)
        .join(Group, Group.id == GroupMember.group_id)
        .join(School, School.id == Group.school_id)
        .where(School.uai == "0310024H", Group.kind == GroupKind.CLASS, Group.name == name))
    return dict(rows.all())


@pytest.mark.parametrize(("login", "profile", "first", "last", "discipline", "redirect"), [
    ("zoe.le-gall", Profile.STUDENT, "Zoé", "Le Gall", None, None),
    ("lucas.martin", Profile.STUDENT, "Lucas", "Martin", None, None),
    ("joseph.fabre", Profile.PARENT, "Joseph", "Fabre", None, "joseph@example.org"),
    ("claire.bernard", Profile.TEACHER, "Claire", "Bernard", "français",
     "claire.bernard@example.net"),
    ("paul.durand", Profile.STAFF, "Paul", "Durand", None, None),
])
def test_fixed_accounts_of_spec_section_10(ctx, login, profile, first, last, discipline,
                                           redirect):
    account = _account(login)
    assert (account.profile, account.first_name, account.last_name) == (profile, first, last)
    assert account.discipline == discipline
    assert account.address == login, "the login equals the universal address's local part"
    assert [school.uai for school in account.schools] == ["0310024H"]
    assert account.verified_redirect == redirect
    assert account.pending_redirect_address is None
    assert not (account.is_admin or account.suspended or account.must_change_password)
    assert verify_password(account.password_hash, DEMO_PASSWORD)


def test_admin_is_an_administrator_of_0310024H(ctx):
    admin = _account("admin")
    assert admin.is_admin and admin.address == "admin"
    assert [school.uai for school in admin.schools] == ["0310024H"]
    assert verify_password(admin.password_hash, DEMO_PASSWORD)


def test_zoe_and_lucas_are_in_4A_taught_by_claire(ctx):
    members = _class_members("4A")
    assert {"zoe.le-gall", "lucas.martin", "claire.bernard"} <= members.keys()
    assert "joseph.fabre" not in members


def test_joseph_is_zoes_parent(ctx):
    children = db.session.scalars(
        select(Account.login).join(ParentLink, ParentLink.child_id == Account.id)
        .where(ParentLink.parent_id == _account("joseph.fabre").id)).all()
    assert children == ["zoe.le-gall"]


def test_region_shape(ctx):
    count = db.session.scalar(select(func.count()).select_from(Account))
    assert 450 <= count <= 750
    assert db.session.scalar(select(func.count()).select_from(School)) == 3
    by_profile = dict(db.session.execute(
        select(Account.profile, func.count()).group_by(Account.profile)).all())
    assert {Profile.STUDENT, Profile.PARENT, Profile.TEACHER, Profile.STAFF} <= by_profile.keys()
    # Every account belongs to a school; teachers all have a discipline.
    assert db.session.scalar(select(func.count()).select_from(Account).where(
        ~Account.id.in_(select(AccountSchool.account_id)))) == 0
    assert db.session.scalar(select(func.count()).select_from(Account).where(
        Account.profile == Profile.TEACHER, Account.discipline.is_(None))) == 0
    # Parents with and without a verified redirect address.
    parents = select(func.count()).select_from(Account).where(Account.profile == Profile.PARENT)
    assert db.session.scalar(parents.where(Account.redirect_verified.is_(True))) > 0
    assert db.session.scalar(parents.where(Account.redirect_address.is_(None))) > 0
    # Classes, institutional groups and ad hoc groups with a manager, in every school.
    kinds = db.session.execute(
        select(Group.school_id, Group.kind).distinct()).all()
    assert len(kinds) == 3 * 3
    ad_hoc_without_manager = select(func.count()).select_from(Group).where(
        Group.kind == GroupKind.AD_HOC,
        ~Group.id.in_(select(GroupMember.group_id).where(GroupMember.is_manager.is_(True))))
    assert db.session.scalar(ad_hoc_without_manager) == 0


def test_teachers_teach_several_classes(ctx):
    classes_per_teacher = (
        select(GroupMember.account_id, func.count().label("classes"))
        .join(Group, Group.id == GroupMember.group_id)
        .join(Account, Account.id == GroupMember.account_id)
        .where(Group.kind == GroupKind.CLASS, Account.profile == Profile.TEACHER)
        .group_by(GroupMember.account_id).subquery())
    assert db.session.scalar(select(func.count()).select_from(classes_per_teacher)
                             .where(classes_per_teacher.c.classes >= 2)) > 0


def test_demo_addresses_are_recorded_as_allocated(ctx):
    unrecorded = select(func.count()).select_from(Account).where(
        ~Account.address.in_(select(AllocatedAddress.local_part)))
    assert db.session.scalar(unrecorded) == 0


def test_new_rows_after_the_demo_get_fresh_ids(ctx):
    """The demo writes ids itself; PostgreSQL's sequences must have been moved past them."""
    highest = db.session.scalar(select(func.max(Account.id)))
    account = create_account(login="apres.la-demo", first_name="Après", last_name="La Démo",
                             profile=Profile.OTHER, password="Xx-123456",
                             schools=[school_by_uai("0310024H")])
    group = Group(kind=GroupKind.AD_HOC, name="Après la démo", search_name="apres la demo",
                  school_id=school_by_uai("0310024H").id)
    db.session.add(group)
    db.session.commit()
    assert account.id > highest
    assert group.id is not None
