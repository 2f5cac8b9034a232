"""Ad hoc groups after the webmail/groups review: a manager whose « Gestionnaire annuaire »
role was taken away manages nothing any more (the group, its rubrics), while administrators
keep managing it; « Ajouter la liste » and « Ajouter » keep to the group's school and to
MAX_MEMBERS, so that membership never lets pupils of two schools write to each other."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from directory import groups, rubrics
from directory.db import db
from directory.enums import Profile, Role
from directory.models import Account, AccountSchool, Group, RoleOverride, School
from directory.rights import writable
from tests.conftest import csrf_token, post_form

from .annuaire_helpers import group_id, html, messages
from .carnet_helpers import client_of
from .test_groupes import account_id, create, members_of


def set_role(app, login_name: str, role: Role, granted: bool | None) -> None:
    """An administrator's override of `role` for the account (None: back to the default)."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.login == login_name))
        db.session.execute(delete(RoleOverride).where(RoleOverride.account_id == account.id,
                                                      RoleOverride.role == role))
        if granted is not None:
            db.session.add(RoleOverride(account_id=account.id, role=role, granted=granted))
        db.session.commit()


def group_exists(app, gid: int) -> bool:
    with app.app_context():
        return db.session.get(Group, gid) is not None


def a_rubric_of(app, gid: int) -> int:
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        rubric = rubrics.create_rubric(claire, name="Comptes rendus", group_id=gid)
        db.session.commit()
        return rubric.id


def manages_rubric(app, login_name: str, rubric_id: int) -> tuple[bool, bool]:
    """(whether the account manages the rubric, whether it is among its managers' ids)."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.login == login_name))
        return (rubrics.managed_rubric(account, rubric_id) is not None,
                account.id in set(db.session.scalars(rubrics.managers(rubric_id))))


# Finding 1: the role must hold when the manager acts ---------------------------------------

def test_a_manager_who_lost_the_role_can_no_longer_delete_the_group(teacher, app):
    gid = create(teacher, app)
    token = csrf_token(teacher.get(f"/groupes/{gid}/supprimer").get_data(as_text=True))
    set_role(app, "claire.bernard", Role.DIRECTORY_MANAGER, False)
    response = teacher.post(f"/groupes/{gid}/supprimer", data={"csrf_token": token})
    assert response.status_code == 404
    assert group_exists(app, gid)
    assert teacher.get(f"/groupes/{gid}/modifier").status_code == 404


def test_a_manager_who_lost_the_role_sees_the_group_but_no_longer_manages_it(teacher, app):
    """Claire becomes an advanced directory user without the manager's role (as a profile
    changed to Personnel would be): she still finds the group, without its management
    links, and its rubric is no longer hers; the administrator still manages both."""
    gid = create(teacher, app)
    rubric_id = a_rubric_of(app, gid)
    zoe = account_id(app, "zoe.le-gall")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": zoe},
              page=f"/groupes/{gid}")
    assert members_of(app, gid) == {"claire.bernard": True, "zoe.le-gall": False}
    page = html(teacher.get(f"/groupes/{gid}"))
    assert page.all("a", href=f"/groupes/{gid}/modifier")
    assert manages_rubric(app, "claire.bernard", rubric_id) == (True, True)

    token = csrf_token(teacher.get(f"/groupes/{gid}/supprimer").get_data(as_text=True))
    set_role(app, "claire.bernard", Role.DIRECTORY_ADVANCED, True)
    set_role(app, "claire.bernard", Role.DIRECTORY_MANAGER, False)
    page = html(teacher.get(f"/groupes/{gid}"))
    assert page.one("h1").text == "Club lecture"
    assert not page.all("a", href=f"/groupes/{gid}/modifier")
    assert not page.all("a", href=f"/groupes/{gid}/supprimer")
    for url, data in ((f"/groupes/{gid}/membres/retirer", {"account": zoe}),
                      (f"/groupes/{gid}/modifier", {"name": "Repris", "school": 1}),
                      (f"/groupes/{gid}/supprimer", {})):
        assert teacher.post(url, data={"csrf_token": token, **data}).status_code == 404
    assert members_of(app, gid) == {"claire.bernard": True, "zoe.le-gall": False}
    assert manages_rubric(app, "claire.bernard", rubric_id) == (False, False)
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        assert gid not in [g.id for g in rubrics.creatable_spaces(claire)[1]]

    assert client_of(app, "admin").get(f"/groupes/{gid}/modifier").status_code == 200
    assert manages_rubric(app, "admin", rubric_id)[0]
    set_role(app, "claire.bernard", Role.DIRECTORY_MANAGER, None)
    assert teacher.get(f"/groupes/{gid}/modifier").status_code == 200
    assert manages_rubric(app, "claire.bernard", rubric_id) == (True, True)


# Finding 2: « Ajouter la liste » bounded, in size and to the group's school -----------------

def other_schools_pupil(app) -> tuple[int, str]:
    with app.app_context():
        pupil = db.session.scalar(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .join(School, School.id == AccountSchool.school_id)
            .where(School.uai == "0310002C", Account.profile == Profile.STUDENT,
                   Account.suspended.is_(False)).order_by(Account.id).limit(1))
        return pupil.id, pupil.full_name


def schools_of_members(app, gid: int) -> set[str]:
    from directory.models import GroupMember

    with app.app_context():
        return set(db.session.scalars(
            select(School.uai).join(AccountSchool, AccountSchool.school_id == School.id)
            .join(GroupMember, GroupMember.account_id == AccountSchool.account_id)
            .where(GroupMember.group_id == gid)))


def test_the_list_of_the_whole_region_adds_the_groups_school_only(teacher, app):
    """Claire's perimeter is the region: the pupils of every school answer her search."""
    gid = create(teacher, app)
    response = post_form(teacher, f"/groupes/{gid}/membres/ajouter-la-liste",
                         {"profil": "student"}, page=f"/groupes/{gid}", follow_redirects=True)
    assert any("personne(s) ajoutée(s) au groupe." in m for m in messages(html(response)))
    with app.app_context():
        pupils_here = db.session.scalar(
            select(func.count()).select_from(Account)
            .join(AccountSchool, AccountSchool.account_id == Account.id)
            .join(School, School.id == AccountSchool.school_id)
            .where(School.uai == "0310024H", Account.profile == Profile.STUDENT,
                   Account.suspended.is_(False)))
    assert len(members_of(app, gid)) == pupils_here + 1 > 20
    assert schools_of_members(app, gid) == {"0310024H"}


