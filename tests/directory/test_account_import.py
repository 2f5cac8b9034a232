"""Planning and applying a school's account file: fates, reasons, logins, idempotence."""
import pytest
from sqlalchemy import func, select

from directory.account_file import read_account_file
from directory.account_import import Fate, apply_import, plan_import
from directory.accounts import school_by_uai
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember, ParentLink
from directory.passwords import NO_PASSWORD, verify_password

from .account_files import excel_fr, utf8_bom_moodle


@pytest.fixture
def school(ctx):
    return school_by_uai("0310024H")


def _count(model=Account) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _fates(plan):
    return [(row.row.line, row.fate.value, [e.code for e in row.errors]) for row in plan.rows]


def test_preview_says_each_rows_fate_and_writes_nothing(school):
    data = excel_fr([
        ["Blondel", "Victor", "Élève", "4A", "", ""],
        ["Le Gall", "Zoé", "Élève", "4A", "", ""],             # the demo's Zoé: unchanged
        ["Sans", "", "Élève", "4A", "", ""],
        ["Roux", "Anna", "Chef", "", "", ""],
        ["Roux", "Léo", "Élève", "9Z", "", ""],
        ["Blondel", "Victor", "Élève", "4A", "", ""],
        ["Martin", "Lucas", "Élève", "3A", "", ""],           # moves from 4A to 3A
    ])
    before = _count()
    plan = plan_import(school, data)
    assert _fates(plan) == [
        (2, "create", []), (3, "unchanged", []), (4, "error", ["missing_name"]),
        (5, "error", ["unknown_profile"]), (6, "error", ["unknown_class"]),
        (7, "error", ["duplicate"]), (8, "update", [])]
    assert plan.rows[0].login == "0310024h.v.blondel"
    assert plan.rows[5].errors[0].params == {"line": 2}
    assert plan.rows[6].changes == ["class"]
    assert _count() == before


def test_apply_creates_then_reimport_changes_nothing(school):
    data = utf8_bom_moodle([
        ["Blondel", "Victor", "élève", "4A", "victor@example.org", "V-1", "Chorale"],
        ["Blondel", "Valérie", "parent", "", "", "V-2", ""],
    ], header=("lastname", "firstname", "profile", "class", "email", "idnumber", "cohort1"))
    file = read_account_file(data)
    assert apply_import(school, file) == (2, 0)
    victor = db.session.scalar(select(Account).where(Account.external_id == "V-1"))
    valerie = db.session.scalar(select(Account).where(Account.external_id == "V-2"))
    assert (victor.login, valerie.login) == ("0310024h.v.blondel", "0310024h.v.blondel2")
    assert victor.address == "victor.blondel" and victor.profile == Profile.STUDENT
    assert victor.redirect_address == "victor@example.org" and victor.redirect_verified
    assert victor.must_change_password and victor.password_hash.startswith("$argon2id$")
    assert valerie.password_hash == NO_PASSWORD and valerie.redirect_address is None
    chorale = db.session.scalar(select(Group).where(Group.name == "Chorale",
                                                    Group.school_id == school.id))
    assert chorale.kind == GroupKind.GROUP
    assert db.session.get(GroupMember, (chorale.id, victor.id)) is not None
    again = plan_import(school, data)
    assert [row.fate for row in again.rows] == [Fate.UNCHANGED, Fate.UNCHANGED]
    assert apply_import(school, file) == (0, 0)


def test_external_id_is_the_key_for_updates(school):
    file = read_account_file(utf8_bom_moodle([["Petit", "Marc", "teacher", "", "", "T-9", ""]]))
    apply_import(school, file)
    renamed = read_account_file(utf8_bom_moodle([["Petit-Grand", "Marc", "teacher", "",
                                                  "marc@example.org", "T-9", ""]]))
    plan = plan_import(school, renamed)
    assert plan.rows[0].fate == Fate.UPDATE and plan.rows[0].changes == ["names", "email"]
    assert apply_import(school, renamed) == (0, 1)
    marc = db.session.scalar(select(Account).where(Account.external_id == "T-9"))
    assert (marc.last_name, marc.search_name) == ("Petit-Grand", "petit grand marc")


