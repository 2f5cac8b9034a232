"""Group pages through HTTP: group search, "Voir la liste", CSV export, and the life cycle of
an ad hoc group — with forged requests by people who do not manage it."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select, update

from directory.db import db
from directory.models import Account, Group, GroupMember
from tests.conftest import csrf_token, login, post_form

from .annuaire_helpers import group_id, group_rows, html, messages, people_rows, school_id


@pytest.fixture
def browser_of(app):
    """`browser_of("paul.durand")`: a test client of its own, logged in."""
    def _as(login_name: str):
        client = app.test_client()
        assert login(client, login_name).status_code == 302
        return client

    return _as


def members_of(app, gid: int) -> dict[str, bool]:
    with app.app_context():
        return dict(db.session.execute(
            select(Account.login, GroupMember.is_manager).join(GroupMember)
            .where(GroupMember.group_id == gid)).all())


def account_id(app, login_name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.login == login_name))


def group_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Group))


def create(client, app, name="Club lecture", **extra) -> int:
    data = {"name": name, "description": "Le mardi midi", "school": school_id(app, "0310024H"),
            "persistent": "y", **extra}
    response = post_form(client, "/groupes/nouveau", data)
    assert response.status_code == 302, messages(html(response))
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


# Group search and "Voir la liste" ----------------------------------------------------------

def test_student_searches_the_groups_of_her_school(student, app):
    rows = group_rows(html(student.get("/groupes/", query_string={"type": "ENTClasse"})))
    assert ["4A", "Classe", "Collège Jean Jaurès (0310024H)"] == rows[[r[0] for r in rows]
                                                                       .index("4A")][:3]
    assert all(row[1] == "Classe" and "0310024H" in row[2] for row in rows)
    found = group_rows(html(student.get("/groupes/", query_string={"nom": "theatre"})))
    assert [row[:2] for row in found] == [["Théâtre", "Groupe"]]
    assert int(found[0][3]) >= 1


def test_staff_searches_every_school_and_filters_by_school(staff, app):
    other = school_id(app, "0310002C")
    rows = group_rows(html(staff.get("/groupes/", query_string={
        "type": "Ad-hoc", "etablissement": other})))
    assert rows and all(row[1] == "Groupe libre" and "0310002C" in row[2] for row in rows)


def test_voir_la_liste_is_paginated(student, app):
    four_a = group_id(app, "4A")
    first = html(student.get(f"/groupes/{four_a}"))
    rows = people_rows(first)
    assert len(rows) == 20
    assert "Bernard Claire" in [r.name for r in rows] and rows[0].cells[3] == "4A"
    second = people_rows(html(student.get(first.one("a", rel="next").attrs["href"])))
    assert second and not {r.name for r in rows} & {r.name for r in second}
    everyone = people_rows(html(student.get(f"/groupes/{four_a}?par_page=100")))
    assert len(everyone) == len(rows) + len(second)


@pytest.mark.parametrize(("query", "status"), [
    ("page=-1", 400), (f"page={10**9}", 400), ("page=99", 404), ("par_page=100000", 400)])
def test_voir_la_liste_bad_pages(student, app, query, status):
    response = student.get(f"/groupes/{group_id(app, '4A')}?{query}")
    assert response.status_code == status
    assert messages(html(response))


def test_groups_out_of_sight_answer_404(student, app):
    other_class = group_id(app, "4A", uai="0310002C")
    for url in (f"/groupes/{other_class}", f"/groupes/{other_class}/membres.csv",
                "/groupes/987654", f"/groupes/{2**40}", "/groupes/987654/membres.csv"):
        assert student.get(url).status_code == 404, url


def test_csv_export_opens_in_excel(teacher, app):
    response = teacher.get(f"/groupes/{group_id(app, '4A')}/membres.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="groupe-4a-0310024h.csv"'
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "@example." not in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Nom", "Prénom", "Profil", "Adresse universelle", "Classes"]
    assert ["Le Gall", "Zoé", "Élève", "zoe.le-gall@ent.test", "4A"] in rows
    assert ["Bernard", "Claire", "Enseignant", "claire.bernard@ent.test", "4A, 6A"] in rows
    assert len(rows) - 1 == len(members_of(app, group_id(app, "4A")))


def test_csv_cells_never_start_a_formula(teacher, app):
    gid = create(teacher, app)
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        zoe.last_name = "=HYPERLINK(\"http://x\")"
        db.session.add(GroupMember(group_id=gid, account_id=zoe.id))
        db.session.commit()
    text = teacher.get(f"/groupes/{gid}/membres.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert ["'=HYPERLINK(\"http://x\")", "Zoé", "Élève", "zoe.le-gall@ent.test", "4A"] in rows


# Ad hoc life cycle -------------------------------------------------------------------------

def test_teacher_creates_a_group_and_is_its_manager(teacher, app):
    gid = create(teacher, app)
    page = html(teacher.get(f"/groupes/{gid}"))
    assert "Le groupe « Club lecture » est créé." in messages(page)
    assert page.one("h1").text == "Club lecture"
    assert "Groupe libre (pérenne)" in page.text
    assert [row.name for row in people_rows(page)] == ["Bernard Claire gestionnaire"]
    assert members_of(app, gid) == {"claire.bernard": True}


def test_a_suspended_manager_is_not_named_to_the_groups_members(teacher, app):
    """The member table leaves out whom the reader may not find; the managers' line named
    them all."""
    gid = create(teacher, app)
    post_form(teacher, f"/groupes/{gid}/membres/ajouter",
              {"account": account_id(app, "zoe.le-gall")}, page=f"/annuaire/?pour_groupe={gid}")
    assert "zoe.le-gall" in members_of(app, gid)
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")

    def managers() -> str:
        page = html(zoe.get(f"/groupes/{gid}"))
        return " ".join(dd.text for dd in page.all("dd"))

    assert "Claire Bernard" in managers()
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "claire.bernard")
                           .values(suspended=True))
        db.session.commit()
    assert "Claire Bernard" not in managers() and "Club lecture" in html(
        zoe.get(f"/groupes/{gid}")).one("h1").text


@pytest.mark.parametrize(("data", "message"), [
    ({"name": ""}, "Donnez un nom au groupe."),
    ({"name": "x" * 121}, "Le nom du groupe dépasse 120 caractères."),
    ({"name": "%%"}, "au moins une lettre ou un chiffre"),
    ({"name": "Latin", "co_managers": "personne.inconnue"}, "Aucun compte ne correspond à"),
    ({"name": "Latin", "co_managers": "paul.durand"}, "Paul Durand n'a pas le rôle"),
    ({"name": "Latin", "school": "999999"}, "choix valide"),
])
def test_creation_errors_change_nothing(teacher, app, data, message):
    before = group_count(app)
    response = post_form(teacher, "/groupes/nouveau", {
        "description": "", "school": school_id(app, "0310024H"), **data})
    assert response.status_code == 400
    assert any(message in text for text in messages(html(response))), messages(html(response))
    assert group_count(app) == before


def test_duplicate_name_is_refused(teacher, app):
    create(teacher, app)
    before = group_count(app)
    response = post_form(teacher, "/groupes/nouveau", {
        "name": "Club lecture", "school": school_id(app, "0310024H")})
    assert response.status_code == 400
    assert "Un groupe « Club lecture » existe déjà dans cet établissement." in \
        messages(html(response))
    assert group_count(app) == before
    post_form(teacher, "/langue/en", {"next": "/"}, page="/")
    response = post_form(teacher, "/groupes/nouveau", {
        "name": "Club lecture", "school": school_id(app, "0310024H")})
    assert "A group “Club lecture” already exists in this school." in messages(html(response))


def test_add_the_list_of_a_search_then_one_then_remove(teacher, app):
    gid, four_a = create(teacher, app), group_id(app, "4A")
    search = f"/annuaire/?pour_groupe={gid}&groupe={four_a}&profil=student"
    page = html(teacher.get(search))
    button = page.one("form", class_="add-list").one("button").text
    students = len(people_rows(html(teacher.get(search + "&par_page=100"))))
    assert button == f"Ajouter la liste ({students} personnes)"
    form = page.one("form", class_="add-list")
    data = {field.attrs["name"]: field.attrs["value"] for field in form.all("input")}
    response = teacher.post(form.attrs["action"], data=data)
    assert response.status_code == 303
    shown = html(teacher.get(response.headers["Location"]))
    assert f"{students} personne(s) ajoutée(s) au groupe." in messages(shown)
    members = members_of(app, gid)
    assert len(members) == students + 1 and members["zoe.le-gall"] is False

    paul = account_id(app, "paul.durand")
    response = post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": paul},
                         page=search, follow_redirects=True)
    assert "Paul Durand est ajouté(e) au groupe." in messages(html(response))
    response = post_form(teacher, f"/groupes/{gid}/membres/retirer", {"account": paul},
                         page=f"/groupes/{gid}", follow_redirects=True)
    assert "Paul Durand est retiré(e) du groupe." in messages(html(response))
    assert "paul.durand" not in members_of(app, gid)


def test_add_the_list_without_criterion_is_refused(teacher, app):
    gid = create(teacher, app)
    response = post_form(teacher, f"/groupes/{gid}/membres/ajouter-la-liste", {},
                         page=f"/groupes/{gid}", follow_redirects=True)
    assert "Précisez au moins un critère de recherche avant d'ajouter la liste." in \
        messages(html(response))
    assert members_of(app, gid) == {"claire.bernard": True}


def test_manager_stays_member_and_can_hand_over(teacher, app):
    gid = create(teacher, app)
    claire = account_id(app, "claire.bernard")
    response = post_form(teacher, f"/groupes/{gid}/membres/retirer", {"account": claire},
                         page=f"/groupes/{gid}", follow_redirects=True)
    assert "Claire Bernard est gestionnaire du groupe : retirez-lui d'abord la gestion." in \
        messages(html(response))
    response = post_form(teacher, f"/groupes/{gid}/gestionnaires",
                         {"account": claire, "manager": "non"}, page=f"/groupes/{gid}",
                         follow_redirects=True)
    assert "Le groupe doit garder au moins un gestionnaire." in messages(html(response))
    assert members_of(app, gid) == {"claire.bernard": True}

    with app.app_context():
        colleague = db.session.scalars(select(Account).where(
            Account.profile == "teacher", Account.login != "claire.bernard")).first()
        colleague_id, colleague_login = colleague.id, colleague.login
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": colleague_id},
              page=f"/groupes/{gid}")
    post_form(teacher, f"/groupes/{gid}/gestionnaires", {"account": colleague_id,
                                                         "manager": "oui"},
              page=f"/groupes/{gid}")
    post_form(teacher, f"/groupes/{gid}/gestionnaires", {"account": claire, "manager": "non"},
              page=f"/groupes/{gid}")
    assert members_of(app, gid) == {"claire.bernard": False, colleague_login: True}
    assert teacher.get(f"/groupes/{gid}/modifier").status_code == 404


def give_a_rubric_and_an_event(app, gid: int) -> None:
    """A rubric with two articles, and an event in the group's agenda."""
    from datetime import datetime

    from agenda.models import Agenda, Event, EventStatus
    from directory.rubric_models import Rubric
    from portal.rubriques.models import Article, ArticleStatus

    with app.app_context():
        group = db.session.get(Group, gid)
        rubric = Rubric(school_id=group.school_id, group_id=gid, name="Lectures")
        agenda = Agenda(group_id=gid)
        db.session.add_all([rubric, agenda])
        db.session.flush()
        db.session.add_all([Article(rubric_id=rubric.id, title=f"Article {n}",
                                    status=ArticleStatus.PUBLISHED) for n in (1, 2)])
        when = datetime(2026, 3, 12, 9)
        db.session.add(Event(agenda_id=agenda.id, uid=f"club-{gid}@test", title="Réunion",
                             starts_at=when, ends_at=when, last_ends_at=when,
                             status=EventStatus.PUBLISHED))
        db.session.commit()


