"""The Annuaire page through HTTP: what each person finds, what each row shows, the envelope
only where writing is allowed, pagination, and bad input answered clearly."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.db import db
from directory.enums import Profile
from directory.models import Account, AccountSchool, GroupMember, MailCorrespondent, ParentLink
from directory.rights import writable
from directory.search import AccountFilters, search_query
from portal.directory_pages import people_page
from portal.i18n import said
from tests.conftest import login

from .annuaire_helpers import group_id, html, messages, people_rows, school_id, status_text


@pytest.fixture
def second_client(app):
    """Another browser: `second_client("paul.durand")` is logged in beside the first one."""
    def _as(login_name: str):
        client = app.test_client()
        assert login(client, login_name).status_code == 302
        return client

    return _as


def find(client, **params):
    response = client.get("/annuaire/", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return people_rows(html(response))


def test_student_finds_a_classmate_with_every_column(app, student):
    rows = find(student, nom="martin")
    lucas = next(row for row in rows if row.name == "Martin Lucas")
    assert lucas.cells == ["Martin Lucas", "Élève", "Collège Jean Jaurès", "4A", ""]
    with app.app_context():
        lucas_id = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))
    assert lucas.envelope == f"/messagerie/ecrire?destinataire={lucas_id}"


def test_name_search_ignores_accents_case_and_punctuation(student):
    for typed in ("zoe", "ZOÉ", "Zoe"):
        assert "Le Gall Zoé" in [row.name for row in find(student, nom=typed)], typed
    for typed in ("le gall", "Le-Gall", "le_gall", "LE GALL"):
        assert "Le Gall Zoé" in [row.name for row in find(student, nom=typed)], typed
    for typed in ("le gall z", "Le-Gall Zo", "le_gall_zoé"):
        assert [row.name for row in find(student, nom=typed)] == ["Le Gall Zoé"], typed


def test_envelope_only_where_writing_is_allowed(app, student):
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        zoe_groups = select(GroupMember.group_id).where(GroupMember.account_id == zoe.id)
        stranger = db.session.scalars(
            select(Account).join(AccountSchool)
            .where(AccountSchool.school_id == zoe.schools[0].id,
                   Account.profile == Profile.STUDENT,
                   Account.id.not_in(select(GroupMember.account_id)
                                     .where(GroupMember.group_id.in_(zoe_groups))))
            .order_by(Account.id)).first()
        name = f"{stranger.last_name} {stranger.first_name}"
    rows = {row.name: row for row in find(student, nom=stranger.last_name)}
    assert rows[name].envelope is None
    table = html(student.get("/annuaire/", query_string={"nom": stranger.last_name}))
    cells = next(tr.all("td") for tr in table.one("table", class_="people").all("tr")
                 if tr.all("td") and tr.all("td")[0].text == name)
    assert "n'est ni dans vos classes ni dans vos groupes" in cells[5].text  # says why
    four_a = group_id(app, "4A")
    classmates = find(student, groupe=four_a, par_page=100)
    assert len(classmates) > 20
    assert all(row.envelope for row in classmates)


def test_the_envelope_shows_whom_one_may_answer(app, student):
    """A teacher outside Zoé's groups wrote to her: the directory marks the teacher
    writable, as the routing accepts her answer (the rule lives in the rights engine)."""
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        zoe_groups = select(GroupMember.group_id).where(GroupMember.account_id == zoe.id)
        teacher = db.session.scalars(
            select(Account).join(AccountSchool)
            .where(AccountSchool.school_id == zoe.schools[0].id,
                   Account.profile == Profile.TEACHER,
                   Account.id.not_in(select(GroupMember.account_id)
                                     .where(GroupMember.group_id.in_(zoe_groups))))
            .order_by(Account.id)).first()
        name, teacher_id = f"{teacher.last_name} {teacher.first_name}", teacher.id
    before = {row.name: row for row in find(student, nom=teacher.last_name)}
    assert before[name].envelope is None
    with app.app_context():
        db.session.add(MailCorrespondent(account_id=zoe.id, author_id=teacher_id))
        db.session.commit()
    after = {row.name: row for row in find(student, nom=teacher.last_name)}
    assert after[name].envelope == f"/messagerie/ecrire?destinataire={teacher_id}"


def test_a_refused_rows_reason_is_the_rights_engines(app, second_client):
    """The page tells a refused row's reason from the row itself (the rule's verdict and the
    person's suspension), without asking the rights engine again: the very reasons the engine
    gives, for a pupil's refusals and for a suspended account an administrator finds."""
    with app.app_context():
        lucas = db.session.scalar(select(Account).where(Account.login == "lucas.martin"))
        lucas.suspended = True
        db.session.commit()
    admin = second_client("admin")
    table = html(admin.get("/annuaire/", query_string={"nom": "martin lucas"}))
    cells = next(tr.all("td") for tr in table.one("table", class_="people").all("tr")
                 if tr.all("td") and tr.all("td")[0].text == "Martin Lucas")
    assert "Lucas Martin : compte suspendu" in cells[-1].text
    for login_name, typed in (("zoe.le-gall", "ma"), ("admin", "martin")):
        with app.test_request_context():
            viewer = db.session.scalar(select(Account).where(Account.login == login_name))
            page = people_page(viewer, AccountFilters(name=typed), 1, 100)
            refused = [row.person.id for row in page.rows if not row.writable]
            assert refused, login_name
            verdicts = writable(viewer, refused)
            assert not any(verdict.allowed for verdict in verdicts.values())
            assert page.refusals == {account_id: said(verdict.why)
                                     for account_id, verdict in verdicts.items()}


