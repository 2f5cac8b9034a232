"""What a third review of the account import found (/tmp/review_import.md), each test failing
without its fix: a row without id merged into a same-name row's account that has one, kept
uploads never purged, loose e-mail addresses, names and group names folded to nothing, the
preview's logins swapped at application, one's own last day of access, a huge file parsed
whole before its row count is checked, a UTF-8 file with one Windows byte read as
Windows-1252, a class deleted during the application, a child reference that is two pupils,
folded names and logins longer than their columns."""
from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from directory import account_file, account_import
from directory.account_admin import keep_upload
from directory.account_file import FileRefused, read_account_file
from directory.account_import import apply_import, plan_import
from directory.accounts import school_by_uai
from directory.clock import utcnow
from directory.db import db
from directory.domain import mail_domain
from directory.enums import GroupKind, Profile
from directory.import_models import AccountImport
from directory.models import Account, Group, GroupMember
from directory.wording import Reason

from .account_files import excel_fr
from .test_account_import import _of_school
from .test_import_matching_fixes import (
    HEADER,
    _account,
    _by_id,
    _children,
    _csv,
    _fates,
    _school_admin,
    _without_external_id,
)


@pytest.fixture
def school(ctx):
    return school_by_uai("0310024H")


# 1. A row without id and a same-name row with one ---------------------------------------------

def test_a_row_without_id_does_not_take_the_account_of_a_same_name_row_with_one(school):
    """Two fathers « Martin Jean », no class: the one with id P-1 (an account already), the
    other without. The second was matched by name to P-1's account: applied, P-1's redirect
    address became the other's and P-1 the parent of the other's child."""
    (jean,) = _without_external_id(school, [["Martin", "Jean", "parent", "", "", "TMP-1", ""]])
    jean.external_id = "P-1"
    db.session.flush()
    data = _csv([["Martin", "Jean", "parent", "", "a@x.org", "P-1", "lucas.martin"],
                 ["Martin", "Jean", "parent", "", "b@y.org", "", "zoe.le-gall"]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "update", []), (3, "error", ["duplicate"])]
    assert plan.rows[1].errors[0].params == {"line": 2} and plan.rows[1].account_id is None
    assert apply_import(school, read_account_file(data)) == (0, 1)
    db.session.refresh(jean)
    assert jean.redirect_address == "a@x.org"
    assert _children(jean) == {_account("lucas.martin").id}


@pytest.mark.parametrize("size", [1, 500])
def test_the_preview_and_each_batch_refuse_the_row_without_id_alike(school, size):
    """No Jean Martin in the database: the preview said « création » for both rows, then the
    batch after the one creating P-1 found his account by name for the row without id."""
    data = _csv([["Martin", "Jean", "parent", "", "a@x.org", "P-1", "lucas.martin"],
                 ["Martin", "Jean", "parent", "", "b@y.org", "", "zoe.le-gall"]])
    assert _fates(plan_import(school, data)) == [(2, "create", []), (3, "error", ["duplicate"])]
    assert apply_import(school, read_account_file(data), size=size) == (1, 0)
    p1 = _by_id("P-1")
    assert p1.redirect_address == "a@x.org"
    assert _account("zoe.le-gall").id not in _children(p1)


# 2. Kept uploads purged by the worker ---------------------------------------------------------

def test_the_worker_deletes_an_upload_nobody_came_back_to(school):
    from mailgate import worker

    admin = _account("admin")
    kept = keep_upload(admin, school, "x.csv",
                       "Nom;Prénom;Profil;Mot de passe\r\nDupont;Jean;Élève;Secret-2026!\r\n"
                       .encode(), False)
    db.session.commit()
    kept_id = kept.id
    worker.drain(now=utcnow() + timedelta(hours=1))         # not yet two days old
    assert db.session.get(AccountImport, kept_id) is not None
    worker.drain(now=utcnow() + timedelta(days=3))
    db.session.expire_all()
    assert db.session.get(AccountImport, kept_id) is None


# 3. E-mail addresses as the forms check them --------------------------------------------------