def test_given_password_is_kept_and_must_be_changed(school):
    data = excel_fr([["Noir", "Jeanne", "Enseignant", "", "", "Bonjour-2026"]])
    apply_import(school, read_account_file(data))
    jeanne = db.session.scalar(select(Account).where(Account.login == "0310024h.j.noir"))
    assert verify_password(jeanne.password_hash, "Bonjour-2026") and jeanne.must_change_password


def test_weak_password_and_bad_email_are_row_errors(school):
    data = excel_fr([["Noir", "Jeanne", "Enseignant", "", "pas-une-adresse", "court"]])
    assert [e.code for e in plan_import(school, data).rows[0].errors] == [
        "bad_email", "weak_password"]


def test_unknown_class_created_when_asked(school):
    data = excel_fr([["Roux", "Léo", "Élève", "6Z", "", ""]])
    plan = plan_import(school, data, create_classes=True)
    assert plan.rows[0].fate == Fate.CREATE
    assert [n.code for n in plan.rows[0].notes] == ["class_created"]
    apply_import(school, read_account_file(data), create_classes=True)
    six_z = db.session.scalar(select(Group).where(Group.name == "6Z"))
    assert six_z.kind == GroupKind.CLASS and six_z.school_id == school.id


def test_parent_links_to_child_of_file_or_of_the_school(school):
    data = utf8_bom_moodle([
        ["Roux", "Mère", "parent", "", "", "P-1", "E-1|zoe.le-gall"],
        ["Roux", "Léo", "student", "4A", "", "E-1", ""],
        ["Roux", "Père", "parent", "", "", "P-2", "E-404"],
    ], header=("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of"))
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "create", []), (3, "create", []),
                            (4, "error", ["child_not_found"])]
    assert [n.code for n in plan.rows[0].notes] == ["parent_without_email"]
    apply_import(school, read_account_file(data))
    mother = db.session.scalar(select(Account).where(Account.external_id == "P-1"))
    children = set(db.session.scalars(select(Account.login).join(
        ParentLink, ParentLink.child_id == Account.id).where(ParentLink.parent_id == mother.id)))
    assert children == {"zoe.le-gall", "0310024h.l.roux"}
    assert [r.fate for r in plan_import(school, data).rows[:2]] == [Fate.UNCHANGED] * 2


def _of_school(uai: str, profile: Profile, nth: int = 0) -> Account:
    from directory.models import AccountSchool, School
    return db.session.scalar(
        select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
        .join(School, School.id == AccountSchool.school_id)
        .where(School.uai == uai, Account.profile == profile).order_by(Account.id)
        .offset(nth).limit(1))


def _school_admin(login: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.login == login))
    account.is_school_admin = True
    db.session.flush()
    return account


def test_a_school_administrators_file_changes_only_what_she_administers(school):
    """A row about another school's teacher (by external id) or about the region
    administrator (by name) is an error, applying it changes nothing; a parent cannot be
    linked to another school's pupil. The command line's operator (no importer) has the whole
    region."""
    paul = _school_admin("paul.durand")
    teacher = _of_school("0310002C", Profile.TEACHER)
    teacher.external_id = "B-T-1"
    pupil = _of_school("0310002C", Profile.STUDENT)
    db.session.flush()
    before = (teacher.first_name, teacher.last_name, teacher.redirect_address)
    data = utf8_bom_moodle([
        ["Pirate", "Nom", "teacher", "", "moi@example.org", "B-T-1", ""],
        ["Préau", "Administrateur", "staff", "", "moi@example.org", "", ""],
        ["Roux", "Mère", "parent", "", "", "P-9", pupil.login],
    ], header=("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of"))
    plan = plan_import(school, data, importer=paul)
    assert _fates(plan) == [(2, "error", ["not_administered"]),
                            (3, "error", ["not_administered"]),
                            (4, "error", ["child_not_found"])]
    assert apply_import(school, read_account_file(data), importer=paul) == (0, 0)
    db.session.refresh(teacher)
    assert (teacher.first_name, teacher.last_name, teacher.redirect_address) == before
    assert school.id not in {s.id for s in teacher.schools}
    assert db.session.scalar(select(Account).where(Account.external_id == "P-9")) is None
    operator = plan_import(school, data)
    assert [r.fate for r in operator.rows[:2]] == [Fate.UPDATE, Fate.UPDATE]


