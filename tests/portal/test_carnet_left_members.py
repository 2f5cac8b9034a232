"""A member of a contact group whom the owner can no longer find in the directory (gone to a
school outside the owner's, suspended) stays in the group, shown by name only: neither the
group's page nor its vCard export tells their new school or class (the export leaves them
out). The owner is Zoé, a pupil, who finds the people of her own school only."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from directory.accounts import create_account, school_by_uai
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember
from tests.conftest import DEMO_PASSWORD

from .carnet_helpers import add_person, create_group, page, table_rows

ZOES_SCHOOL, OTHER_SCHOOL = "0310024H", "0310002C"


@pytest.fixture
def new_pupil(app):
    """A pupil of Zoé's school and of its class 4A, with a name nobody else has."""
    with app.app_context():
        pupil = create_account(login="anouk.verdier", first_name="Anouk", last_name="Verdier",
                               profile=Profile.STUDENT, password=DEMO_PASSWORD,
                               schools=[school_by_uai(ZOES_SCHOOL)])
        db.session.flush()
        db.session.add(GroupMember(group_id=_class_of(ZOES_SCHOOL, "4A"),
                                   account_id=pupil.id))
        db.session.commit()
        return pupil.address


def _class_of(uai: str, name: str | None = None) -> int:
    query = select(Group.id).where(Group.kind == GroupKind.CLASS,
                                   Group.school_id == school_by_uai(uai).id)
    if name is not None:
        query = query.where(Group.name == name)
    return db.session.scalar(query.order_by(Group.name).limit(1))


def _move_to_the_other_school(app, address: str) -> tuple[str, str]:
    """The pupil leaves Zoé's school for a class of another; returns (school, class)."""
    with app.app_context():
        pupil = db.session.scalar(select(Account.id).where(Account.address == address))
        other = school_by_uai(OTHER_SCHOOL)
        db.session.execute(delete(GroupMember).where(GroupMember.account_id == pupil))
        db.session.execute(delete(AccountSchool).where(AccountSchool.account_id == pupil))
        new_class = _class_of(OTHER_SCHOOL)
        db.session.add_all([AccountSchool(account_id=pupil, school_id=other.id),
                            GroupMember(group_id=new_class, account_id=pupil)])
        db.session.commit()
        return other.name, db.session.get(Group, new_class).name


def _members(owner, group_id: int) -> dict[str, list[str]]:
    return {row[0]: row[1:-2] for row in table_rows(page(owner.get(f"/carnet/{group_id}")),
                                                    "people")}


def test_a_member_gone_to_another_school_is_shown_by_name_only(app, student, new_pupil):
    group_id = create_group(student, "Suivi")
    add_person(app, student, group_id, new_pupil)
    add_person(app, student, group_id, "lucas.martin")
    with app.app_context():
        school = school_by_uai(ZOES_SCHOOL).name
    assert _members(student, group_id) == {
        "Martin Lucas": ["Élève", school, "4A"],
        "Verdier Anouk": ["Élève", school, "4A"]}

    new_school, new_class = _move_to_the_other_school(app, new_pupil)
    doc = page(student.get(f"/carnet/{group_id}"))
    assert _members(student, group_id) == {
        "Martin Lucas": ["Élève", school, "4A"],
        "Verdier Anouk": ["Ne fait plus partie de votre annuaire."]}
    assert new_school not in doc.text and new_class not in doc.find("table", class_="people").text
    row = next(r for r in doc.find("tbody").find_all("tr") if "Verdier" in r.text)
    assert row.find("button").text.startswith("Retirer"), "the owner may still remove her"


def test_a_suspended_member_is_shown_by_name_only(app, student, new_pupil):
    group_id = create_group(student, "Suivi")
    add_person(app, student, group_id, new_pupil)
    with app.app_context():
        db.session.execute(update(Account).where(Account.address == new_pupil)
                           .values(suspended=True))
        db.session.commit()
    assert _members(student, group_id) == {
        "Verdier Anouk": ["Ne fait plus partie de votre annuaire."]}


def test_the_export_leaves_out_a_member_gone_elsewhere(app, student, new_pupil):
    """Her card would give her address, which tells whether the account still exists."""
    group_id = create_group(student, "Suivi")
    add_person(app, student, group_id, new_pupil)
    add_person(app, student, group_id, "lucas.martin")
    with app.app_context():
        school = school_by_uai(ZOES_SCHOOL).name
    new_school, _ = _move_to_the_other_school(app, new_pupil)
    cards = student.get(f"/carnet/{group_id}/groupe.vcf?version=4.0").get_data(as_text=True)
    assert cards.count("END:VCARD") == 1
    assert "FN:Lucas Martin" in cards and f"ORG:{school}" in cards
    assert "Anouk" not in cards and new_pupil not in cards and new_school not in cards
