"""Administering accounts without a request: who reaches whom, filters as one query,
suspension, new passwords, deletion, creation by the school's nomenclature."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from directory import account_admin as rules
from directory.account_admin import Activity, AdminFilters, NewAccount, Refusal
from directory.accounts import school_by_uai
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AllocatedAddress, Group, GroupMember, ParentLink
from directory.passwords import verify_password
from directory.rights import writable
from directory.rubric_models import Rubric, RubricManager
from directory.search import AccountFilters, search_query


def by_login(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


@pytest.fixture
def region_admin(ctx):
    return by_login("admin")


@pytest.fixture
def school_admin(ctx):
    paul = by_login("paul.durand")
    paul.is_school_admin = True
    db.session.commit()
    return paul


def other_school_account() -> Account:
    other = school_by_uai("0310002C")
    return db.session.scalar(select(Account).where(Account.schools.contains(other)).limit(1))


def test_school_admin_reaches_own_school_only(school_admin, region_admin):
    stranger = other_school_account()
    assert rules.administered_account(school_admin, by_login("zoe.le-gall").id) is not None
    assert rules.administered_account(school_admin, stranger.id) is None
    assert rules.administered_account(region_admin, stranger.id) is not None
    assert rules.administered_account(by_login("claire.bernard"), stranger.id) is None
    assert rules.administered_accounts(school_admin, [stranger.id, 2**40]) == []
    found = rules.find_accounts(school_admin, AdminFilters(name="le gall"))
    assert "zoe.le-gall" in [a.login for a in found.accounts]
    everyone = rules.find_accounts(school_admin, AdminFilters(), per_page=1000)
    school = school_by_uai("0310024H")
    assert all(school in a.schools for a in everyone.accounts)


def test_filters_never_logged_in_inactive_and_suspended(region_admin):
    zoe, lucas = by_login("zoe.le-gall"), by_login("lucas.martin")
    zoe.last_access_at = utcnow() - timedelta(days=40)
    lucas.last_access_at = utcnow() - timedelta(days=2)
    lucas.suspended = True
    db.session.commit()
    school = school_by_uai("0310024H").id

    def logins(**filters):
        page = rules.find_accounts(region_admin, AdminFilters(school_id=school, **filters),
                                   per_page=5000)
        return {a.login for a in page.accounts}

    assert "zoe.le-gall" in logins(activity=Activity.INACTIVE, inactive_days=30)
    assert "lucas.martin" not in logins(activity=Activity.INACTIVE, inactive_days=30)
    never = logins(activity=Activity.NEVER)
    assert "zoe.le-gall" not in never and "claire.bernard" in never
    assert logins(suspended=True) == {"lucas.martin"}
    assert "lucas.martin" not in logins(suspended=False)
    assert logins(profile=Profile.PARENT, name="fabre") == {"joseph.fabre"}


def test_paging_is_stable_and_counts(region_admin):
    school = school_by_uai("0310024H").id
    first = rules.find_accounts(region_admin, AdminFilters(school_id=school), 1, 10)
    second = rules.find_accounts(region_admin, AdminFilters(school_id=school), 2, 10)
    assert len(first.accounts) == 10 and first.has_next
    assert not {a.id for a in first.accounts} & {a.id for a in second.accounts}
    assert first.total == second.total > 10


def test_suspended_cannot_be_found_by_others_nor_written_to(region_admin):
    lucas, zoe = by_login("lucas.martin"), by_login("zoe.le-gall")
    assert writable(zoe, [lucas.id])[lucas.id].allowed
    assert rules.set_suspended(region_admin, [lucas], True) == []
    db.session.commit()
    assert not writable(zoe, [lucas.id])[lucas.id].allowed
    found = db.session.scalars(search_query(zoe, AccountFilters(name="martin"))).all()
    assert lucas not in found
    assert rules.set_suspended(region_admin, [region_admin], True) == [Refusal.SELF]
    assert not region_admin.suspended


def test_reset_password_forces_a_change_and_says_where_it_goes(region_admin):
    claire, zoe = by_login("claire.bernard"), by_login("zoe.le-gall")
    results = rules.reset_passwords(region_admin, [claire, zoe]).new
    db.session.commit()
    assert [r.mail_to for r in results] == ["claire.bernard@example.net", None]
    assert verify_password(claire.password_hash, results[0].password)
    assert claire.must_change_password and zoe.must_change_password
    typed = rules.reset_passwords(region_admin, [zoe], "Nouveau-2026").new
    assert typed[0].password == "Nouveau-2026" and verify_password(zoe.password_hash,
                                                                   "Nouveau-2026")


def test_delete_erases_the_account_but_never_frees_its_address(region_admin):
    lucas = by_login("lucas.martin")
    address = lucas.address
    assert rules.delete_accounts(region_admin, [lucas]) == rules.Deletion([], [])
    db.session.commit()
    assert by_login("lucas.martin") is None
    assert db.session.get(AllocatedAddress, address) is not None
    assert rules.delete_accounts(region_admin, [region_admin]).refused == [Refusal.SELF]


def test_a_school_admin_takes_a_teacher_of_two_schools_out_of_hers_without_erasing_him(
        school_admin, region_admin):
    """Claire teaches in the other school too: its administrator still needs her account.
    Deleting her from the first school takes her out of it, its groups and its pupils'
    links; a region administrator erases her."""
    claire, zoe = by_login("claire.bernard"), by_login("zoe.le-gall")
    other = school_by_uai("0310002C")
    there = db.session.scalar(select(Group).where(Group.school_id == other.id).limit(1))
    claire.schools.append(other)
    here_rubric = db.session.scalar(select(Rubric).where(
        Rubric.school_id == school_by_uai("0310024H").id).limit(1))
    there_rubric = Rubric(school_id=other.id, name="Rubrique de l'autre collège")
    db.session.add(there_rubric)
    db.session.flush()
    db.session.add_all([GroupMember(group_id=there.id, account_id=claire.id, is_manager=False),
                        ParentLink(parent_id=claire.id, child_id=zoe.id),
                        RubricManager(rubric_id=here_rubric.id, account_id=claire.id),
                        RubricManager(rubric_id=there_rubric.id, account_id=claire.id)])
    db.session.commit()
    assert rules.schools_beyond_reach(school_admin, claire) == [other]
    assert rules.schools_beyond_reach(region_admin, claire) == []
    deletion = rules.delete_accounts(school_admin, [claire])
    db.session.commit()
    assert deletion == rules.Deletion([], [claire])
    kept = by_login("claire.bernard")
    assert kept is not None and kept.schools == [other]
    groups = set(db.session.scalars(select(GroupMember.group_id).where(
        GroupMember.account_id == kept.id)))
    assert groups == {there.id}
    assert db.session.scalar(select(ParentLink).where(ParentLink.parent_id == kept.id)) is None
    assert set(db.session.scalars(select(RubricManager.rubric_id).where(
        RubricManager.account_id == kept.id))) == {there_rubric.id}
    assert rules.administered_account(school_admin, kept.id) is None
    assert rules.delete_accounts(region_admin, [kept]).withdrawn == []
    db.session.commit()
    assert by_login("claire.bernard") is None


def test_created_by_hand_with_the_nomenclature_and_a_collision_number(region_admin):
    school = school_by_uai("0310024H")
    first, password = rules.create_by_hand(region_admin, NewAccount(
        school=school, first_name="Véronique", last_name="Blondel", profile=Profile.TEACHER))
    second, _ = rules.create_by_hand(region_admin, NewAccount(
        school=school, first_name="Vincent", last_name="Blondel", profile=Profile.TEACHER,
        redirect_address="vincent@example.org", password="Bonjour-2026"))
    db.session.commit()
    assert (first.login, second.login) == ("0310024h.v.blondel", "0310024h.v.blondel2")
    assert verify_password(first.password_hash, password) and first.must_change_password
    assert verify_password(second.password_hash, "Bonjour-2026")
    assert second.verified_redirect == "vincent@example.org"


def test_school_admin_cannot_create_in_another_school(school_admin):
    with pytest.raises(rules.EditRefused):
        rules.create_by_hand(school_admin, NewAccount(
            school=school_by_uai("0310002C"), first_name="A", last_name="B",
            profile=Profile.STUDENT))