def test_an_email_cell_that_is_not_one_address_is_a_row_error(school):
    domain = mail_domain()
    cells = ["pere@x.fr,mere@y.fr", "a:b@x.org", "<a@x.org>", "a@b@c.org",
             f"x@{domain},y@ext.org", "a@x.org", f"x@{domain}"]
    data = "\r\n".join(["Nom;Prénom;Profil;Courriel;Identifiant externe"] + [
        f"Courriel{n};Test;Enseignant;{cell};M-{n}" for n, cell in enumerate(cells)]).encode()
    assert _fates(plan_import(school, data)) == [
        (2, "error", ["bad_email"]), (3, "error", ["bad_email"]), (4, "error", ["bad_email"]),
        (5, "error", ["bad_email"]), (6, "error", ["bad_email"]), (7, "create", []),
        (8, "error", ["redirect_inside"])]       # Préau's own domain: redirects' rule still


# 4. Names and group names folded to nothing ---------------------------------------------------

def test_two_names_without_latin_letters_are_two_people(school):
    header = HEADER[:6]
    apply_import(school, read_account_file(_csv([["Смирнова", "Анна", "student", "4A", "",
                                                   ""]], header=header)))
    anna = db.session.scalar(select(Account).where(Account.first_name == "Анна"))
    ivan = _csv([["Петров", "Иван", "student", "4A", "", ""]], header=header)
    plan = plan_import(school, ivan)
    assert _fates(plan) == [(2, "create", [])] and plan.rows[0].account_id is None
    again = _csv([["Смирнова", "анна", "student", "4A", "", ""]], header=header)
    plan = plan_import(school, again)       # her own row: still her account, as written
    assert plan.rows[0].account_id == anna.id and plan.rows[0].changes == ["names"]
    both = _csv([["Петров", "Иван", "student", "4A", "", ""],
                 ["Сидоров", "Пётр", "student", "4A", "", ""]], header=header)
    assert _fates(plan_import(school, both)) == [(2, "create", []), (3, "create", [])]


def test_a_class_or_group_name_without_latin_letter_or_digit_is_a_row_error(school):
    header = (*HEADER[:6], "cohort1")
    data = _csv([["Wang", "Li", "student", "4A", "", "", "中文"],
                 ["Sato", "Yuki", "student", "4A", "", "", "日本語"],
                 ["Durand", "Léa", "student", "4A", "", "", "-"],
                 ["Petit", "Marc", "student", "中文", "", "", ""]], header=header)
    plan = plan_import(school, data, create_classes=True)
    assert _fates(plan) == [(line, "error", ["group_no_letter"]) for line in (2, 3, 4, 5)]
    assert [str(row.errors[0]) for row in plan.rows] == [
        "classe ou groupe « 中文 » sans lettre ni chiffre",
        "classe ou groupe « 日本語 » sans lettre ni chiffre",
        "classe ou groupe « - » sans lettre ni chiffre",
        "classe ou groupe « 中文 » sans lettre ni chiffre"]
    assert apply_import(school, read_account_file(data), create_classes=True) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(Group).where(
        Group.school_id == school.id, Group.search_name == "")) == 0


# 5. The preview's logins are the application's ------------------------------------------------

def test_a_parent_row_before_her_sons_gets_the_login_the_preview_gave(school):
    school.login_pattern = "{uai}.{f}.{last}"
    data = _csv([["Martinez", "Julie", "parent", "", "julie@x.org", "P-J", "E-J"],
                 ["Martinez", "Jules", "student", "4A", "", "E-J", ""]])
    plan = plan_import(school, data)
    preview = {row.row.external_id: row.login for row in plan.rows}
    assert sorted(preview.values()) == ["0310024h.j.martinez", "0310024h.j.martinez2"]
    apply_import(school, read_account_file(data))
    assert {key: _by_id(key).login for key in preview} == preview
    assert preview["E-J"] == "0310024h.j.martinez"      # the son, written first


# 7. One's own last day of access ---------------------------------------------------------------

