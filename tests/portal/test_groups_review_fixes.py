"""Groups and directory pages after review R3: an ad hoc group keeps its members to its school
when it changes school; the last manager who can still manage it stays; the « Membres »
counts are those « Voir la liste » shows; links mailed to others never take the Host header
a client wrote; and, on PostgreSQL, a role granted twice at once, two « Ajouter la liste »
at once and an addition while the group is deleted give no 500 and never pass MAX_MEMBERS."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from directory import groups
from directory.db import db
from directory.enums import GroupKind, Profile, Role
from directory.models import Account, AccountSchool, Group, GroupMember, RoleOverride
from directory.rights import writable
from tests.conftest import csrf_token, fresh_database, live_demo_app, post_form

from .annuaire_helpers import group_id, group_rows, html, messages, school_id, status_text
from .carnet_helpers import client_of
from .rubriques_helpers import route_everything
from .test_agenda_notices import forwarded
from .test_agenda_pages import FORM, event_id_of, new_event
from .test_carnet_races import at_once, browser_twice
from .test_group_review_fixes import other_schools_pupil, set_role
from .test_groupes import account_id, create, members_of


def _suspend(app, login_name: str) -> None:
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == login_name)
                           .values(suspended=True))
        db.session.commit()


def _school_of(app, gid: int) -> int:
    with app.app_context():
        return db.session.get(Group, gid).school_id


# 1. A group changes school only with members of that school --------------------------------

def test_a_group_with_members_of_its_school_cannot_move_to_another(teacher, app):
    here, other = school_id(app, "0310024H"), school_id(app, "0310002C")
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        db.session.add(AccountSchool(account_id=claire.id, school_id=other))
        db.session.commit()
    gid = create(teacher, app, name="Club")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter",
              {"account": account_id(app, "zoe.le-gall")}, page=f"/groupes/{gid}")
    assert members_of(app, gid) == {"claire.bernard": True, "zoe.le-gall": False}

    response = post_form(teacher, f"/groupes/{gid}/modifier",
                         {"name": "Club", "description": "", "school": other})
    assert response.status_code == 400
    assert ("Des membres du groupe ne font pas partie de Collège Hubert : "
            "retirez-les avant de changer l'établissement du groupe.") in \
        " ".join(messages(html(response))), messages(html(response))
    assert _school_of(app, gid) == here

    pupil, name = other_schools_pupil(app)
    added = post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": pupil},
                      page=f"/groupes/{gid}", follow_redirects=True)
    assert any(f"{name} ne fait pas partie de" in m for m in messages(html(added)))
    assert members_of(app, gid) == {"claire.bernard": True, "zoe.le-gall": False}
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        assert not writable(zoe, [pupil])[pupil].allowed

    # Without Zoé (Claire belongs to both schools) the group moves.
    post_form(teacher, f"/groupes/{gid}/membres/retirer",
              {"account": account_id(app, "zoe.le-gall")}, page=f"/groupes/{gid}")
    moved = post_form(teacher, f"/groupes/{gid}/modifier",
                      {"name": "Club", "description": "", "school": other})
    assert moved.status_code == 302 and _school_of(app, gid) == other


def test_an_administrator_moves_a_group_as_he_adds_anyone(teacher, app):
    """An administrator may add anyone to any group: he may move it with its members too."""
    gid = create(teacher, app, name="Club")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter",
              {"account": account_id(app, "zoe.le-gall")}, page=f"/groupes/{gid}")
    other = school_id(app, "0310002C")
    moved = post_form(client_of(app, "admin"), f"/groupes/{gid}/modifier",
                      {"name": "Club", "description": "", "school": other})
    assert moved.status_code == 302 and _school_of(app, gid) == other


# 3. The last manager who can still manage the group stays ----------------------------------

def _group_with_a_second_manager(teacher, app) -> tuple[int, int, str]:
    gid = create(teacher, app)
    with app.app_context():
        colleague = db.session.scalars(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == school_id(app, "0310024H"),
                   Account.profile == Profile.TEACHER, Account.login != "claire.bernard",
                   Account.suspended.is_(False)).order_by(Account.id)).first()
        colleague_id, colleague_login = colleague.id, colleague.login
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": colleague_id},
              page=f"/groupes/{gid}")
    post_form(teacher, f"/groupes/{gid}/gestionnaires",
              {"account": colleague_id, "manager": "oui"}, page=f"/groupes/{gid}")
    assert members_of(app, gid) == {"claire.bernard": True, colleague_login: True}
    return gid, colleague_id, colleague_login


def _claire_steps_down(teacher, app, gid: int) -> list[str]:
    response = post_form(teacher, f"/groupes/{gid}/gestionnaires",
                         {"account": account_id(app, "claire.bernard"), "manager": "non"},
                         page=f"/groupes/{gid}", follow_redirects=True)
    return messages(html(response))


def test_the_last_manager_cannot_step_down_beside_a_suspended_one(teacher, app):
    gid, _, colleague = _group_with_a_second_manager(teacher, app)
    _suspend(app, colleague)
    assert "Le groupe doit garder au moins un gestionnaire." in \
        _claire_steps_down(teacher, app, gid)
    assert members_of(app, gid) == {"claire.bernard": True, colleague: True}


def test_the_last_manager_cannot_step_down_beside_one_without_the_role(teacher, app):
    gid, _, colleague = _group_with_a_second_manager(teacher, app)
    set_role(app, colleague, Role.DIRECTORY_MANAGER, False)
    assert "Le groupe doit garder au moins un gestionnaire." in \
        _claire_steps_down(teacher, app, gid)
    assert members_of(app, gid) == {"claire.bernard": True, colleague: True}
    set_role(app, colleague, Role.DIRECTORY_MANAGER, None)      # he manages again
    assert "Les gestionnaires du groupe sont mis à jour." in \
        _claire_steps_down(teacher, app, gid)
    assert members_of(app, gid) == {"claire.bernard": False, colleague: True}


# 5. « Membres » counts what « Voir la liste » shows -----------------------------------------

def test_the_members_column_counts_what_the_list_shows(student, app):
    four_a = group_id(app, "4A")
    with app.app_context():
        pupil = db.session.scalar(
            select(Account.login).join(GroupMember, GroupMember.account_id == Account.id)
            .where(GroupMember.group_id == four_a, Account.login != "zoe.le-gall",
                   Account.suspended.is_(False)).order_by(Account.id).limit(1))
    _suspend(app, pupil)
    rows = group_rows(html(student.get("/groupes/", query_string={"nom": "4A"})))
    (cell,) = [row[3] for row in rows if row[0] == "4A"]
    shown = status_text(html(student.get(f"/groupes/{four_a}")))
    assert shown == f"{cell} résultats"


def test_the_delete_page_counts_every_member_it_removes(teacher, app):
    gid = create(teacher, app)
    for login_name in ("zoe.le-gall", "lucas.martin"):
        post_form(teacher, f"/groupes/{gid}/membres/ajouter",
                  {"account": account_id(app, login_name)}, page=f"/groupes/{gid}")
    _suspend(app, "lucas.martin")
    assert status_text(html(teacher.get(f"/groupes/{gid}"))) == "2 résultats"
    # the list shows what its reader may see; deleting removes every place, Lucas's included
    assert "la liste de ses 3 membres" in html(teacher.get(f"/groupes/{gid}/supprimer")).text


# 4. Links mailed to others never take a forged Host header ---------------------------------

def test_a_notice_posted_with_a_forged_host_mails_no_link_to_it(teacher, app, caplog):
    from portal import public_links

    assert not app.config["PREAU"].get("PUBLIC_URL")
    public_links._say_without_address.cache_clear()     # said once per host and process
    gid = group_id(app, "4A")
    url = f"/agenda/groupe/{gid}/nouveau"
    token = csrf_token(teacher.get(url).get_data(as_text=True))
    teacher.set_cookie("session", teacher.get_cookie("session").value, domain="evil.example")
    response = teacher.post(url, headers={"Host": "evil.example"}, data={
        **FORM, "csrf_token": token, "agenda": gid, "title": "Sortie (hôte forgé)",
        "notify": "y", "ask_confirmation": "y", "publish": "x"})
    event_id = event_id_of(response)
    route_everything(app)
    message = forwarded(app, "joseph@example.org", "Sortie (hôte forgé)")
    assert "evil.example" not in message.as_string()
    text = message.get_body(("plain",)).get_content()
    assert re.search(r"Ou répondez en un clic : (\S+)", text)[1].startswith("/agenda/")
    assert f"/agenda/evenement/{event_id}" in text
    assert caplog.text.count("PREAU_PUBLIC_URL is not set") == 1   # not once per link


def test_this_machines_own_host_still_gets_whole_links(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie (localhost)", notify="y",
                                     ask_confirmation="y"))
    route_everything(app)
    text = forwarded(app, "joseph@example.org", "Sortie (localhost)").get_body(
        ("plain",)).get_content()
    assert f"http://localhost/agenda/evenement/{event_id}" in text


# PostgreSQL races -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    return fresh_database(tmp_path_factory, "groupsreview")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "groupsreview", users=100)


@pytest.mark.postgres_only
@pytest.mark.parametrize(("action", "role", "granted"), [
    ("accorder", Role.DIRECTORY_ADVANCED, True), ("retirer", Role.INTERNAL_MAIL, False)])
def test_a_role_changed_twice_at_once_leaves_one_override(live_app, action, role, granted):
    first, second = browser_twice(live_app, "admin")
    with live_app.app_context():
        lucas = db.session.scalar(select(Account).where(Account.login == "lucas.martin"))
        lucas_id = lucas.id
        assert lucas.profile == Profile.STUDENT     # INTERNAL_MAIL by default, not ADVANCED

    def change(client):
        return lambda: post_form(client, f"/administration/comptes/{lucas_id}/roles",
                                 {"role": role.value, "action": action},
                                 page="/administration/?compte=lucas.martin")

    try:
        # the second waits for the first one's lock on the account: it never writes
        answers = at_once(live_app, "role_override", change(first), change(second), wait=1.0)
        assert [a.status_code for a in answers] == [303, 303]
        with live_app.app_context():
            assert list(db.session.execute(
                select(RoleOverride.role, RoleOverride.granted)
                .where(RoleOverride.account_id == lucas_id)).all()) == [(role, granted)]
    finally:
        with live_app.app_context():
            db.session.query(RoleOverride).filter_by(account_id=lucas_id).delete()
            db.session.commit()


@pytest.fixture
def club(live_app):
    """An ad hoc group of Claire's, in her school, deleted afterwards if still there."""
    with live_app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        group = groups.create_group(claire, name="Club de la revue", description="",
                                    school_id=claire.schools[0].id, persistent=False)
        db.session.commit()
        group_id_, school = group.id, group.school_id
    yield group_id_, school
    with live_app.app_context():
        group = db.session.get(Group, group_id_)
        if group is not None:
            groups.delete_group(group)
            db.session.commit()