def test_teacher_sees_envelopes_everywhere_and_other_schools(teacher, app):
    rows = find(teacher, etablissement=school_id(app, "0310002C"))
    assert len(rows) == 20
    assert all(row.envelope and row.cells[2] == rows[0].cells[2] for row in rows)


def test_student_does_not_find_other_schools(app, student, second_client):
    staff = second_client("paul.durand")
    other = school_id(app, "0310002C")
    response = student.get("/annuaire/", query_string={"etablissement": other})
    assert response.status_code == 400
    assert people_rows(html(response)) == []
    with app.app_context():
        stranger = db.session.scalars(select(Account).join(AccountSchool)
                                      .where(AccountSchool.school_id == other)
                                      .order_by(Account.id)).first()
        last_name = stranger.last_name
    assert all("Collège Jean Jaurès" in row.cells[2] for row in find(student, nom=last_name))
    assert any("Collège Hubert" in row.cells[2] for row in find(staff, nom=last_name))


def test_redirect_addresses_never_appear(teacher, second_client):
    parent = second_client("joseph.fabre")
    for client in (teacher, parent):
        for params in ({"nom": "fabre"}, {"nom": "bernard"}, {"par_page": 100}):
            response = client.get("/annuaire/", query_string=params)
            assert response.status_code == 200
            shown = [row.name for row in people_rows(html(response))]
            assert shown and all(shown), params      # people first, with their names
            if "nom" in params:
                assert all(params["nom"] in name.lower() for name in shown)
            page = response.get_data(as_text=True)
            assert "joseph@example.org" not in page
            assert "claire.bernard@example.net" not in page
            assert "@example." not in page


def test_filters_by_profile_discipline_and_group(app, teacher):
    four_a = group_id(app, "4A")
    students = find(teacher, groupe=four_a, profil="student", par_page=100)
    assert {row.cells[1] for row in students} == {"Élève"}
    assert {"Le Gall Zoé", "Martin Lucas"} <= {row.name for row in students}
    french = find(teacher, groupe=four_a, discipline="français")
    assert [row.name for row in french] == ["Bernard Claire"]
    assert french[0].cells[4] == "français"
    both = find(teacher, groupe=four_a, profil=["student", "teacher"], par_page=100)
    assert len(both) > len(students)


@pytest.mark.parametrize("per_page", [20, 50, 100])
def test_per_page_choices(staff, per_page):
    assert len(find(staff, par_page=per_page)) == per_page


def test_pages_follow_each_other_and_keep_the_filters(staff):
    first = html(staff.get("/annuaire/", query_string={"profil": "student", "par_page": 20}))
    next_link = first.one("a", rel="next").attrs["href"]
    assert "profil=student" in next_link and "page=2" in next_link
    second = people_rows(html(staff.get(next_link)))
    first_names = [row.name for row in people_rows(first)]
    assert len(second) == 20 and not set(first_names) & {row.name for row in second}
    assert {row.cells[1] for row in second} == {"Élève"}
    assert "résultats" in status_text(first)