def test_an_administrators_file_does_not_set_her_own_last_day(school):
    paul = _school_admin("paul.durand")
    end = (utcnow() + timedelta(days=730)).strftime("%d/%m/%Y")
    data = _csv([[paul.last_name, paul.first_name, "staff", "", "", "", "", end]],
                header=(*HEADER, "end date"))
    plan = plan_import(school, data, importer=paul)
    assert plan.rows[0].account_id == paul.id
    assert "access_end" not in plan.rows[0].changes
    assert [note.code for note in plan.rows[0].notes] == ["own_access_end_kept"]
    apply_import(school, read_account_file(data), importer=paul)
    db.session.refresh(paul)
    assert paul.access_ends_at is None
    # the operator's command line (no importer) still may
    assert "access_end" in plan_import(school, data).rows[0].changes


# 8. The row limit checked while reading --------------------------------------------------------

def test_a_file_past_the_row_limit_is_refused_before_it_is_read_whole(monkeypatch):
    read = []
    real = csv.reader

    class Counting:
        def __init__(self, *args, **kwargs):
            self.reader = real(*args, **kwargs)

        def __iter__(self):
            return self

        def __next__(self):
            read.append(1)
            return next(self.reader)

        @property
        def line_num(self):
            return self.reader.line_num

    monkeypatch.setattr(account_file, "MAX_ROWS", 10)
    monkeypatch.setattr(account_file.csv, "reader", Counting)
    with pytest.raises(FileRefused) as refused:
        read_account_file(b"Nom;Pr\xc3\xa9nom;Profil\n" + b"a\n" * 200_000)
    assert refused.value.why == Reason("too_many_rows", {"limit": 10})
    assert len(read) <= 12          # the header, ten rows, the one too many
    read.clear()
    assert len(read_account_file(b"Nom;Prenom;Profil\n" + b"a;b;c\n" * 10).rows) == 10


# 9. UTF-8 with one Windows-1252 byte ----------------------------------------------------------

def test_a_utf8_file_with_one_windows_byte_is_refused_not_mangled(school):
    zoe = _account("zoe.le-gall")
    data = ("Nom;Prénom;Profil;Classe\r\nLe Gall;Zoé;Élève;4A\r\n".encode()
            + "Dupont;Hélène;Élève;4A\r\n".encode("cp1252"))
    with pytest.raises(FileRefused) as refused:
        plan_import(school, data)
    assert refused.value.why == Reason("mixed_encoding", {"line": 3})
    assert str(refused.value.why).startswith("Ce fichier mélange deux encodages")
    windows_first = ("Nom;Prénom;Profil;Classe\r\n".encode("cp1252")
                     + "Le Gall;Zoé;Élève;4A\r\n".encode())
    with pytest.raises(FileRefused):
        read_account_file(windows_first)
    # a Windows file, accents and all, is still read as one
    file = read_account_file(excel_fr([["Le Gall", "Zoé", "Élève", "4A", "", ""],
                                       ["Noël", "Hélène", "Élève", "4A", "", ""]]))
    assert file.encoding == "cp1252" and file.rows[0].first_name == zoe.first_name


# Lower: a class deleted during the application ----------------------------------------------

def test_a_class_deleted_between_plan_and_write_leaves_the_row_out(school, monkeypatch):
    db.session.add(Group(kind=GroupKind.CLASS, name="9Q", search_name="9q", description="",
                         school_id=school.id, persistent=False, created_at=utcnow()))
    db.session.flush()
    data = _csv([["Classe", "Autre", "student", "9Q", "", "E-9Q2", ""]])
    real, deleted = account_import.hashes_of, []

    def deleting_the_class(*args, **kwargs):
        if not deleted:         # an administrator deletes 9Q while the batch hashes
            nine_q = db.session.scalar(select(Group.id).where(
                Group.school_id == school.id, Group.name == "9Q"))
            db.session.execute(delete(Group).where(Group.id == nine_q))
            db.session.commit()
            deleted.append(nine_q)
        return real(*args, **kwargs)

    monkeypatch.setattr(account_import, "hashes_of", deleting_the_class)
    assert apply_import(school, read_account_file(data)) == (0, 0)
    assert deleted and _by_id("E-9Q2") is None
    assert _fates(plan_import(school, data)) == [(2, "error", ["unknown_class"])]


# Lower: a child reference that is two pupils -------------------------------------------------