def _two_classes(app, school: int) -> list[tuple[int, int]]:
    """(id, pupils) of two classes of `school` with pupils."""
    with app.app_context():
        rows = db.session.execute(
            select(Group.id, func.count()).join(GroupMember, GroupMember.group_id == Group.id)
            .join(Account, Account.id == GroupMember.account_id)
            .where(Group.school_id == school, Group.kind == GroupKind.CLASS,
                   Account.profile == Profile.STUDENT, Account.suspended.is_(False))
            .group_by(Group.id).order_by(Group.id)).all()
    assert len(rows) >= 2
    return [tuple(row) for row in rows[:2]]


@pytest.mark.postgres_only
def test_two_lists_added_at_once_never_pass_the_cap(live_app, club, monkeypatch):
    gid, school = club
    (class_a, pupils_a), (class_b, pupils_b) = _two_classes(live_app, school)
    cap = 1 + max(pupils_a, pupils_b)       # Claire and either class, never both
    monkeypatch.setattr(groups, "MAX_MEMBERS", cap)
    first, second = browser_twice(live_app, "claire.bernard")

    def add_list(client, class_id):
        return lambda: post_form(client, f"/groupes/{gid}/membres/ajouter-la-liste",
                                 {"groupe": class_id, "profil": "student"},
                                 page=f"/groupes/{gid}")

    answers = at_once(live_app, "group_member", add_list(first, class_a),
                      add_list(second, class_b), wait=1.0)
    assert [a.status_code for a in answers] == [303, 303]
    with live_app.app_context():
        count = db.session.scalar(select(func.count()).where(GroupMember.group_id == gid))
    assert count <= cap
    assert "personne(s) ajoutée(s) au groupe." in \
        " ".join(messages(html(first.get(f"/groupes/{gid}"))))
    said = " ".join(messages(html(second.get(f"/groupes/{gid}"))))
    assert re.search(r"compte déjà \d+ membres, le maximum|ne peut plus recevoir que", said), said


