"""The search pages keep statements (portal/people_statements.py) and choice fields' HTML
(portal/choice_html.py) per process: a change of perimeter, of writing rule or of a school's
name shows on the very next search of the same person, in the same process."""
from __future__ import annotations

from sqlalchemy import insert, select

from directory.db import db
from directory.enums import Profile, Role
from directory.models import Account, AccountSchool, GroupMember, School
from directory.role_grants import grant_role, remove_role

from .annuaire_helpers import html, people_rows


def _zoe() -> Account:
    return db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))


def _schools_found(client, name: str) -> set[str]:
    response = client.get("/annuaire/", query_string={"nom": name, "par_page": 100})
    assert response.status_code == 200
    return {row.cells[2] for row in people_rows(html(response))}


def test_a_wider_perimeter_shows_at_the_next_search(app, student):
    with app.app_context():
        own = _zoe().schools[0].name
    before = _schools_found(student, "ma")
    assert before == {own}
    with app.app_context():
        grant_role(_zoe(), Role.DIRECTORY_ADVANCED)
        db.session.commit()
    wider = _schools_found(student, "ma")
    assert own in wider and len(wider) > 1
    with app.app_context():
        remove_role(_zoe(), Role.DIRECTORY_ADVANCED)
        db.session.commit()
    assert _schools_found(student, "ma") == {own}


def test_a_new_tie_brings_the_envelope_at_the_next_search(app, student):
    """Zoé may not write to a pupil of her school outside her groups; once both are in one of
    her groups, the next search shows the envelope (her rule's groups are part of the key)."""
    with app.app_context():
        zoe = _zoe()
        her_groups = select(GroupMember.group_id).where(GroupMember.account_id == zoe.id)
        stranger = db.session.scalars(
            select(Account).join(AccountSchool)
            .where(AccountSchool.school_id == zoe.schools[0].id,
                   Account.profile == Profile.STUDENT,
                   Account.id.not_in(select(GroupMember.account_id)
                                     .where(GroupMember.group_id.in_(her_groups))))
            .order_by(Account.id)).first()
        name, stranger_id = f"{stranger.last_name} {stranger.first_name}", stranger.id
        group = db.session.scalar(her_groups.limit(1))

    def envelope() -> str | None:
        response = student.get("/annuaire/", query_string={"nom": name, "par_page": 100})
        return {row.name: row for row in people_rows(html(response))}[name].envelope

    assert envelope() is None
    with app.app_context():
        db.session.execute(insert(GroupMember).values(group_id=group, account_id=stranger_id))
        db.session.commit()
    assert envelope() is not None


def test_a_renamed_school_shows_renamed_in_the_kept_choices(app, student):
    def offered() -> list[str]:
        page = html(student.get("/annuaire/", query_string={"nom": "ma"}))
        return [option.text for option in page.one("select", name="etablissement").all("option")]

    with app.app_context():
        school = _zoe().schools[0]
        old_name, school_id = school.name, school.id
    assert any(old_name in text for text in offered())
    with app.app_context():
        db.session.get(School, school_id).name = "Collège Renommé"
        db.session.commit()
    assert any("Collège Renommé" in text for text in offered())
    assert not any(old_name in text for text in offered())
    with app.app_context():
        db.session.get(School, school_id).name = old_name
        db.session.commit()


def test_a_chosen_profile_is_checked_in_the_kept_checkboxes(student):
    def checked() -> list[str]:
        page = html(student.get("/annuaire/", query_string={"nom": "ma", "profil": "teacher"}
                                if with_profile else {"nom": "ma"}))
        return [box.attrs["value"] for box in page.all("input", type="checkbox")
                if "checked" in box.attrs]

    with_profile = False
    assert checked() == []
    with_profile = True
    assert checked() == [Profile.TEACHER.value]
    with_profile = False
    assert checked() == []
