"""The schools' name index (migration 0025): `account_school` holds a copy of each account's
folded names, suspension and profile, kept by the database's triggers whatever writes them,
and a page read from few schools' members is read from it alone, the same page as before."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, insert, select, update

from directory.account_admin import AccountEdit, edit_account, set_suspended
from directory.accounts import create_account, end_ended_access, school_by_uai
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AccountSchool, School
from directory.search import (
    AccountFilters,
    count_query,
    members_page_ids,
    perimeter_of,
    search_query,
)
from tests.conftest import make_app

from .test_search import account

COPIED = ("search_name", "search_first", "suspended", "profile")


def stale_copies() -> list[tuple]:
    """The memberships whose copy differs from their account (none, ever)."""
    differs = sa.or_(*(getattr(AccountSchool, column).is_distinct_from(getattr(Account, column))
                       for column in COPIED))
    return db.session.execute(select(AccountSchool.account_id, AccountSchool.school_id)
                              .join(Account, Account.id == AccountSchool.account_id)
                              .where(differs)).all()


def renamed(first: str, last: str) -> AccountEdit:
    return AccountEdit(first_name=first, last_name=last, profile=Profile.STUDENT,
                       class_id=None, redirect_address="", children_logins=[])


def copy_of(account_id: int) -> set[tuple]:
    return set(db.session.execute(select(*(getattr(AccountSchool, c) for c in COPIED))
                                  .where(AccountSchool.account_id == account_id)).all())


def test_the_demo_regions_memberships_hold_their_accounts_values(ctx):
    assert db.session.scalar(select(func.count()).select_from(AccountSchool)) > 500
    assert stale_copies() == []


def test_every_write_of_a_name_a_suspension_a_profile_or_a_school_is_copied(ctx):
    admin, lucas = account("admin"), account("lucas.martin")
    other_school = school_by_uai("0310002C")

    edit_account(admin, lucas, renamed("Lucien", "Berthier"))
    db.session.flush()
    assert copy_of(lucas.id) == {("berthier lucien", "lucien", False, "student")}

    assert set_suspended(admin, [lucas], True) == []
    db.session.flush()
    assert copy_of(lucas.id) == {("berthier lucien", "lucien", True, "student")}

    db.session.execute(update(Account).where(Account.id == lucas.id)     # a bulk statement
                       .values(suspended=False, profile=Profile.OTHER))
    lucas.schools.append(other_school)                                  # through the ORM
    db.session.flush()
    assert copy_of(lucas.id) == {("berthier lucien", "lucien", False, "other")}
    assert len(db.session.scalars(select(AccountSchool).where(
        AccountSchool.account_id == lucas.id)).all()) == 2

    zoe = account("zoe.le-gall")        # a membership given to another account
    db.session.execute(update(AccountSchool).where(
        AccountSchool.account_id == lucas.id, AccountSchool.school_id == other_school.id)
        .values(account_id=zoe.id))
    assert copy_of(zoe.id) == {("le gall zoe", "zoe", False, "student")}

    newcomer = create_account(login="nina.roux", first_name="Nina", last_name="Roux",
                              profile=Profile.TEACHER, password="Preau-demo-2026!",
                              schools=[other_school])
    db.session.flush()
    third = db.session.scalar(select(School.id).where(School.id.not_in(
        [s.id for s in newcomer.schools])).limit(1))
    db.session.execute(insert(AccountSchool), [{"account_id": newcomer.id,
                                                "school_id": third}])
    assert copy_of(newcomer.id) == {("roux nina", "nina", False, "teacher")}

    newcomer.access_ends_at = utcnow()      # the worker suspends ended accounts in bulk
    db.session.flush()
    assert end_ended_access(utcnow()) >= 1
    assert copy_of(newcomer.id) == {("roux nina", "nina", True, "teacher")}
    assert stale_copies() == []


def everything(viewer, filters: AccountFilters) -> list[int]:
    """The search's people in order, read from `account` (search_query, not the index)."""
    return list(db.session.scalars(search_query(viewer, filters)
                                   .with_only_columns(Account.id)))


def assert_same_as_the_search(viewer, filters: AccountFilters) -> int:
    """members_page_ids reads the index alone and gives the search's slices and count."""
    perimeter = perimeter_of(viewer)
    statement = members_page_ids(perimeter, filters, 0, 20)
    sql = str(statement.compile(db.engine))
    assert "FROM account_school" in sql and "account.id" not in sql, sql
    expected = everything(viewer, filters)
    for offset, limit in ((0, 20), (3, 5), (max(len(expected) - 3, 0), 20)):
        rows = db.session.execute(members_page_ids(perimeter, filters, offset, limit)).all()
        assert [row[0] for row in rows] == expected[offset:offset + limit], (offset, limit)
        assert {row[1] for row in rows} <= {len(expected)}
    for cap in (0, 1, len(expected), 1000):
        assert db.session.scalar(count_query(perimeter, filters, cap)) == \
            min(len(expected), cap + 1), cap
    return len(expected)