def test_deleting_a_group_names_its_rubrics_articles_and_events_first(teacher, app):
    """They go with it (the database's foreign keys cascade): the page says so before."""
    from portal.rubriques.models import Article

    gid = create(teacher, app)
    give_a_rubric_and_an_event(app, gid)
    said = html(teacher.get(f"/groupes/{gid}/supprimer")).one("ul", class_="consequences").text
    assert "1 rubrique, avec 2 articles, leurs fichiers et leurs commentaires" in said
    assert "1 évènement de son agenda" in said
    assert "communication" not in said
    post_form(teacher, f"/groupes/{gid}/supprimer", {})
    with app.app_context():
        assert db.session.scalar(select(Article).where(Article.title == "Article 1")) is None


def test_a_group_with_rubrics_or_events_keeps_its_school(teacher, app):
    """Its rubrics' readers, its events' rooms are its school's: moving only the group left
    them behind (a rubric then offered the old school's parents as readers)."""
    from directory.models import AccountSchool

    other = school_id(app, "0310002C")
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        db.session.add(AccountSchool(account_id=claire.id, school_id=other))
        db.session.commit()
    gid = create(teacher, app)
    give_a_rubric_and_an_event(app, gid)
    response = post_form(teacher, f"/groupes/{gid}/modifier", {
        "name": "Club lecture", "description": "", "school": other})
    assert response.status_code == 400
    assert "il ne peut pas en changer" in html(response).text
    with app.app_context():
        assert db.session.get(Group, gid).school_id == school_id(app, "0310024H")
    bare = create(teacher, app, name="Club sans rubrique")
    moved = post_form(teacher, f"/groupes/{bare}/modifier", {
        "name": "Club sans rubrique", "description": "", "school": other})
    assert moved.status_code == 302