@pytest.mark.postgres_only
@pytest.mark.parametrize("how", ["one", "list"])
def test_adding_while_the_group_is_deleted_is_no_error(live_app, club, how):
    gid, school = club
    first, second = browser_twice(live_app, "claire.bernard")
    ((class_a, _),) = _two_classes(live_app, school)[:1]
    with live_app.app_context():
        lucas = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))
    page = first.get(f"/groupes/{gid}").get_data(as_text=True)
    token = csrf_token(page)
    url, data = ((f"/groupes/{gid}/membres/ajouter", {"account": lucas}) if how == "one" else
                 (f"/groupes/{gid}/membres/ajouter-la-liste",
                  {"groupe": class_a, "profil": "student"}))
    # the deletion holds its DELETE of the group's row uncommitted while the addition runs
    added, deleted = at_once(
        live_app, "group", lambda: first.post(url, data={"csrf_token": token, **data}),
        lambda: post_form(second, f"/groupes/{gid}/supprimer", {}),
        statement="DELETE FROM", second_first=True)
    assert (deleted.status_code, added.status_code) == (303, 303)
    with live_app.app_context():
        assert db.session.get(Group, gid) is None
        assert not db.session.scalar(select(func.count()).where(GroupMember.group_id == gid))
    assert "Ce groupe n'existe plus." in " ".join(messages(html(first.get("/groupes/"))))