def test_a_child_named_by_one_pupils_login_and_anothers_id_is_a_row_error(school):
    zoe = _account("zoe.le-gall")
    other = next(p for n in range(5) if (p := _of_school("0310024H", Profile.STUDENT, n))
                 .id != zoe.id)
    other.external_id = "zoe.le-gall"
    db.session.flush()
    data = _csv([["Parent", "Ambigu", "parent", "", "", "P-AMB", "zoe.le-gall"]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["child_ambiguous"])]
    assert apply_import(school, read_account_file(data)) == (0, 0)
    assert _by_id("P-AMB") is None


# Lower: folded names and logins longer than their columns --------------------------------------

def test_names_whose_folded_form_is_too_long_are_row_errors(school):
    """60 « ß » fold to 120 letters (Account.search_first holds 100): on PostgreSQL the
    batch failed with a DataError, a 500 at every try, instead of a row error."""
    school.login_pattern = "{uai}.{f}.{last}"       # short logins: only the names are long
    data = _csv([["Strauss", "ß" * 60, "student", "4A", "", "L-1", ""],
                 ["Bé", "Œ" * 30 + "ß" * 40, "student", "4A", "", "L-2", ""],
                 ["ß" * 100, "Œ" * 100, "student", "4A", "", "L-3", ""],
                 ["Court", "Nom", "student", "4A", "", "L-4", ""]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["too_long_folded"]), (3, "error", ["too_long_folded"]),
                            (4, "error", ["too_long_folded", "too_long_folded"]),
                            (5, "create", [])]
    assert [[e.params["column"] for e in row.errors] for row in plan.rows[:3]] == \
        [["prénom"], ["prénom"], ["prénom", "nom"]]
    assert apply_import(school, read_account_file(data)) == (1, 0)


def test_a_login_longer_than_its_column_is_a_row_error(school):
    school.login_pattern = "{uai}.{first}.{last}"
    data = _csv([["b" * 70, "a" * 60, "student", "4A", "", "L-3", ""],
                 ["Court", "Nom", "student", "4A", "", "L-4", ""]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["too_long"]), (3, "create", [])]
    assert plan.rows[0].errors[0].params == {"column": "nom", "limit": 50}
    assert plan.rows[1].login == "0310024h.nom.court"
    assert apply_import(school, read_account_file(data)) == (1, 0)


# 10. A class whose name holds a comma ---------------------------------------------------------

def test_a_class_with_a_comma_in_its_name_is_read_back_from_the_export(school):
    """The export writes « 1re, spé NSI » as it is (and a teacher's classes joined by « , »):
    read back, the cell was « 1re » and « spé NSI », an unknown class, or two new ones."""
    nsi = Group(kind=GroupKind.CLASS, name="1re, spé NSI", search_name="1re spe nsi",
                description="", school_id=school.id, persistent=False, created_at=utcnow())
    db.session.add(nsi)
    db.session.flush()
    zoe = _account("zoe.le-gall")
    db.session.execute(delete(GroupMember).where(
        GroupMember.account_id == zoe.id,
        GroupMember.group_id.in_(select(Group.id).where(Group.school_id == school.id,
                                                        Group.kind == GroupKind.CLASS))))
    db.session.add(GroupMember(group_id=nsi.id, account_id=zoe.id, is_manager=False))
    db.session.flush()
    data = excel_fr([[zoe.last_name, zoe.first_name, "Élève", "1re, spé NSI", "", ""],
                     ["Profnsi", "Ada", "Enseignant", "4A, 1re, spé NSI", "", ""]])
    for create_classes in (False, True):
        plan = plan_import(school, data, create_classes=create_classes)
        assert _fates(plan) == [(2, "unchanged", []), (3, "create", [])]
        assert plan.rows[1].row.classes == ["4A", "1re, spé NSI"] and plan.rows[1].notes == []
    assert apply_import(school, read_account_file(data)) == (1, 0)
    ada = db.session.scalar(select(Account).where(Account.last_name == "Profnsi"))
    assert db.session.get(GroupMember, (nsi.id, ada.id)) is not None
    assert _fates(plan_import(school, data)) == [(2, "unchanged", []), (3, "unchanged", [])]