def test_edit_then_delete_after_confirmation(teacher, app):
    gid = create(teacher, app)
    form = html(teacher.get(f"/groupes/{gid}/modifier"))
    assert form.one("input", id="name").attrs["value"] == "Club lecture"
    response = post_form(teacher, f"/groupes/{gid}/modifier", {
        "name": "Club BD", "description": "Le jeudi", "school": school_id(app, "0310024H")})
    assert response.status_code == 302
    page = html(teacher.get(f"/groupes/{gid}"))
    assert page.one("h1").text == "Club BD" and "(pérenne)" not in page.text

    confirm = html(teacher.get(f"/groupes/{gid}/supprimer"))
    assert "Supprimer le groupe « Club BD » ?" in confirm.one("h1").text
    assert "son 1 membre" in confirm.text
    assert group_id(app, "Club BD") == gid
    response = post_form(teacher, f"/groupes/{gid}/supprimer", {}, follow_redirects=True)
    assert "Le groupe « Club BD » est supprimé." in messages(html(response))
    assert group_id(app, "Club BD") is None and members_of(app, gid) == {}


def test_admin_manages_any_ad_hoc_group(teacher, app, browser_of):
    gid = create(teacher, app)
    admin = browser_of("admin")
    response = post_form(admin, f"/groupes/{gid}/modifier", {
        "name": "Renommé par l'admin", "school": school_id(app, "0310024H")})
    assert response.status_code == 302
    assert group_id(app, "Renommé par l'admin") == gid