def test_someone_of_another_school_is_not_added_and_may_not_be_written_to(teacher, app):
    gid = create(teacher, app)
    post_form(teacher, f"/groupes/{gid}/membres/ajouter",
              {"account": account_id(app, "zoe.le-gall")}, page=f"/groupes/{gid}")
    pupil, name = other_schools_pupil(app)
    response = post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": pupil},
                         page=f"/groupes/{gid}", follow_redirects=True)
    assert f"{name} ne fait pas partie de Collège Jean Jaurès, l'établissement du groupe : " \
           "seules les personnes de cet établissement peuvent en être membres." in \
        messages(html(response))
    assert set(members_of(app, gid)) == {"claire.bernard", "zoe.le-gall"}
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        assert not writable(zoe, [pupil])[pupil].allowed

    response = post_form(client_of(app, "admin"), f"/groupes/{gid}/membres/ajouter",
                         {"account": pupil},
                         page=f"/groupes/{gid}", follow_redirects=True)
    assert f"{name} est ajouté(e) au groupe." in messages(html(response))


def test_co_managers_come_from_the_groups_school(teacher, app):
    with app.app_context():
        colleague = db.session.scalar(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .join(School, School.id == AccountSchool.school_id)
            .where(School.uai == "0310002C", Account.profile == Profile.TEACHER)
            .order_by(Account.id).limit(1))
        login_name, name = colleague.login, colleague.full_name
        before = db.session.scalar(select(func.count()).select_from(Group))
    response = post_form(teacher, "/groupes/nouveau", {
        "name": "Club échecs", "school": group_school(app), "co_managers": login_name})
    assert response.status_code == 400
    assert any(f"{name} ne fait pas partie de Collège Jean Jaurès" in m
               for m in messages(html(response)))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Group)) == before


def group_school(app) -> int:
    with app.app_context():
        return db.session.scalar(select(School.id).where(School.uai == "0310024H"))


def test_the_list_past_the_groups_size_is_refused_and_adds_nobody(teacher, app,
                                                                   monkeypatch):
    gid, four_a = create(teacher, app), group_id(app, "4A")
    monkeypatch.setattr(groups, "MAX_MEMBERS", 5)
    response = post_form(teacher, f"/groupes/{gid}/membres/ajouter-la-liste",
                         {"groupe": four_a, "profil": "student"}, page=f"/groupes/{gid}",
                         follow_redirects=True)
    assert "Le groupe « Club lecture » ne peut plus recevoir que 4 personnes (5 membres au " \
           "plus) : la liste en compte davantage. Précisez la recherche." in \
        messages(html(response))
    assert members_of(app, gid) == {"claire.bernard": True}

    monkeypatch.setattr(groups, "MAX_MEMBERS", 2)
    for login_name in ("zoe.le-gall", "lucas.martin"):
        response = post_form(teacher, f"/groupes/{gid}/membres/ajouter",
                             {"account": account_id(app, login_name)},
                             page=f"/groupes/{gid}", follow_redirects=True)
    assert "Le groupe « Club lecture » compte déjà 2 membres, le maximum d'un groupe." in \
        messages(html(response))
    assert set(members_of(app, gid)) == {"claire.bernard", "zoe.le-gall"}


def test_a_manager_who_lost_the_role_no_longer_writes_the_groups_agenda_nor_is_named(teacher,
                                                                                    app):
    """The agenda's writers and the group page's « Gestionnaires » follow the same rule as
    the group itself."""
    gid = create(teacher, app)
    assert teacher.get(f"/agenda/groupe/{gid}/nouveau").status_code == 200
    assert "Claire Bernard" in managers_shown(teacher, gid)
    set_role(app, "claire.bernard", Role.DIRECTORY_ADVANCED, True)     # she still finds it
    set_role(app, "claire.bernard", Role.DIRECTORY_MANAGER, False)
    assert teacher.get(f"/agenda/groupe/{gid}/nouveau").status_code == 403
    assert "Claire Bernard" not in managers_shown(teacher, gid)


def managers_shown(client, gid: int) -> str:
    """What the group page says after « Gestionnaires » ("" when it names nobody)."""
    terms = html(client.get(f"/groupes/{gid}")).all("dl")[0]
    said = [element.text for element in terms.children
            if isinstance(element, type(terms)) and element.tag in ("dt", "dd")]
    return said[said.index("Gestionnaires") + 1] if "Gestionnaires" in said else ""
