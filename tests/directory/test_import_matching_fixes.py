"""What a second review of the account import found (each test fails without its fix): two
rows of the file taking one account by its name, children named among rows that are refused
or are not pupils, a shared account's whole row refused for a difference of names or email,
another school's parent who could no longer be linked, and namesakes a row with an id could
never be told apart from."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from directory.account_admin import not_hers_alone
from directory.account_file import read_account_file
from directory.account_import import Fate, apply_import, plan_import
from directory.accounts import school_by_uai
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from tests.conftest import csrf_token
from tests.portal.annuaire_helpers import html, school_id

from .account_files import utf8_bom_moodle
from .test_account_import import _of_school

HEADER = ("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of")


@pytest.fixture
def school(ctx):
    return school_by_uai("0310024H")


def _csv(rows: list[list[str]], header=HEADER) -> bytes:
    return utf8_bom_moodle(rows, header=header)


def _fates(plan):
    return [(row.row.line, row.fate.value, [e.code for e in row.errors]) for row in plan.rows]


def _account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def _by_id(external_id: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.external_id == external_id))


def _school_admin(login: str) -> Account:
    account = _account(login)
    account.is_school_admin = True
    db.session.flush()
    return account


def _children(account: Account) -> set[int]:
    return set(db.session.scalars(select(ParentLink.child_id).where(
        ParentLink.parent_id == account.id)))


def _classes(account: Account, school: School) -> set[str]:
    return set(db.session.scalars(select(Group.name).join(
        GroupMember, GroupMember.group_id == Group.id).where(
        GroupMember.account_id == account.id, Group.kind == GroupKind.CLASS,
        Group.school_id == school.id)))


def _without_external_id(school: School, rows: list[list[str]]) -> list[Account]:
    """Accounts of `school` as an import without ids makes them (every demo account has
    one): imported with the rows' ids, then the ids taken away."""
    apply_import(school, read_account_file(_csv(rows)))
    accounts = [_by_id(row[5]) for row in rows]
    for account in accounts:
        account.external_id = None
    db.session.flush()
    return accounts


# 1. Two rows of the file, one account by name ------------------------------------------------

def test_two_new_ids_of_one_name_do_not_both_take_the_account_without_one(school):
    """P-1 and P-2 are unknown to the database: both fell back on the name, both were
    « modification » of the one « Martin Jean » without id; applied, he became the parent of
    both children (another family's child among them) and took the last row's id."""
    (jean,) = _without_external_id(school, [["Martin", "Jean", "parent", "", "", "TMP-1", ""]])
    lucas = _account("lucas.martin")
    zoe = _account("zoe.le-gall")
    data = _csv([["Martin", "Jean", "parent", "", "", "P-1", "zoe.le-gall"],
                 ["Martin", "Jean", "parent", "", "", "P-2", "lucas.martin"]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["namesake_account"]),
                            (3, "error", ["namesake_account"])]
    assert [row.errors[0].params["line"] for row in plan.rows] == [3, 2]
    assert str(plan.rows[0].errors[0]).startswith(
        "un compte de l'établissement sans identifiant externe porte ce nom et ce profil, "
        "comme la ligne 3")
    assert all(row.account_id != jean.id for row in plan.rows)
    for size in (1, 500):       # one batch per row, or one for both: the same
        assert apply_import(school, read_account_file(data), size=size) == (0, 0)
    db.session.refresh(jean)
    assert jean.external_id is None and _children(jean) == set()
    assert db.session.scalars(select(ParentLink.parent_id).where(
        ParentLink.child_id.in_([zoe.id, lucas.id])).group_by(ParentLink.parent_id)
        .having(func.count() == 2)).all() == []


def test_a_row_without_id_and_a_row_with_a_new_one_do_not_share_the_account(school):
    (yvon,) = _without_external_id(school, [
        ["Quelennec", "Yvon", "parent", "", "", "TMP-2", ""]])
    data = _csv([["Quelennec", "Yvon", "parent", "", "", "", "zoe.le-gall"],
                 ["Quelennec", "Yvon", "parent", "", "", "P-3", "lucas.martin"]])
    # line 2, without id, is the same person as line 3, which has one: refused as its
    # duplicate whatever the database holds (tests/directory/test_import_review2.py)
    assert _fates(plan_import(school, data)) == [(2, "error", ["duplicate"]),
                                                 (3, "error", ["namesake_account"])]
    alone = _csv([["Quelennec", "Yvon", "parent", "", "", "P-3", "lucas.martin"]])
    plan = plan_import(school, alone)        # the file the words advise: he takes the id
    assert _fates(plan) == [(2, "update", [])] and plan.rows[0].account_id == yvon.id


# 2. Children among the file's accepted pupils only -------------------------------------------