def test_the_region_administrators_file_brings_another_schools_parent_in(school):
    """A school administrator's file cannot (tests/directory/test_import_review_fixes.py);
    the region administrator's gives him this school and the child, as the operator's."""
    region = db.session.scalar(select(Account).where(Account.login == "admin"))
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-1"
    db.session.flush()
    header = ("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of")
    data = utf8_bom_moodle([[parent.last_name, parent.first_name, "parent", "", "",
                             "B-P-1", "zoe.le-gall"]], header=header)
    plan = plan_import(school, data, importer=region)
    assert _fates(plan) == [(2, "update", [])]
    assert sorted(plan.rows[0].changes) == ["children", "school"]
    apply_import(school, read_account_file(data), importer=region)
    db.session.refresh(parent)
    assert school.id in {s.id for s in parent.schools}
    assert "zoe.le-gall" in set(db.session.scalars(select(Account.login).join(
        ParentLink, ParentLink.child_id == Account.id).where(ParentLink.parent_id == parent.id)))


def test_a_group_name_longer_than_a_group_holds_is_a_row_error(school):
    """PostgreSQL refused it only when applying (500, the import half done); SQLite kept it."""
    data = utf8_bom_moodle([["Petit", "Marc", "teacher", "", "", "T-8", "x" * 121],
                            ["Petit", "Anne", "teacher", "", "", "T-7", "Chorale"]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["too_long"]), (3, "create", [])]
    assert apply_import(school, read_account_file(data)) == (1, 0)


def test_namesakes_in_two_classes_need_external_ids(school):
    """Matched by name, both rows were one account: the preview said "create" twice, the
    first batch created the pupil and the next moved him to the other's class."""
    data = excel_fr([["Roux", "Léo", "Élève", "4A", "", ""],
                     ["Blanc", "Ana", "Élève", "4A", "", ""],
                     ["Roux", "Léo", "Élève", "5B", "", ""]])
    plan = plan_import(school, data, create_classes=True)
    assert _fates(plan) == [(2, "error", ["namesake"]), (3, "create", []),
                            (4, "error", ["namesake"])]
    assert [str(e) for e in plan.rows[0].errors] == [
        "même nom et même profil que la ligne 4, dans une autre classe : ajoutez un "
        "identifiant externe pour les distinguer"]
    assert apply_import(school, read_account_file(data), create_classes=True, size=1) == (1, 0)
    with_ids = utf8_bom_moodle([["Roux", "Léo", "student", "4A", "", "E-41", ""],
                                ["Roux", "Léo", "student", "5B", "", "E-51", ""]])
    assert [r.fate for r in plan_import(school, with_ids, create_classes=True).rows] == [
        Fate.CREATE, Fate.CREATE]


def test_no_parent_joins_without_a_real_child_here_nor_any_administrator(school):
    paul = _school_admin("paul.durand")
    parent = _of_school("0310002C", Profile.PARENT)
    parent.external_id = "B-P-2"
    other_admin = _of_school("0310002C", Profile.PARENT, nth=1)
    db.session.flush()
    header = ("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of")
    # the child row is itself an error (no name): it will never be created
    data = utf8_bom_moodle([["Autre", "Nom", "parent", "", "", "B-P-2", "E-9"],
                            ["", "", "student", "4A", "", "E-9", ""]], header=header)
    assert _fates(plan_import(school, data, importer=paul))[0] == \
        (2, "error", ["not_administered"])
    other_admin.is_school_admin, other_admin.external_id = True, "B-A-1"
    db.session.flush()
    admin_row = utf8_bom_moodle([["Autre", "Nom", "parent", "", "", "B-A-1", "zoe.le-gall"]],
                                header=header)
    assert _fates(plan_import(school, admin_row, importer=paul)) == [
        (2, "error", ["not_administered"])]


def test_the_operator_links_a_child_of_another_school(school):
    pupil = _of_school("0310002C", Profile.STUDENT)
    header = ("lastname", "firstname", "profile", "class", "email", "idnumber", "parent of")
    data = utf8_bom_moodle([["Roux", "Mère", "parent", "", "", "P-8", pupil.login]],
                           header=header)
    assert _fates(plan_import(school, data)) == [(2, "create", [])]
    apply_import(school, read_account_file(data))
    mother = db.session.scalar(select(Account).where(Account.external_id == "P-8"))
    assert db.session.scalar(select(ParentLink.child_id).where(
        ParentLink.parent_id == mother.id)) == pupil.id