# Forged requests ---------------------------------------------------------------------------

def forged(client, url: str, data: dict):
    """A POST with a valid CSRF token of the forger's own session, as a crafted form would."""
    token = csrf_token(client.get("/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


@pytest.mark.parametrize("forger", ["zoe.le-gall", "paul.durand", "joseph.fabre",
                                    "lucas.martin"])
def test_forged_posts_by_non_managers_change_nothing(teacher, app, browser_of, forger):
    gid = create(teacher, app)
    zoe = account_id(app, "zoe.le-gall")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": zoe},
              page=f"/groupes/{gid}")
    before = members_of(app, gid)
    client = browser_of(forger)
    claire = account_id(app, "claire.bernard")
    me = account_id(app, forger)
    attempts = [
        (f"/groupes/{gid}/membres/ajouter", {"account": me}),
        (f"/groupes/{gid}/membres/ajouter-la-liste", {"profil": "student"}),
        (f"/groupes/{gid}/membres/retirer", {"account": zoe}),
        (f"/groupes/{gid}/gestionnaires", {"account": me, "manager": "oui"}),
        (f"/groupes/{gid}/gestionnaires", {"account": claire, "manager": "non"}),
        (f"/groupes/{gid}/membres/fin", {"account": zoe, "fin": "2099-06-30"}),
        (f"/groupes/{gid}/modifier", {"name": "Piraté", "school": school_id(app, "0310024H")}),
        (f"/groupes/{gid}/supprimer", {}),
    ]
    for url, data in attempts:
        assert forged(client, url, data).status_code == 404, url
        assert client.get(url).status_code in (404, 405), url
    assert members_of(app, gid) == before
    assert group_id(app, "Club lecture") == gid


def ends_of(app, gid: int) -> dict[str, object]:
    with app.app_context():
        return dict(db.session.execute(
            select(Account.login, GroupMember.access_ends_at).join(GroupMember)
            .where(GroupMember.group_id == gid)).all())


def end_input(page, login_name_id: int):
    """The « Jusqu'au » field of one member's row."""
    (form,) = [f for f in page.all("form", class_="member-end")
               if f.one("input", name="account").attrs["value"] == str(login_name_id)]
    return form.one("input", name="fin")


def test_a_member_gets_a_last_day_and_leaves_the_group_the_day_after(teacher, app):
    from datetime import date, timedelta

    from directory.accounts import end_ended_access
    from directory.clock import end_of_local_day, travel_to, utcnow

    gid = create(teacher, app)
    zoe, claire = account_id(app, "zoe.le-gall"), account_id(app, "claire.bernard")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": zoe},
              page=f"/groupes/{gid}")
    last = date(utcnow().year + 1, 1, 31)
    response = post_form(teacher, f"/groupes/{gid}/membres/fin",
                         {"account": zoe, "fin": last.isoformat()}, page=f"/groupes/{gid}",
                         follow_redirects=True)
    page = html(response)
    assert f"Zoé Le Gall quittera le groupe après le {last:%d/%m/%Y}." in messages(page)
    assert end_input(page, zoe).attrs["value"] == last.isoformat()
    assert ends_of(app, gid)["zoe.le-gall"] == end_of_local_day(last)
    assert page.all("form", class_="member-end") and not [
        f for f in page.all("form", class_="member-end")
        if f.one("input", name="account").attrs["value"] == str(claire)]  # a manager has none

    with travel_to(end_of_local_day(last) - timedelta(minutes=1)), app.app_context():
        assert end_ended_access() == 0
    with travel_to(end_of_local_day(last) + timedelta(minutes=1)), app.app_context():
        assert end_ended_access() == 1
    assert members_of(app, gid) == {"claire.bernard": True}