def test_a_parent_of_a_refused_row_or_of_a_non_pupil_row_is_an_error(school):
    """« parent de » E-9, whose row is refused (unknown class), or T-4, a teacher: the parent
    was created with no child, and « modification : enfants » at every import after."""
    data = _csv([["Roux", "Mère", "parent", "", "", "P-3", "E-9"],
                 ["Roux", "Léo", "student", "9Z", "", "E-9", ""],
                 ["Roux", "Père", "parent", "", "", "P-4", "T-4"],
                 ["Roux", "Anne", "teacher", "", "", "T-4", ""]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["child_not_found"]), (3, "error", ["unknown_class"]),
                            (4, "error", ["child_not_found"]), (5, "create", [])]
    assert str(plan.rows[0].errors[0]) == (
        "enfant introuvable « E-9 » : ce n'est ni un élève de l'établissement, ni une ligne "
        "d'élève acceptée du fichier")
    assert apply_import(school, read_account_file(data)) == (1, 0)
    assert _by_id("P-3") is None and _by_id("P-4") is None


def test_a_file_applied_then_planned_again_is_unchanged_row_for_row(school):
    """SPEC §8: re-importing the same file changes nothing. The parent of a teacher's row
    was said « modification : enfants » at every import."""
    data = _csv([["Roux", "Anne", "teacher", "", "", "T-5", ""],
                 ["Roux", "Léo", "student", "4A", "", "E-1", ""],
                 ["Roux", "Mère", "parent", "", "", "P-1", "E-1"],
                 ["Roux", "Père", "parent", "", "", "P-2", "T-5"]])
    assert _fates(plan_import(school, data)) == [
        (2, "create", []), (3, "create", []), (4, "create", []),
        (5, "error", ["child_not_found"])]
    assert apply_import(school, read_account_file(data), size=3) == (3, 0)  # P-1 with E-1
    assert _children(_by_id("P-1")) == {_by_id("E-1").id}
    assert _fates(plan_import(school, data)) == [
        (2, "unchanged", []), (3, "unchanged", []), (4, "unchanged", []),
        (5, "error", ["child_not_found"])]
    assert apply_import(school, read_account_file(data)) == (0, 0)


# 3. An account shared with another school: its identity left, its classes applied ------------

def _shared_claire() -> Account:
    claire = _account("claire.bernard")
    claire.schools.append(school_by_uai("0310002C"))
    claire.external_id = "T-C-2"
    db.session.flush()
    return claire


def test_a_shared_accounts_row_with_its_surname_in_capitals_gives_her_the_group(school):
    """The case of a surname (or a last day of access) differing from the account's refused
    the whole row, so « Club échecs » was not given either."""
    paul = _school_admin("paul.durand")
    claire = _shared_claire()
    before = (claire.first_name, claire.last_name, claire.access_ends_at)
    data = _csv([[claire.last_name.upper(), claire.first_name, "teacher", "", "", "T-C-2",
                  "", "Club échecs", "30/06/2099"]], header=(*HEADER, "cohort1", "end date"))
    plan = plan_import(school, data, importer=paul)
    assert _fates(plan) == [(2, "update", [])] and plan.rows[0].changes == ["groups"]
    assert [str(n) for n in plan.rows[0].notes] == [
        "le groupe « Club échecs » sera créé",
        "compte partagé avec un autre établissement : ses nom, prénom, profil, courriel, "
        "identifiant externe et dernier jour d'accès restent ceux qu'il a, seuls classe, "
        "groupes et enfants sont repris du fichier"]
    assert apply_import(school, read_account_file(data), importer=paul) == (0, 1)
    db.session.refresh(claire)
    assert (claire.first_name, claire.last_name, claire.access_ends_at) == before
    chess = db.session.scalar(select(Group.id).where(Group.school_id == school.id,
                                                     Group.name == "Club échecs"))
    assert db.session.get(GroupMember, (chess, claire.id)) is not None
    again = plan_import(school, data, importer=paul)
    assert _fates(again) == [(2, "unchanged", [])]
    assert [n.code for n in again.rows[0].notes] == ["shared_identity_kept"]


def test_the_preview_says_the_shared_accounts_class_changes_and_why_its_email_does_not(
        app, school_admin):
    with app.app_context():
        claire = _shared_claire()
        row = [claire.last_name, claire.first_name, "teacher", "3A", "pirate@example.org",
               "T-C-2", ""]
        db.session.commit()
    page = school_admin.get("/administration/import").get_data(as_text=True)
    uploaded = school_admin.post("/administration/import", data={
        "csrf_token": csrf_token(page), "etablissement": str(school_id(app, "0310024H")),
        "fichier": (io.BytesIO(_csv([row])), "comptes.csv")},
        content_type="multipart/form-data")
    assert uploaded.status_code == 303
    preview = html(school_admin.get(uploaded.headers["Location"]))
    (cells,) = [[td.text for td in tr.all("td")] for tr in
                preview.one("table", class_="import-preview").one("tbody").all("tr")]
    assert cells[4:6] == ["modification", "claire.bernard"]
    assert cells[6].startswith("classe compte partagé avec un autre établissement : ses nom, "
                               "prénom, profil, courriel, identifiant externe et dernier jour "
                               "d'accès restent ceux qu'il a")


# 4. Another school's parent, « parent de » a pupil of this school ------------------------------