def test_url_for_s_own_names_in_the_query_string_are_not_carried_into_the_links(staff):
    """`?endpoint=x` was handed to url_for with the page's links: a 500 on every search with
    more than one page, in the Annuaire and in the picker."""
    for path in ("/annuaire/", "/messagerie/destinataires"):
        response = staff.get(path, query_string={"profil": "student", "par_page": 20,
                                                 "endpoint": "x", "_external": "1"})
        assert response.status_code == 200, path
        next_link = html(response).one("a", rel="next").attrs["href"]
        assert "page=2" in next_link and "endpoint" not in next_link, path


@pytest.mark.parametrize(("who", "login_name", "typed"), [
    ("staff", "paul.durand", "ma"),     # region-wide: read from the name indexes
    ("student", "zoe.le-gall", ""),     # one school: read from its members, counted with them
    ("student", "zoe.le-gall", "m"),
])
def test_the_number_of_results_is_the_same_on_every_page(app, request, who, login_name, typed):
    """A full page counts the matches; the last page, short, tells them from its own rows:
    both say the true number, and the page after the last is refused with the number of pages."""
    client = request.getfixturevalue(who)
    with app.app_context():
        viewer = db.session.scalar(select(Account).where(Account.login == login_name))
        matches = db.session.scalar(select(func.count()).select_from(
            search_query(viewer, AccountFilters(name=typed)).subquery()))
    per_page = 20 if matches % 20 else 50
    assert per_page < matches <= 1_000 and matches % per_page, matches
    last = matches // per_page + 1
    expected = f"{matches} résultats"
    query = {"nom": typed, "par_page": per_page}
    for number in (1, last):
        page = html(client.get("/annuaire/", query_string={**query, "page": number}))
        assert status_text(page) == expected, number
        assert len(people_rows(page)) == (per_page if number == 1 else matches % per_page)
    after = client.get("/annuaire/", query_string={**query, "page": last + 1})
    assert after.status_code == 404
    assert f"tiennent sur {last} page(s)" in " ".join(messages(html(after)))


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"page": "-1"}, 400, "Numéro de page invalide."),
    ({"page": "0"}, 400, "Numéro de page invalide."),
    ({"page": str(10**9)}, 400, "Numéro de page invalide."),
    ({"page": "deux"}, 400, ""),
    ({"page": "999"}, 404, "Cette page n'existe pas : les résultats tiennent sur"),
    ({"par_page": "100000"}, 400, ""),
    ({"par_page": "-5"}, 400, ""),
    ({"nom": "a" * 10_000}, 400, "Le nom cherché est trop long (100 caractères au plus)."),
    ({"nom": "%"}, 400, "Saisissez au moins une lettre ou un chiffre."),
    ({"nom": "_%_"}, 400, "Saisissez au moins une lettre ou un chiffre."),
    ({"groupe": "abc"}, 400, ""),
    ({"groupe": str(2**40)}, 400, "Ce groupe n'existe pas ou ne vous est pas visible."),
    ({"groupe": "987654"}, 400, "Ce groupe n'existe pas ou ne vous est pas visible."),
    ({"profil": "pirate"}, 400, ""),
    ({"etablissement": "x"}, 400, ""),
])
def test_bad_input_gets_a_clear_answer_and_no_results(student, params, status, message):
    response = student.get("/annuaire/", query_string=params)
    assert response.status_code == status
    page = html(response)
    shown = messages(page)
    assert shown, "no error shown"
    assert any(message in text for text in shown), shown
    assert people_rows(page) == []


def test_group_of_another_school_is_not_visible_to_a_student(app, student, second_client):
    staff = second_client("paul.durand")
    other_class = group_id(app, "4A", uai="0310002C")
    assert student.get("/annuaire/", query_string={"groupe": other_class}).status_code == 400
    assert len(find(staff, groupe=other_class)) > 10


