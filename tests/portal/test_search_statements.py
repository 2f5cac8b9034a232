"""The search pages keep statements (portal/people_statements.py) and choice fields' HTML
(portal/choice_html.py) per process: a change of perimeter, of writing rule or of a school's
name shows on the very next search of the same person, in the same process."""
from __future__ import annotations

from sqlalchemy import delete, insert, select

from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account, AccountSchool, Group, GroupMember, School
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
    her groups, the next search shows the envelope (her groups' members are read at each run)."""
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


def test_her_groups_are_the_statements_values_at_the_next_search(app, student):
    """Zoé's rule keeps its shape when one of her groups is swapped for another (two groups
    before, two after): the page's statement is the same, and her new group's values reach it
    (a pupil of the new group gets the envelope, one of the old group no longer)."""
    with app.app_context():
        zoe = _zoe()
        her_groups = list(db.session.scalars(
            select(GroupMember.group_id).where(GroupMember.account_id == zoe.id)))
        others = list(db.session.scalars(
            select(Group.id).where(Group.school_id == zoe.schools[0].id,
                                   Group.kind == GroupKind.AD_HOC, Group.id.not_in(her_groups))
            .order_by(Group.id)))
        first, second = others[0], others[1]

        def lone_pupil(group_id: int) -> tuple[str, int]:
            """A pupil of the group in none of Zoé's present groups nor of the other one."""
            pupil = db.session.scalars(
                select(Account).join(GroupMember, GroupMember.account_id == Account.id)
                .where(GroupMember.group_id == group_id, Account.profile == Profile.STUDENT,
                       Account.id.not_in(select(GroupMember.account_id).where(
                           GroupMember.group_id.in_([*her_groups, first, second]),
                           GroupMember.group_id != group_id)))
                .order_by(Account.id)).first()
            return f"{pupil.last_name} {pupil.first_name}", pupil.id

        in_first, in_second = lone_pupil(first), lone_pupil(second)
        db.session.execute(insert(GroupMember).values(group_id=first, account_id=zoe.id))
        db.session.commit()

    def envelope(name: str) -> str | None:
        response = student.get("/annuaire/", query_string={"nom": name, "par_page": 100})
        return {row.name: row for row in people_rows(html(response))}[name].envelope

    for _ in range(3):      # past the first run: on PostgreSQL, the driver's cursor
        assert envelope(in_first[0]) is not None and envelope(in_second[0]) is None
    with app.app_context():
        db.session.execute(delete(GroupMember).where(GroupMember.group_id == first,
                                                     GroupMember.account_id == _zoe().id))
        db.session.execute(insert(GroupMember).values(group_id=second, account_id=_zoe().id))
        db.session.commit()
    for _ in range(3):
        assert envelope(in_second[0]) is not None and envelope(in_first[0]) is None