def test_another_schools_parent_joins_for_a_pupil_here_as_he_is(school):
    """SPEC §1: a parent belongs to the schools of his children. Refused since the import
    stopped taking him over, the school had no way to link him. He joins and gets the child;
    his names, email and password stay his school's to set, and hers he is not alone."""
    paul = _school_admin("paul.durand")
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-5"
    db.session.flush()
    before = (parent.first_name, parent.last_name, parent.redirect_address,
              parent.password_hash, parent.must_change_password)
    data = _csv([["Autre", "Nom", "parent", "", "pirate@example.org", "B-P-5", "zoe.le-gall",
                  "Pirate-2026!"]], header=(*HEADER, "password"))
    plan = plan_import(school, data, importer=paul)
    assert _fates(plan) == [(2, "update", [])]
    assert sorted(plan.rows[0].changes) == ["children", "school"]
    assert [n.code for n in plan.rows[0].notes] == ["other_school_parent", "password_kept"]
    assert apply_import(school, read_account_file(data), importer=paul) == (0, 1)
    db.session.refresh(parent)
    assert (parent.first_name, parent.last_name, parent.redirect_address,
            parent.password_hash, parent.must_change_password) == before
    assert {s.uai for s in parent.schools} >= {"0310002C", "0310024H"}
    assert _account("zoe.le-gall").id in _children(parent)
    assert not_hers_alone(paul, [parent]) == [parent]
    assert _fates(plan_import(school, data, importer=paul)) == [(2, "unchanged", [])]


def test_another_schools_parent_joins_for_a_pupil_the_file_creates(school):
    paul = _school_admin("paul.durand")
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-6"
    db.session.flush()
    data = _csv([[parent.last_name, parent.first_name, "parent", "", "", "B-P-6", "E-60"],
                 ["Neuf", "Élève", "student", "4A", "", "E-60", ""]])
    assert _fates(plan_import(school, data, importer=paul)) == [
        (2, "update", []), (3, "create", [])]
    assert apply_import(school, read_account_file(data), importer=paul) == (1, 1)
    assert _children(parent) >= {_by_id("E-60").id}
    assert db.session.scalar(select(AccountSchool.school_id).where(
        AccountSchool.account_id == parent.id, AccountSchool.school_id == school.id)) == school.id


# 5. Namesakes without ids ---------------------------------------------------------------------

def test_a_pupils_row_with_an_id_is_the_namesake_already_in_its_class(school):
    """Two « Roux Léo » without ids, in 4A and 3A: a row with an id was « 2 comptes portent
    ce nom : ajoutez un identifiant externe » to a row that had one, at every import."""
    four, three = _without_external_id(school, [
        ["Roux", "Léo", "student", "4A", "", "TMP-41", ""],
        ["Roux", "Léo", "student", "3A", "", "TMP-31", ""]])
    elsewhere = plan_import(school, _csv([["Roux", "Léo", "student", "6A", "", "E-61", ""]]))
    assert _fates(elsewhere) == [(2, "error", ["ambiguous_without_ids"])]
    assert "Supprimez le compte en double" in str(elsewhere.rows[0].errors[0])
    assert "ajoutez un identifiant" not in str(elsewhere.rows[0].errors[0])
    data = _csv([["Roux", "Léo", "student", "4A", "", "E-41", ""]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "update", [])]
    assert plan.rows[0].account_id == four.id and plan.rows[0].changes == ["external_id"]
    assert apply_import(school, read_account_file(data)) == (0, 1)
    db.session.refresh(four)
    db.session.refresh(three)
    assert (four.external_id, three.external_id) == ("E-41", None)
    assert _classes(three, school) == {"3A"}
    assert _fates(plan_import(school, data)) == [(2, "unchanged", [])]


def test_a_teachers_row_with_an_id_beside_two_namesakes_without_says_what_to_do(school):
    _without_external_id(school, [["Petit", "Marc", "teacher", "", "", "TMP-T1", ""],
                                  ["Petit", "Marc", "teacher", "", "", "TMP-T2", ""]])
    plan = plan_import(school, _csv([["Petit", "Marc", "teacher", "", "", "T-1", ""]]))
    assert _fates(plan) == [(2, "error", ["ambiguous_without_ids"])]
    assert plan.rows[0].errors[0].params == {"count": 2}
    assert plan_import(school, _csv([["Petit", "Marc", "teacher", "", "", "", ""]])
                       ).rows[0].errors[0].code == "ambiguous_without_ids"
    assert Fate.ERROR == plan.rows[0].fate


def test_a_teacher_naming_her_child_before_his_row_gets_him_in_a_later_batch(school):
    """The rows naming children are applied last, whatever their profile: a teacher's row
    naming a pupil the file creates further down, in a later batch, was refused when applied
    (« enfant introuvable ») though the preview accepted it."""
    data = _csv([["Roux", "Anne", "teacher", "", "", "T-5", "E-1"],
                 ["Roux", "Léo", "student", "4A", "", "E-1", ""]])
    assert _fates(plan_import(school, data)) == [(2, "create", []), (3, "create", [])]
    assert apply_import(school, read_account_file(data), size=1) == (2, 0)
    assert _children(_by_id("T-5")) == {_by_id("E-1").id}