def test_a_namesake_beside_a_row_with_an_id_needs_one_too(school):
    data = utf8_bom_moodle([["Roux", "Léo", "student", "4A", "", "E-41", ""],
                            ["Roux", "Léo", "student", "4A", "", "", ""],
                            ["Roux", "Léo", "student", "5B", "", "", ""]])
    plan = plan_import(school, data, create_classes=True)
    assert _fates(plan) == [(2, "create", []), (3, "error", ["namesake"]),
                            (4, "error", ["namesake"])]
    assert [e.params["line"] for e in plan.rows[1].errors] == [4]    # the other class's
    assert [e.params["line"] for e in plan.rows[2].errors] == [2]


def test_a_class_or_group_name_with_a_line_break_is_a_row_error(school):
    """The forms' rule for a group's name (it is written into mail headers): a quoted cell
    may hold a line break."""
    data = utf8_bom_moodle([["Petit", "Marc", "teacher", "", "", "T-5", '"Chorale\nBcc: x"'],
                            ["Petit", "Anne", "teacher", "", "", "T-4", "Chorale"]])
    assert _fates(plan_import(school, data)) == [(2, "error", ["group_name_control"]),
                                                (4, "create", [])]     # the cell's 2 lines
    assert apply_import(school, read_account_file(data)) == (1, 0)


def test_a_group_name_whose_folded_form_is_too_long_is_a_row_error(school):
    data = utf8_bom_moodle([["Petit", "Marc", "teacher", "", "", "T-6", "œ" * 61]])
    assert _fates(plan_import(school, data)) == [(2, "error", ["too_long"])]


def test_sheets_to_print_are_of_accounts_one_administers(school):
    from directory.account_admin import awaiting_sheet
    from directory.passwords import NO_PASSWORD

    paul = _school_admin("paul.durand")
    claire = _school_admin("claire.bernard")
    claire.password_hash = NO_PASSWORD
    zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
    zoe.password_hash = NO_PASSWORD
    db.session.flush()
    waiting = {a.login for a in awaiting_sheet(paul, school.id, 100)}
    assert "zoe.le-gall" in waiting and "claire.bernard" not in waiting


def test_login_collisions_get_a_number_and_accents_are_folded(school):
    data = excel_fr([["Blondel", "Véronique", "Enseignant", "", "", ""],
                     ["Blondel", "Vincent", "Enseignant", "", "", ""],
                     ["Ñúñez O'Brien", "Éloïse", "Enseignant", "", "", ""]])
    plan = plan_import(school, data)
    assert [r.login for r in plan.rows] == ["0310024h.v.blondel", "0310024h.v.blondel2",
                                            "0310024h.e.nunez-obrien"]
    apply_import(school, read_account_file(excel_fr([["Blondel", "Véronique", "Enseignant",
                                                      "", "", ""]])))
    plan = plan_import(school, excel_fr([["Blondel", "Vincent", "Enseignant", "", "", ""]]))
    assert plan.rows[0].login == "0310024h.v.blondel2"


def test_formula_in_a_name_is_stored_as_text(school):
    data = excel_fr([["=HYPERLINK(\"http://x\")", "+Ana", "Enseignant", "", "", ""]])
    apply_import(school, read_account_file(data))
    ana = db.session.scalar(select(Account).where(Account.first_name == "+Ana"))
    assert ana.last_name == '=HYPERLINK("http://x")'


def test_batches_apply_the_same_as_one(school):
    rows = [[f"Nom{n}", f"Prénom{n}", "Élève", "4A", f"p{n}@example.org", ""]
            for n in range(25)]
    file = read_account_file(excel_fr(rows))
    seen = []
    assert apply_import(school, file, size=10, progress=lambda r: seen.append(r.done)) == (25, 0)
    assert seen == [10, 20, 25]
    assert apply_import(school, file, size=10) == (0, 0)


def test_malformed_rows_are_errors_and_the_others_apply(school):
    data = b"Nom;Prenom;Profil;Classe\r\nDupont\r\nMartin;Ana;Enseignant;;;;\r\n"
    plan = plan_import(school, data)
    assert [(r.fate, [e.code for e in r.errors]) for r in plan.rows] == [
        (Fate.ERROR, ["missing_name", "unknown_profile"]), (Fate.CREATE, [])]
    assert apply_import(school, read_account_file(data)) == (1, 0)