@pytest.mark.parametrize("typed", ["", "m", "ma", "mar", "le g", "lucas", "zz", "-"])
def test_a_pupils_page_from_the_index_is_her_searchs_slice(ctx, typed):
    zoe = account("zoe.le-gall")
    lucas = account("lucas.martin")
    lucas.suspended = True                  # hidden from her, as from the search
    db.session.flush()
    found = assert_same_as_the_search(zoe, AccountFilters(name=typed))
    assert found or typed in ("zz", "-")
    assert_same_as_the_search(zoe, AccountFilters(name=typed,
                                                  profiles=(Profile.TEACHER, Profile.STAFF)))


def with_a_second_school(viewer: Account) -> int:
    """Gives `viewer` and one pupil of their school a second school; the pupil's id."""
    second = school_by_uai("0310002C" if viewer.schools[0].uai != "0310002C" else "0310024H")
    pupil = db.session.scalar(select(Account).where(
        Account.schools.contains(viewer.schools[0]), Account.profile == Profile.STUDENT,
        Account.search_name >= "d").order_by(Account.search_name).limit(1))
    viewer.schools.append(second)
    pupil.schools.append(second)
    db.session.flush()
    return pupil.id


@pytest.mark.parametrize("typed", ["", "m", "du", "zz"])
def test_a_parent_of_two_schools_finds_each_person_once(ctx, typed):
    """Her perimeter is her two schools (children in both): a person of both has two rows in
    the index, and is on the page once."""
    parent = db.session.scalar(select(Account).where(
        Account.profile == Profile.PARENT, Account.schools.contains(
            account("zoe.le-gall").schools[0])).order_by(Account.id).limit(1))
    pupil_id = with_a_second_school(parent)
    assert len(perimeter_of(parent).school_ids) == 2
    found = everything(parent, AccountFilters(name=typed))
    assert len(found) == len(set(found))
    assert_same_as_the_search(parent, AccountFilters(name=typed))
    assert (pupil_id in found) == (pupil_id in everything(
        parent, AccountFilters(name=typed, school_ids=(parent.schools[0].id,))))


@pytest.mark.parametrize("typed", ["", "du"])
def test_a_region_viewer_choosing_two_schools_finds_each_person_once(ctx, typed):
    paul = account("paul.durand")
    assert perimeter_of(paul).school_ids is None
    with_a_second_school(paul)
    assert_same_as_the_search(paul, AccountFilters(
        name=typed, school_ids=tuple(s.id for s in paul.schools)))


@pytest.mark.parametrize("typed", ["", "mar", "martin"])
def test_an_administrators_chosen_school_shows_its_suspended_people(ctx, typed):
    admin, lucas = account("admin"), account("lucas.martin")
    lucas.suspended = True
    db.session.flush()
    filters = AccountFilters(name=typed, school_ids=(lucas.schools[0].id,))
    assert_same_as_the_search(admin, filters)
    assert lucas.id in everything(admin, filters)


def test_a_discipline_or_two_lists_of_schools_are_read_from_account(ctx):
    """What the index does not hold: the page is read from the accounts, as before."""
    zoe, admin = account("zoe.le-gall"), account("admin")
    school_ids = tuple(s.id for s in zoe.schools)
    for viewer, filters in ((zoe, AccountFilters(name="m", discipline="Mathématiques")),
                            (zoe, AccountFilters(name="m", school_ids=school_ids)),
                            (admin, AccountFilters(name="m", discipline="Mathématiques",
                                                   school_ids=school_ids))):
        sql = str(members_page_ids(perimeter_of(viewer), filters, 0, 20).compile(db.engine))
        assert "account.id" in sql
        rows = db.session.execute(members_page_ids(perimeter_of(viewer), filters, 0, 50)).all()
        assert [row[0] for row in rows] == everything(viewer, filters)[:50]


def test_a_renamed_classmate_is_found_by_her_new_name_in_the_annuaire(app, student):
    from tests.portal.annuaire_helpers import html, people_rows

    with app.app_context():
        lucas = account("lucas.martin")
        edit_account(account("admin"), lucas, renamed("Lucien", "Berthier"))
        db.session.commit()

    def names(typed: str) -> list[str]:
        response = student.get("/annuaire/", query_string={"nom": typed})
        assert response.status_code == 200
        return [row.name for row in people_rows(html(response))]

    assert "Berthier Lucien" in names("berth") and "Berthier Lucien" in names("luci")
    martins = names("martin")
    assert "Martin Éric" in martins and "Martin Lucas" not in martins


