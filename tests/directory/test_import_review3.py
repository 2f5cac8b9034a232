"""What a review of the third import fixes found (/tmp/review_session.md), each test failing
without its fix: a teacher's « CM1, CM2 » read as a class « CM1-CM2 », a class cell of many
commas costing the cube of their number, a parent row kept beside a pupil row refused for its
login, an upload being applied deleted under its administrator, and two row reasons that did
not say what was wrong."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from directory import account_file
from directory.account_admin import keep_upload
from directory.account_file import read_account_file
from directory.account_import import apply_import, plan_import
from directory.accounts import school_by_uai
from directory.clock import utcnow
from directory.db import db
from directory.enums import GroupKind
from directory.import_models import AccountImport
from directory.import_plan import file_facts
from directory.models import Group, GroupMember

from .account_files import excel_fr
from .test_import_matching_fixes import _account, _by_id, _csv, _fates

FR = ("Nom", "Prénom", "Profil", "Classe", "Courriel", "Identifiant externe", "Parent de")


@pytest.fixture
def school(ctx):
    return school_by_uai("0310024H")


def _class(school, name: str) -> Group:
    group = Group(kind=GroupKind.CLASS, name=name,
                  search_name=account_file.header_key(name), description="",
                  school_id=school.id, persistent=False, created_at=utcnow())
    db.session.add(group)
    db.session.flush()
    return group


# 1. « CM1, CM2 » beside a class « CM1-CM2 » ----------------------------------------------------

@pytest.mark.parametrize("with_comma_class", [False, True])
def test_a_teachers_two_classes_stay_two_beside_a_double_level_class(school, with_comma_class):
    """The export writes a teacher of CM1 and CM2 « CM1, CM2 »: read back, the commas were
    thrown away and the cell was the class « CM1-CM2 », the teacher taken out of both."""
    cm1, cm2, _ = _class(school, "CM1"), _class(school, "CM2"), _class(school, "CM1-CM2")
    if with_comma_class:        # the school has a class whose name holds a comma too
        _class(school, "1re, spé NSI")
    data = excel_fr([["Dupont", "Anne", "Enseignant", "CM1, CM2", "", "T-CM", ""]], header=FR)
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "create", [])]
    assert plan.rows[0].row.classes == ["CM1", "CM2"]
    assert sorted(plan.rows[0].class_ids) == sorted([cm1.id, cm2.id])
    assert apply_import(school, read_account_file(data)) == (1, 0)
    assert set(db.session.scalars(select(GroupMember.group_id).where(
        GroupMember.account_id == _by_id("T-CM").id))) == {cm1.id, cm2.id}


def test_a_class_with_commas_is_still_read_as_that_class(school):
    nsi = _class(school, "1re, spé NSI")
    data = excel_fr([["Dupont", "Anne", "Enseignant", "4A, 1re,spé  nsi", "", "T-NSI", ""]],
                    header=FR)
    plan = plan_import(school, data)
    assert plan.rows[0].row.classes == ["4A", "1re,spé  nsi"]
    assert nsi.id in plan.rows[0].class_ids and _fates(plan) == [(2, "create", [])]


# 2. A class cell of many commas ---------------------------------------------------------------

@pytest.mark.parametrize("with_comma_class", [False, True])
def test_a_class_cell_of_many_commas_costs_what_the_cell_is_long(school, monkeypatch,
                                                                 with_comma_class):
    """Each run of parts was joined and folded (`header_key`), with no class holding a comma
    too: about n³/6 characters for n commas. 3,000 commas held a web worker for minutes."""
    if with_comma_class:
        _class(school, "1re, spé NSI")
    commas = 300
    file = read_account_file(b"Nom;Prenom;Profil;Classe\nA;B;Eleve;"
                             + b"," * commas + b"4A\n")
    real, calls = account_file.header_key, []

    def counting(name):
        calls.append(len(name))
        return real(name)

    monkeypatch.setattr(account_file, "header_key", counting)
    file_facts(file)
    plan_import(school, file)
    assert len(calls) < 10 * (commas + 1)


# 5. A parent row naming a pupil row refused for its login -------------------------------------

def test_a_parent_naming_a_pupil_whose_login_is_too_long_is_refused_too(school):
    """The pupil's login was found too long after it was counted as created: the parent row
    said « création » and was created tied to nobody."""
    school.login_pattern = "{uai}.{first}.{last}"
    data = _csv([["b" * 70, "a" * 60, "student", "4A", "", "E-L", ""],
                 ["Parent", "Long", "parent", "", "parent.long@x.org", "P-L", "E-L"]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["too_long"]), (3, "error", ["child_not_found"])]
    assert apply_import(school, read_account_file(data)) == (0, 0)
    assert _by_id("P-L") is None and _by_id("E-L") is None


def test_logins_given_in_two_steps_are_those_one_step_gave(school):
    """The rows naming children get their logins after the others': still each its own."""
    school.login_pattern = "{uai}.{f}.{last}"
    data = _csv([["Martinez", "Julie", "parent", "", "julie@x.org", "P-J", "E-J"],
                 ["Martinez", "Jules", "student", "4A", "", "E-J", ""],
                 ["Martinez", "Jean", "teacher", "4A", "", "T-J", ""]])
    plan = plan_import(school, data)
    assert {row.row.external_id: row.login for row in plan.rows} == {
        "E-J": "0310024h.j.martinez", "T-J": "0310024h.j.martinez2",
        "P-J": "0310024h.j.martinez3"}
    apply_import(school, read_account_file(data))
    assert [_by_id(key).login for key in ("E-J", "T-J", "P-J")] == \
        ["0310024h.j.martinez", "0310024h.j.martinez2", "0310024h.j.martinez3"]