def _with_end(rows: list[list[str]]) -> bytes:
    return excel_fr(rows, header=("Nom", "Prénom", "Profil", "Identifiant externe",
                                  "Fin d'accès"))


def test_the_last_day_of_access_is_imported_and_changed_only_when_the_file_changes(school):
    from datetime import date, timedelta

    from directory.clock import end_of_local_day, last_local_day, travel_to, utcnow

    june = date(utcnow().year + 1, 6, 30)
    data = _with_end([["Blondel", "Victor", "Élève", "V-1", june.strftime("%d/%m/%Y")],
                      ["Blondel", "Valérie", "Élève", "V-2", ""]])
    assert apply_import(school, read_account_file(data)) == (2, 0)
    victor = db.session.scalar(select(Account).where(Account.external_id == "V-1"))
    valerie = db.session.scalar(select(Account).where(Account.external_id == "V-2"))
    assert victor.access_ends_at == end_of_local_day(june)
    assert last_local_day(victor.access_ends_at) == june
    assert valerie.access_ends_at is None
    assert [row.fate for row in plan_import(school, data).rows] == [Fate.UNCHANGED] * 2

    later = _with_end([["Blondel", "Victor", "Élève", "V-1", (june + timedelta(days=1))
                        .isoformat()],
                       ["Blondel", "Valérie", "Élève", "V-2", ""]])
    plan = plan_import(school, later)
    assert [(row.fate, row.changes) for row in plan.rows] == [
        (Fate.UPDATE, ["access_end"]), (Fate.UNCHANGED, [])]
    assert apply_import(school, read_account_file(later)) == (0, 1)
    db.session.expire_all()
    assert last_local_day(victor.access_ends_at) == june + timedelta(days=1)

    # Once that day has passed, the same file is still unchanged (no new end). A changed end
    # or a new account's end on a day already past is not taken, with a note; the row's
    # other changes still apply.
    with travel_to(end_of_local_day(june) + timedelta(days=3)):
        assert [row.fate for row in plan_import(school, later).rows] == [Fate.UNCHANGED] * 2
        past = _with_end([["Blondel", "Victorin", "Élève", "V-1", june.isoformat()],
                          ["Blondel", "Vianney", "Élève", "V-3", june.isoformat()]])
        plan = plan_import(school, past)
        assert [(row.fate, row.changes, [n.code for n in row.notes]) for row in plan.rows] == [
            (Fate.UPDATE, ["names"], ["access_end_past"]),
            (Fate.CREATE, [], ["access_end_past"])]
        assert str(plan.rows[0].notes[0]) == (
            f"dernier jour d'accès déjà passé ({june.isoformat()}) : non repris ; pour "
            "arrêter l'accès, suspendez le compte")
        assert apply_import(school, read_account_file(past)) == (1, 1)
        db.session.expire_all()
        assert victor.first_name == "Victorin"
        assert last_local_day(victor.access_ends_at) == june + timedelta(days=1)
        vianney = db.session.scalar(select(Account).where(Account.external_id == "V-3"))
        assert vianney.access_ends_at is None


def test_a_last_day_in_the_year_9999_means_no_end(school):
    from datetime import date

    from directory.clock import end_of_local_day

    data = _with_end([["Blondel", "Victor", "Élève", "V-1", "30/06/2099"]])
    assert apply_import(school, read_account_file(data)) == (1, 0)
    victor = db.session.scalar(select(Account).where(Account.external_id == "V-1"))
    assert victor.access_ends_at == end_of_local_day(date(2099, 6, 30))
    no_end = _with_end([["Blondel", "Victor", "Élève", "V-1", "31/12/9999"]])
    assert [(row.fate, row.changes) for row in plan_import(school, no_end).rows] == [
        (Fate.UPDATE, ["access_end"])]
    assert apply_import(school, read_account_file(no_end)) == (0, 1)
    db.session.expire_all()
    assert victor.access_ends_at is None


@pytest.mark.parametrize("typed", ["31/02/2027", "demain", "30/06/27", "2027/06/30"])
def test_an_unreadable_last_day_is_a_row_error(school, typed):
    plan = plan_import(school, _with_end([["Blondel", "Victor", "Élève", "V-1", typed]]))
    assert _fates(plan) == [(2, "error", ["bad_date"])]
    assert str(plan.rows[0].errors[0]) == \
        f"date de fin d'accès illisible « {typed} » (attendu : jj/mm/aaaa)"