def test_upgrade_to_0025_copies_every_membership_and_keeps_them(tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0024")
        connection = db.session.connection()
        connection.execute(sa.text(
            "INSERT INTO school (id, uai, name, city, login_pattern) "
            "VALUES (1, '0750001A', 'École du test', 'Paris', '{uai}.{f}.{last}')"))
        for n, (first, last, suspended) in enumerate((("Zoé", "Le Gall", False),
                                                      ("Lucas", "Martin", True)), start=1):
            connection.execute(sa.text(
                "INSERT INTO account (id, login, first_name, last_name, search_name, "
                "search_first, profile, address, password_hash, must_change_password, "
                "suspended, is_admin, is_school_admin, redirect_verified, created_at) "
                "VALUES (:id, :login, :first, :last, :name, :first_key, 'student', :login, "
                "'x', false, :suspended, false, false, false, CURRENT_TIMESTAMP)"),
                {"id": n, "login": f"compte{n}", "first": first, "last": last,
                 "name": f"{last} {first}".lower(), "first_key": first.lower(),
                 "suspended": suspended})
            connection.execute(sa.text(
                "INSERT INTO account_school (account_id, school_id) VALUES (:id, 1)"), {"id": n})
        db.session.commit()

        upgrade(directory=migrations)
        copied = db.session.execute(sa.text(
            "SELECT account_id, search_name, suspended FROM account_school "
            "ORDER BY account_id")).all()
        db.session.execute(sa.text("UPDATE account SET search_name = 'roux nina', "
                                   "suspended = false WHERE id = 2"))
        renamed = db.session.execute(sa.text(
            "SELECT search_name, suspended FROM account_school WHERE account_id = 2")).one()
        db.session.commit()

        downgrade(directory=migrations, revision="0024")
        columns = set(db.session.execute(sa.text("SELECT * FROM account_school")).keys())
        db.session.execute(sa.text("UPDATE account SET search_name = 'martin lucas' "
                                   "WHERE id = 2"))      # no trigger left to fail
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert [tuple(row) for row in copied] == [(1, "le gall zoé", False),
                                              (2, "martin lucas", True)]
    assert tuple(renamed) == ("roux nina", False)
    assert columns == {"account_id", "school_id"}



def test_the_triggers_are_there_at_the_head(ctx):
    if db.engine.dialect.name == "postgresql":
        names = db.session.scalars(sa.text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
    else:
        names = db.session.scalars(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    assert {"account_school_copies_account", "account_copies_to_schools"} <= set(names)


@pytest.mark.postgres_only
@pytest.mark.parametrize("first", ["account_changed", "membership_added"])
def test_a_membership_added_while_its_account_changes_gets_the_last_values(
        tmp_path, own_database, first):
    """Two transactions at once on PostgreSQL: one changes an account, the other gives it a
    school. Whichever starts first, the other waits for it, and the copy ends with the new
    values (without FOR SHARE the membership kept the old ones)."""
    import threading
    import time

    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        engine = db.engine
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO school (id, uai, name, city, login_pattern) VALUES "
            "(1, '0750001A', 'École A', 'Paris', 'x'), (2, '0750002B', 'École B', 'Paris', 'x')"))
        connection.execute(sa.text(
            "INSERT INTO account (id, login, first_name, last_name, search_name, "
            "search_first, profile, address, password_hash, must_change_password, suspended, "
            "is_admin, is_school_admin, redirect_verified, created_at) VALUES (1, 'lucas', "
            "'Lucas', 'Martin', 'martin lucas', 'lucas', 'student', 'lucas', 'x', false, "
            "false, false, false, false, CURRENT_TIMESTAMP)"))
        connection.execute(sa.text(
            "INSERT INTO account_school (account_id, school_id) VALUES (1, 1)"))
    change = sa.text("UPDATE account SET search_name = 'roux nina', suspended = true "
                     "WHERE id = 1")
    add = sa.text("INSERT INTO account_school (account_id, school_id) VALUES (1, 2)")
    holder, waiter = (change, add) if first == "account_changed" else (add, change)
    with engine.connect() as held:
        held.execute(holder)
        done = threading.Event()

        def second() -> None:
            with engine.begin() as connection:
                connection.execute(waiter)
            done.set()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not done.is_set()            # waits for the first transaction
        held.commit()
    thread.join(30)
    assert done.is_set()
    with engine.connect() as connection:
        copies = connection.execute(sa.text(
            "SELECT school_id, search_name, suspended FROM account_school "
            "ORDER BY school_id")).all()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert [tuple(row) for row in copies] == [(1, "roux nina", True), (2, "roux nina", True)]