def test_anonymous_is_sent_to_login(client):
    response = client.get("/annuaire/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_no_directory_role_no_annuaire(app, logged_in):
    from directory.enums import Role
    from directory.role_grants import remove_role

    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        remove_role(zoe, Role.DIRECTORY_USER)
        db.session.commit()
    client = logged_in("zoe.le-gall")
    assert client.get("/annuaire/").status_code == 403
    assert client.get("/groupes/").status_code == 403
    nav = html(client.get("/")).all("nav")
    assert nav and "Annuaire" in nav[0].text


def test_nav_shows_annuaire(student):
    nav = html(student.get("/")).one("nav")
    assert "Annuaire" in nav.text and "Administration" not in nav.text


def test_group_filter_choices_are_the_groups_of_ones_school(app, student):
    page = html(student.get("/annuaire/"))
    options = [o.text for o in page.one("select", id="groupe").all("option")]
    assert "4A · Classe · 0310024H" in options
    assert not any("0310002C" in option for option in options)


def test_other_schools_are_reached_by_uai_code(staff):
    rows = find(staff, uai="0310002c", profil="teacher")
    assert rows and all(row.cells[2] == "Collège Hubert" and row.cells[1] == "Enseignant"
                        for row in rows)
    page = html(staff.get("/annuaire/"))
    assert page.one("input", id="uai")
    offered = [o.text for o in page.one("select", id="etablissement").all("option")]
    assert offered == ["Collège Jean Jaurès (0310024H)"]


@pytest.mark.parametrize("codes", ["9999999X", "0310002C 12345", "x" * 201])
def test_unknown_uai_codes_are_refused(staff, codes):
    response = staff.get("/annuaire/", query_string={"uai": codes})
    assert response.status_code == 400
    assert people_rows(html(response)) == []
    assert any("Établissement inconnu" in m or "200 caractères" in m
               for m in messages(html(response)))


def test_a_student_cannot_reach_other_schools_by_code(student):
    response = student.get("/annuaire/", query_string={"uai": "0310002C"})
    assert response.status_code == 400
    assert "Établissement inconnu ou hors de votre annuaire : 0310002C." in \
        messages(html(response))
    assert html(student.get("/annuaire/")).all("input", id="uai") == []


def test_discipline_choices_sort_the_french_way(teacher):
    """A byte-order sort put « EPS » and « SVT » first and « éducation musicale » last."""
    from directory.naming import collation_key

    options = [o.text for o in html(teacher.get("/annuaire/")).one(
        "select", id="discipline").all("option")][1:]
    assert "éducation musicale" in options and "EPS" in options
    assert options == sorted(options, key=collation_key)
    assert options.index("éducation musicale") < options.index("français")


def test_group_kinds_are_words_not_codes(app, teacher):
    page = html(teacher.get("/annuaire/"))
    text = page.one("select", id="groupe").text
    assert "ENTClasse" not in text and "ENTGroupe" not in text and "Ad-hoc" not in text
    assert "4A · Classe · 0310024H" in text


def test_a_parent_finds_the_parents_of_a_class_and_may_write_to_them(app, parent):
    """« Profil = Parent + Classe = 4A » answered « Aucun résultat »: parents are in no
    class. For search, they belong to their children's classes (SPEC §2 already lets them
    write there); a group's own member list still shows its members only."""
    four_a = group_id(app, "4A")
    with app.app_context():
        pupils = select(GroupMember.account_id).where(GroupMember.group_id == four_a)
        expected = db.session.scalar(select(func.count(func.distinct(ParentLink.parent_id)))
                                     .where(ParentLink.child_id.in_(pupils)))
    rows = find(parent, groupe=four_a, profil="parent", par_page=100)
    assert len(rows) == expected > 1
    assert "Fabre Joseph" in [row.name for row in rows]
    assert {row.cells[1] for row in rows} == {"Parent d'élève"}
    others = [row for row in rows if row.name != "Fabre Joseph"]
    assert all(row.envelope for row in others)
    class_only = find(parent, groupe=four_a, par_page=100)      # a class alone: its members
    assert "Parent d'élève" not in {row.cells[1] for row in class_only}
    members = html(parent.get(f"/groupes/{four_a}", query_string={"par_page": 100}))
    assert "Parent d'élève" not in [row.cells[1] for row in people_rows(members)]