def test_a_members_end_is_removed_refused_when_past_and_never_a_managers(teacher, app):
    from datetime import timedelta

    from directory.clock import utcnow

    gid = create(teacher, app)
    zoe, claire = account_id(app, "zoe.le-gall"), account_id(app, "claire.bernard")
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": zoe},
              page=f"/groupes/{gid}")
    yesterday = (utcnow() - timedelta(days=2)).date().isoformat()
    past = post_form(teacher, f"/groupes/{gid}/membres/fin", {"account": zoe, "fin": yesterday},
                     page=f"/groupes/{gid}", follow_redirects=True)
    assert "Cette date est déjà passée : pour que Zoé Le Gall quitte le groupe maintenant, " \
        "retirez-le du groupe." in messages(html(past))
    unreadable = post_form(teacher, f"/groupes/{gid}/membres/fin",
                           {"account": zoe, "fin": "31/02"}, page=f"/groupes/{gid}",
                           follow_redirects=True)
    assert "Date illisible : choisissez un jour (jj/mm/aaaa)." in messages(html(unreadable))
    manager = post_form(teacher, f"/groupes/{gid}/membres/fin",
                        {"account": claire, "fin": "2099-06-30"}, page=f"/groupes/{gid}",
                        follow_redirects=True)
    assert "Claire Bernard gère le groupe : retirez-lui d'abord la gestion pour limiter sa " \
        "participation dans le temps." in messages(html(manager))
    assert set(ends_of(app, gid).values()) == {None}

    post_form(teacher, f"/groupes/{gid}/membres/fin", {"account": zoe, "fin": "2099-06-30"},
              page=f"/groupes/{gid}")
    assert ends_of(app, gid)["zoe.le-gall"] is not None
    cleared = post_form(teacher, f"/groupes/{gid}/membres/fin", {"account": zoe, "fin": ""},
                        page=f"/groupes/{gid}", follow_redirects=True)
    assert "La participation de Zoé Le Gall au groupe n'a plus de fin." in \
        messages(html(cleared))
    assert ends_of(app, gid)["zoe.le-gall"] is None
    # Named manager, a member keeps no end.
    with app.app_context():
        colleague, login_name = db.session.execute(select(Account.id, Account.login).where(
            Account.profile == "teacher", Account.login != "claire.bernard")).first()
    post_form(teacher, f"/groupes/{gid}/membres/ajouter", {"account": colleague},
              page=f"/groupes/{gid}")
    post_form(teacher, f"/groupes/{gid}/membres/fin", {"account": colleague,
                                                       "fin": "2099-06-30"},
              page=f"/groupes/{gid}")
    assert ends_of(app, gid)[login_name] is not None
    post_form(teacher, f"/groupes/{gid}/gestionnaires", {"account": colleague,
                                                         "manager": "oui"},
              page=f"/groupes/{gid}")
    assert members_of(app, gid)[login_name] is True
    assert ends_of(app, gid)[login_name] is None