# 7. An upload being applied -------------------------------------------------------------------

def test_the_purge_keeps_an_upload_being_applied_for_a_week(school):
    from mailgate import worker

    admin = _account("admin")
    content = "Nom;Prénom;Profil;Mot de passe\r\nDupont;Jean;Élève;Secret-2026!\r\n".encode()
    started, waiting, applied = (keep_upload(admin, school, "x.csv", content, False)
                                 for _ in range(3))
    started.rows_done = 200                         # one batch of several applied
    applied.rows_done, applied.finished_at, applied.content = 1, utcnow(), b""
    db.session.commit()
    ids = started.id, waiting.id, applied.id
    worker._purge(utcnow() + timedelta(days=2, minutes=1))
    db.session.expire_all()
    assert [db.session.get(AccountImport, i) is not None for i in ids] == [True, False, False]
    worker._purge(utcnow() + timedelta(days=7, minutes=1))
    db.session.expire_all()
    assert db.session.get(AccountImport, ids[0]) is None


# 10. Row reasons that say what is wrong -------------------------------------------------------

def test_a_name_too_long_only_once_folded_says_so(school):
    """« ß » * 60 is 60 characters: « la colonne « prénom » dépasse 100 caractères » was
    false. A first name too long as written no longer makes the last name too long too."""
    school.login_pattern = "{uai}.{f}.{last}"
    data = _csv([["Strauss", "ß" * 60, "student", "4A", "", "L-1", ""],
                 ["b" * 60, "a" * 150, "student", "4A", "", "L-2", ""],
                 ["ß" * 99, "Jean", "student", "4A", "", "L-3", ""]])
    plan = plan_import(school, data)
    assert _fates(plan) == [(2, "error", ["too_long_folded"]), (3, "error", ["too_long"]),
                            (4, "error", ["too_long_folded"])]
    assert str(plan.rows[0].errors[0]) == (
        "la colonne « prénom » dépasse 100 caractères une fois les lettres comme « ß » ou "
        "« œ » écrites en deux (« ss », « oe »)")
    assert [row.errors[0].params["column"] for row in plan.rows] == \
        ["prénom", "prénom", "nom"]


def test_a_class_without_letter_names_it_in_the_rows_words(school):
    data = excel_fr([["Petit", "Marc", "Élève", "4A, ¤", "", ""]])
    plan = plan_import(school, data, create_classes=True)
    assert [str(reason) for reason in plan.rows[0].errors] == \
        ["classe ou groupe « ¤ » sans lettre ni chiffre"]
