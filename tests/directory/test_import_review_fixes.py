"""What a review of the account import found (each test fails without its fix): names taken
under a linguistic collation, another school's parent taken over, a NUL in the file, several
classes in a row, the export read back, children who are not pupils."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select

from directory.account_file import FileRefused, read_account_file
from directory.account_import import apply_import, plan_import
from directory.accounts import school_by_uai
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember, ParentLink, School
from directory.naming import search_key
from tests.conftest import make_app, missing, session_database_url

from .account_files import utf8_bom_moodle
from .test_account_import import _of_school

HEADER = ("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of")


def quoted_csv(rows: list[list[str]], header=HEADER) -> bytes:
    """As the export writes it: cells holding the separator are quoted."""
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([list(header), *rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@pytest.fixture
def school(ctx):
    return school_by_uai("0310024H")


def _account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def _school_admin(login: str) -> Account:
    account = _account(login)
    account.is_school_admin = True
    db.session.flush()
    return account


def _fates(plan):
    return [(row.row.line, row.fate.value, [e.code for e in row.errors]) for row in plan.rows]


def _classes(account: Account, school: School) -> set[str]:
    return set(db.session.scalars(select(Group.name).join(
        GroupMember, GroupMember.group_id == Group.id).where(
        GroupMember.account_id == account.id, Group.kind == GroupKind.CLASS,
        Group.school_id == school.id)))


# 1. Collation -----------------------------------------------------------------------------

@pytest.fixture
def linguistic_database():
    """A PostgreSQL database whose default collation is French (ICU), as a cluster created
    with a French locale gives: `:` does not sort after the digits there."""
    url = sa.engine.make_url(session_database_url())
    name = f"{url.database}_fr"
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.exec_driver_sql(
                "SELECT 1 FROM pg_collation WHERE collname = 'fr-FR-x-icu'").scalar():
            missing("no ICU collation on this PostgreSQL server")
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(
            f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
            f"ICU_LOCALE 'fr-FR' LOCALE 'C.UTF-8'")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.mark.postgres_only
def test_a_third_namesake_gets_3_on_a_database_with_a_linguistic_collation(
        tmp_path, linguistic_database):
    """The taken variants are read as the range base||'0' ≤ value < base||':'; under fr-FR
    the range came back empty, `…2` was handed out again and broke the unique login (500 at
    « Créer un compte », an import batch never passing)."""
    from directory.allocation import allocate
    from directory.models import AllocatedAddress

    app = make_app(tmp_path / "instance", linguistic_database)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        connection = db.session.connection()
        assert connection.exec_driver_sql(
            "SELECT 'a2' < 'a:' FROM pg_database WHERE datname = current_database()"
        ).scalar() is False          # the database's own order: the bug's condition
        for n, login in enumerate(("0310024h.j.martin", "0310024h.j.martin2"), start=1):
            connection.execute(sa.text(
                "INSERT INTO account (id, login, first_name, last_name, search_name, "
                "search_first, profile, address, password_hash, must_change_password, "
                "suspended, is_admin, is_school_admin, redirect_verified, created_at) "
                "VALUES (:id, :login, 'Jean', 'Martin', 'martin jean', 'jean', 'teacher', "
                ":address, 'x', false, false, false, false, false, CURRENT_TIMESTAMP)"),
                {"id": n, "login": login, "address": f"jean.martin{'' if n == 1 else n}"})
            connection.execute(sa.text(
                "INSERT INTO allocated_address (local_part, allocated_at) "
                "VALUES (:address, CURRENT_TIMESTAMP)"),
                {"address": f"jean.martin{'' if n == 1 else n}"})
        logins = allocate(Account.login, ["0310024h.j.martin"])
        addresses = allocate(AllocatedAddress.local_part, ["jean.martin"])
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    assert logins == ["0310024h.j.martin3"]
    assert addresses == ["jean.martin3"]


# 2. Another school's accounts ---------------------------------------------------------------

def test_another_schools_parent_joins_through_parent_of_as_he_is(school):
    """A school administrator's file naming another school's parent (by his external id)
    « parent de » one of her pupils brought him into her school, where she could then set
    his password. He still joins (SPEC §1: a parent belongs to the schools of his children),
    with the child and nothing else: his names stay his school's, and the account is no
    longer hers alone (tests/directory/test_import_matching_fixes.py: nor his email and
    password)."""
    paul = _school_admin("paul.durand")
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-1"
    db.session.flush()
    names = (parent.first_name, parent.last_name)
    data = utf8_bom_moodle([["Autre", "Nom", "parent", "", "", "B-P-1", "zoe.le-gall"]],
                           header=HEADER)
    plan = plan_import(school, data, importer=paul)
    assert _fates(plan) == [(2, "update", [])]
    assert sorted(plan.rows[0].changes) == ["children", "school"]
    assert apply_import(school, read_account_file(data), importer=paul) == (0, 1)
    db.session.refresh(parent)
    assert (parent.first_name, parent.last_name) == names
    assert school.id in {s.id for s in parent.schools}
    assert db.session.scalar(select(ParentLink).where(
        ParentLink.parent_id == parent.id, ParentLink.child_id == _account("zoe.le-gall").id)) \
        is not None


def test_a_refused_child_row_lets_no_parent_join_either(school):
    """The child row is refused (unknown class): its parent of another school joined all the
    same, with no child here."""
    paul = _school_admin("paul.durand")
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-2"
    db.session.flush()
    data = utf8_bom_moodle([["Autre", "Nom", "parent", "", "", "B-P-2", "E-9"],
                            ["Neuf", "Élève", "student", "9Z", "", "E-9", ""]], header=HEADER)
    assert _fates(plan_import(school, data, importer=paul)) == [
        (2, "error", ["not_administered"]), (3, "error", ["unknown_class"])]


def test_an_import_does_not_change_the_email_of_an_account_shared_with_another_school(school):
    """Claire teaches in both schools: Paul's file may place her in his classes, not redirect
    her mail (and the new passwords it would carry) to another address. The row was refused
    whole, her class with it; now the email is left as it is, with a note, and the class
    applied."""
    paul = _school_admin("paul.durand")
    claire = _account("claire.bernard")
    claire.schools.append(school_by_uai("0310002C"))
    claire.external_id = "T-C-1"
    db.session.flush()
    before = claire.redirect_address
    same = utf8_bom_moodle([[claire.last_name, claire.first_name, "teacher", "", "",
                             "T-C-1", ""]], header=HEADER)
    assert _fates(plan_import(school, same, importer=paul)) == [(2, "unchanged", [])]
    data = utf8_bom_moodle([[claire.last_name, claire.first_name, "teacher", "3A",
                             "pirate@example.org", "T-C-1", ""]], header=HEADER)
    plan = plan_import(school, data, importer=paul)
    assert _fates(plan) == [(2, "update", [])] and plan.rows[0].changes == ["class"]
    assert [n.code for n in plan.rows[0].notes] == ["shared_identity_kept"]
    apply_import(school, read_account_file(data), importer=paul)
    db.session.refresh(claire)
    assert claire.redirect_address == before
    assert _classes(claire, school) == {"3A"}


# 5. NUL -------------------------------------------------------------------------------------

def test_a_nul_character_anywhere_in_the_file_refuses_it():
    """Only the first 4,096 bytes were looked at (and never a UTF-16 file's): PostgreSQL then
    refused the text at the preview or at « Appliquer » (500, the import stuck)."""
    rows = [["Nom", f"Prénom{n}", "student", "4A", "", f"E-{n}", ""] for n in range(300)]
    rows.append(["Roux\x00", "Léo", "student", "4A", "", "E-X", ""])
    data = utf8_bom_moodle(rows, header=HEADER)
    assert data.index(b"\x00") > 4096
    with pytest.raises(FileRefused) as refused:
        read_account_file(data)
    assert refused.value.why.code == "not_text"
    utf16 = "\ufeffnom;prénom;profil\r\nRoux\x00;Léo;élève\r\n".encode("utf-16-le")
    with pytest.raises(FileRefused):
        read_account_file(b"\xff\xfe" + utf16[2:])


# 6. Several classes, the export read back ----------------------------------------------------

def test_a_teacher_row_with_several_classes_sets_exactly_those(school):
    """« 4A, 4B » (as the export writes a teacher's classes) was one unknown class, or with
    « Créer les classes inconnues » a class named « 4A, 4B » that the teacher was moved
    into, out of 4A and 4B."""
    claire = _account("claire.bernard")
    data = quoted_csv([[claire.last_name, claire.first_name, "teacher", "3A, 4A", "", "",
                        ""]])
    groups_before = db.session.scalar(select(sa.func.count()).select_from(Group))
    plan = plan_import(school, data, create_classes=True)
    assert _fates(plan) == [(2, "update", [])] and plan.rows[0].changes == ["class"]
    apply_import(school, read_account_file(data), create_classes=True)
    assert _classes(claire, school) == {"3A", "4A"}
    assert db.session.scalar(select(sa.func.count()).select_from(Group)) == groups_before
    assert _fates(plan_import(school, data)) == [(2, "unchanged", [])]     # read back: same


def test_the_english_export_of_a_staff_member_and_a_guarded_name_read_back_unchanged(school):
    """The English export writes « Non-teaching staff » (an unknown profile to the import)
    and « '=Dupont » for a name a spreadsheet would take for a formula (the apostrophe came
    back in the name)."""
    staff = _of_school("0310024H", Profile.STAFF)
    staff.last_name = "=Dupont"
    staff.search_name, staff.search_first = search_key(staff.first_name, staff.last_name)
    db.session.flush()
    data = utf8_bom_moodle([[f"'{staff.last_name}", staff.first_name, "Non-teaching staff",
                             "", "", "", ""]], header=HEADER)
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "unchanged", [])]
    assert plan.rows[0].account_id == staff.id


# 8. Children who are not pupils --------------------------------------------------------------

def test_an_import_makes_nobody_the_parent_of_a_teacher_or_an_administrator(school):
    """« parent de » named any account of the school: the « parent » then read the agendas
    of every group of the « child » (another school's included) with a parent's rights."""
    paul = _school_admin("paul.durand")
    claire = _account("claire.bernard")
    region_admin = _account("admin")
    data = utf8_bom_moodle([["Roux", "Mère", "parent", "", "", "P-9", claire.login],
                            ["Roux", "Père", "parent", "", "", "P-8", region_admin.login],
                            ["Roux", "Tante", "parent", "", "", "P-7", "zoe.le-gall"]],
                           header=HEADER)
    for importer in (paul, None):
        assert [(line, fate) for line, fate, _ in _fates(
            plan_import(school, data, importer=importer))] == [
            (2, "error"), (3, "error"), (4, "create")]
    apply_import(school, read_account_file(data), importer=paul)
    linked = set(db.session.scalars(select(ParentLink.child_id).join(
        Account, Account.id == ParentLink.parent_id).where(Account.external_id.in_(
            ["P-9", "P-8", "P-7"]))))
    assert linked == {_account("zoe.le-gall").id}