def test_unknown_or_institutional_groups_cannot_be_changed(admin, app):
    four_a = group_id(app, "4A")
    before = members_of(app, four_a)
    for gid in (four_a, 987654, 2**40):
        for suffix, data in (("membres/ajouter", {"account": 1}), ("supprimer", {}),
                             ("modifier", {"name": "X"})):
            assert forged(admin, f"/groupes/{gid}/{suffix}", data).status_code == 404
    assert members_of(app, four_a) == before


def test_only_directory_managers_create_groups(student, app):
    assert student.get("/groupes/nouveau").status_code == 403
    before = group_count(app)
    assert forged(student, "/groupes/nouveau", {
        "name": "Pirate", "school": school_id(app, "0310024H")}).status_code == 403
    assert group_count(app) == before
    assert "Créer un groupe" not in student.get("/groupes/").get_data(as_text=True)


@pytest.mark.parametrize("data", [{"account": "abc"}, {"account": str(2**40)}, {},
                                  {"account": "-3"}])
def test_bad_member_ids_are_refused(teacher, app, data):
    gid = create(teacher, app)
    for action in ("ajouter", "retirer"):
        assert forged(teacher, f"/groupes/{gid}/membres/{action}", data).status_code == 400
    assert members_of(app, gid) == {"claire.bernard": True}


def test_missing_csrf_token_is_refused(teacher, app):
    gid = create(teacher, app)
    response = teacher.post(f"/groupes/{gid}/supprimer", data={})
    assert response.status_code == 400
    assert group_id(app, "Club lecture") == gid


def test_group_search_by_uai_code(staff):
    rows = group_rows(html(staff.get("/groupes/", query_string={"uai": "0310002C",
                                                                  "type": "ENTClasse"})))
    assert rows and all("0310002C" in row[2] for row in rows)


@pytest.mark.parametrize("login_name, shown", [
    ("claire.bernard", True), ("admin", True), ("zoe.le-gall", False),
    ("joseph.fabre", False), ("paul.durand", False)])
def test_groupes_is_in_the_bar_for_those_who_manage_groups(browser_of, login_name, shown):
    client = browser_of(login_name)
    nav = html(client.get("/")).one("nav")
    links = {a.text: a.attrs.get("href") for a in nav.all("a")}
    assert ("Groupes" in links) is shown
    if shown:
        groups_page = html(client.get(links["Groupes"]))
        create = [a for a in groups_page.all("a") if a.text == "Créer un groupe"]
        assert create and create[0].attrs["href"] == "/groupes/nouveau"
