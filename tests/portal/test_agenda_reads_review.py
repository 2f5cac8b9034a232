"""Review Q, F2 and F7: "Mon agenda" and the home page read the viewer's own agendas by their
ids (ix_agenda_event_agenda_range), an administrator's being her own spaces, not the region;
and "Mes rubriques" writes only when a default rubric is missing."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from agenda import access, events
from directory.clock import travel_to
from directory.db import db, write_transaction
from directory.enums import GroupKind
from directory.models import Account, Group, School
from directory.rubric_models import Rubric
from tests.query_count import counting, queries_of

from .rubriques_helpers import client_of

NOW = datetime(2026, 3, 1, 6)
PAGES = ["/", "/agenda/?mois=2026-03", "/agenda/semaine?jour=2026-03-02"]
WRITES = ("INSERT", "UPDATE", "DELETE")


def _account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def _other_school_class() -> Group:
    """A class of a school that is not the administrator's (nor Claire's)."""
    admin = _account("admin")
    own = [school.id for school in admin.schools]
    return db.session.scalar(select(Group).join(School).where(
        Group.kind == GroupKind.CLASS, School.id.notin_(own)).order_by(Group.id).limit(1))


def _other_agenda(account: Account):
    return access.agenda_of_group(account, _other_school_class().id)


def _school_rubric_agenda(admin: Account):
    rubric = db.session.scalar(select(Rubric).where(
        Rubric.default_of == f"school:{admin.schools[0].id}"))
    return access.agenda_of_rubric(admin, rubric.id)


def _add_events(app, agenda_of, prefix: str, first: int, count: int) -> list[int]:
    with app.app_context():
        admin = _account("admin")
        agenda = agenda_of(admin)
        ids = []
        for n in range(first, first + count):
            day = NOW + timedelta(days=1 + n % 20, hours=n // 20)
            ids.append(write_transaction(lambda day=day, n=n: events.save(
                admin, agenda, events.EventInput(title=f"{prefix} {n}", starts=day,
                                                 ends=day + timedelta(minutes=45))))[0].id)
        return ids


def test_admin_and_member_pages_cost_the_same_and_show_no_other_school(app):
    admin, member = client_of(app, "admin"), client_of(app, "claire.bernard")
    with travel_to(NOW):
        own = _add_events(app, _school_rubric_agenda, "Réunion du collège", 0, 1)
        foreign = _add_events(app, _other_agenda, "Ailleurs", 0, 2)

        def measure() -> dict:
            return {(who, url): queries_of(app, client, url)
                    for who, client in (("admin", admin), ("member", member))
                    for url in PAGES}

        small = measure()
        foreign += _add_events(app, _other_agenda, "Ailleurs", 2, 25)
        large = measure()
        assert large == small, {key: (small[key], large[key]) for key in small
                                if small[key] != large[key]}
        for client in (admin, member):
            for url in PAGES:
                assert "Ailleurs" not in client.get(url).get_data(as_text=True), url
        # the administrator's own school still fills her month and her home page
        assert "Réunion du collège 0" in admin.get("/").get_data(as_text=True)
        assert "Réunion du collège 0" in admin.get(PAGES[1]).get_data(as_text=True)
        # and she still opens any event of the region (may_read), the member does not
        assert admin.get(f"/agenda/evenement/{foreign[0]}").status_code == 200
        assert admin.get(f"/agenda/evenement/{own[0]}").status_code == 200
        assert member.get(f"/agenda/evenement/{foreign[0]}").status_code == 404


def _writes_of(app, client, url: str) -> list[str]:
    """Writing statements and commits of one GET of `url`."""
    commits: list[str] = []

    def committed(_session):
        commits.append("COMMIT")

    event.listen(Session, "after_commit", committed)
    try:
        with counting(app) as statements:
            assert client.get(url).status_code == 200
    finally:
        event.remove(Session, "after_commit", committed)
    return [s for s in statements if s.lstrip().upper().startswith(WRITES)] + commits


def test_rubric_list_writes_nothing_once_the_defaults_exist(app):
    claire = client_of(app, "claire.bernard")
    claire.get("/rubriques/")
    assert _writes_of(app, claire, "/rubriques/") == []


def test_rubric_list_still_makes_a_missing_default_rubric(app):
    claire = client_of(app, "claire.bernard")
    claire.get("/rubriques/")
    with app.app_context():
        school_id = _account("claire.bernard").schools[0].id
        group = Group(kind=GroupKind.CLASS, name="3Z", search_name="3z", school_id=school_id)
        db.session.add(group)
        db.session.commit()
        key = f"group:{group.id}"
    assert _writes_of(app, claire, "/rubriques/")   # the first view after the new class
    with app.app_context():
        assert db.session.scalar(select(Rubric).where(Rubric.default_of == key)) is not None
    assert _writes_of(app, claire, "/rubriques/") == []
