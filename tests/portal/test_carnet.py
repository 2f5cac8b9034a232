"""Carnet d'adresses through HTTP: contact groups of one's own, members found in the directory,
someone else's group answering 404, CSRF, pagination and the envelope."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group
from directory.rights import writable
from directory.search import AccountFilters, search_query
from portal.carnet import book
from tests.conftest import csrf_token, post_form

from .carnet_helpers import (
    account_id,
    add_person,
    create_group,
    flashes,
    groups_of,
    page,
    submit,
    table_rows,
)


def test_the_navigation_leads_to_the_address_book(teacher):
    links = {a.text: a.attrs["href"] for a in page(teacher.get("/")).find("nav").find_all("a")}
    assert links["Carnet d'adresses"] == "/carnet/"


def test_create_rename_and_delete_a_group(app, teacher):
    doc = page(teacher.get("/carnet/"))
    assert "Votre carnet est vide" in doc.text

    group_id = create_group(teacher, "Parents délégués")
    assert table_rows(page(teacher.get("/carnet/")), "contact-groups")[0][:2] == \
        ["Parents délégués", "0"]

    response = post_form(teacher, f"/carnet/{group_id}/renommer", {"name": "  Parents   élus "})
    assert response.status_code == 303
    assert groups_of(app, "claire.bernard") == {"Parents élus": set()}

    add_person(app, teacher, group_id, "joseph.fabre")
    confirmation = page(teacher.get(f"/carnet/{group_id}/supprimer"))
    assert "Supprimer le groupe « Parents élus » ?" in confirmation.find("h1").text
    assert "son 1 membre" in confirmation.text
    assert groups_of(app, "claire.bernard") == {"Parents élus": {"joseph.fabre"}}

    response = submit(teacher, confirmation.find("section", class_="narrow").find("form"),
                      url=f"/carnet/{group_id}/supprimer")
    assert response.status_code == 303
    assert groups_of(app, "claire.bernard") == {}
    assert "Le groupe « Parents élus » est supprimé." in flashes(page(teacher.get("/carnet/")))


@pytest.mark.parametrize("name, error", [
    ("", "Donnez un nom au groupe."),
    ("   ", "Donnez un nom au groupe."),
    ("!!! ???", "au moins une lettre ou un chiffre"),
    ("x" * 121, "dépasse 120 caractères"),
    ("parents DELEGUES", "Vous avez déjà un groupe « Parents délégués »"),
])
def test_a_bad_name_is_refused_and_changes_nothing(app, teacher, name, error):
    create_group(teacher, "Parents délégués")
    before = groups_of(app, "claire.bernard")
    response = post_form(teacher, "/carnet/groupes", {"name": name}, page="/carnet/")
    assert response.status_code == 400
    assert error in page(response).find("ul", class_="errors").text
    assert groups_of(app, "claire.bernard") == before


def test_renaming_to_the_name_of_another_group_is_refused(app, teacher):
    create_group(teacher, "Collègues")
    group_id = create_group(teacher, "Parents")
    response = post_form(teacher, f"/carnet/{group_id}/renommer", {"name": "collegues"})
    assert response.status_code == 400
    assert "Vous avez déjà un groupe « Collègues »" in page(response).text
    assert set(groups_of(app, "claire.bernard")) == {"Collègues", "Parents"}


def test_renaming_a_group_to_another_spelling_of_its_own_name(app, teacher):
    group_id = create_group(teacher, "delegues")
    assert post_form(teacher, f"/carnet/{group_id}/renommer",
                     {"name": "Délégués"}).status_code == 303
    assert set(groups_of(app, "claire.bernard")) == {"Délégués"}


def test_find_a_person_add_her_then_remove_her(app, teacher):
    group_id = create_group(teacher, "Élèves à suivre")
    search = f"/carnet/{group_id}/ajouter?nom=le+gal"
    doc = page(teacher.get(search))
    row = [r for r in doc.find("table", class_="people").find("tbody").find_all("tr")
           if "Le Gall Zoé" in r.text][0]
    response = submit(teacher, row.find("form"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(search)
    doc = page(teacher.get(search))
    assert "Zoé Le Gall est ajouté(e) au groupe." in flashes(doc)
    row = [r for r in doc.find("table", class_="people").find("tbody").find_all("tr")
           if "Le Gall Zoé" in r.text][0]
    assert "dans le groupe" in row.text and not row.find_all("form")
    assert groups_of(app, "claire.bernard") == {"Élèves à suivre": {"zoe.le-gall"}}

    response = add_person(app, teacher, group_id, "zoe.le-gall")
    assert "Zoé Le Gall fait déjà partie du groupe." in flashes(page(teacher.get("/carnet/")))
    assert groups_of(app, "claire.bernard") == {"Élèves à suivre": {"zoe.le-gall"}}

    members = page(teacher.get(f"/carnet/{group_id}"))
    assert [r[0] for r in table_rows(members, "people")] == ["Le Gall Zoé"]
    response = submit(teacher, members.find("table", class_="people").find("form"))
    assert response.status_code == 303
    assert groups_of(app, "claire.bernard") == {"Élèves à suivre": set()}
    assert "Zoé Le Gall est retiré(e) du groupe." in flashes(page(teacher.get("/carnet/")))


def test_removing_someone_who_is_not_a_member_changes_nothing(app, teacher):
    group_id = create_group(teacher, "Collègues")
    add_person(app, teacher, group_id, "paul.durand")
    response = post_form(teacher, f"/carnet/{group_id}/membres/retirer",
                         {"account": account_id(app, "lucas.martin")}, page="/carnet/")
    assert response.status_code == 303
    assert "Cette personne n'est pas dans ce groupe." in flashes(page(teacher.get("/carnet/")))
    assert groups_of(app, "claire.bernard") == {"Collègues": {"paul.durand"}}


def _class_4a(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Group.id).where(Group.name == "4A",
                                                        Group.kind == GroupKind.CLASS))


def _search_addresses(app, viewer: str, filters: AccountFilters) -> set[str]:
    with app.app_context():
        viewer_account = db.session.scalar(select(Account).where(Account.address == viewer))
        return {a.address for a in db.session.scalars(search_query(viewer_account, filters))}


def test_add_the_whole_list_of_a_search_across_pages(app, teacher):
    group_id = create_group(teacher, "Tous les élèves de 4A")
    class_4a = _class_4a(app)
    expected = _search_addresses(app, "claire.bernard",
                                 AccountFilters(group_id=class_4a, profiles=["student"]))
    assert len(expected) > 20, "the search must span more than one page"
    doc = page(teacher.get(f"/carnet/{group_id}/ajouter?groupe={class_4a}&profil=student"))
    assert len(table_rows(doc, "people")) == 20
    button = doc.find("form", class_="add-list")
    assert f"({len(expected)} personnes)" in button.text
    response = submit(teacher, button)
    assert response.status_code == 303
    assert groups_of(app, "claire.bernard") == {"Tous les élèves de 4A": expected}
    assert f"{len(expected)} personne(s) ajoutée(s) au groupe." in \
        flashes(page(teacher.get("/carnet/")))

    again = submit(teacher, page(teacher.get(
        f"/carnet/{group_id}/ajouter?groupe={class_4a}&profil=student")).find(
        "form", class_="add-list"))
    assert again.status_code == 303
    assert "0 personne(s) ajoutée(s) au groupe." in flashes(page(teacher.get("/carnet/")))


def test_the_whole_list_without_any_criterion_is_refused(app, teacher):
    group_id = create_group(teacher, "Tout le monde")
    doc = page(teacher.get(f"/carnet/{group_id}/ajouter?par_page=20"))
    assert not doc.find_all("form", class_="add-list")
    response = post_form(teacher, f"/carnet/{group_id}/membres/ajouter-la-liste", {},
                         page="/carnet/")
    assert response.status_code == 303
    assert "Précisez au moins un critère" in " ".join(flashes(page(teacher.get("/carnet/"))))
    assert groups_of(app, "claire.bernard") == {"Tout le monde": set()}


def test_a_list_larger_than_a_group_may_hold_is_refused_whole(app, teacher, monkeypatch):
    monkeypatch.setattr(book, "MAX_MEMBERS", 10)
    group_id = create_group(teacher, "Petit groupe")
    add_person(app, teacher, group_id, "paul.durand")
    response = post_form(teacher, f"/carnet/{group_id}/membres/ajouter-la-liste",
                         {"groupe": _class_4a(app)}, page="/carnet/")
    assert response.status_code == 303
    assert "ne peut plus recevoir que 9 personne(s)" in " ".join(
        flashes(page(teacher.get("/carnet/"))))
    assert groups_of(app, "claire.bernard") == {"Petit groupe": {"paul.durand"}}


def test_the_number_of_groups_is_limited(app, teacher, monkeypatch):
    monkeypatch.setattr(book, "MAX_GROUPS", 2)
    create_group(teacher, "Un")
    create_group(teacher, "Deux")
    response = post_form(teacher, "/carnet/groupes", {"name": "Trois"}, page="/carnet/")
    assert response.status_code == 400
    assert "déjà 2 groupes" in page(response).text
    assert set(groups_of(app, "claire.bernard")) == {"Un", "Deux"}


def test_a_student_adds_only_people_of_her_directory(app, student):
    group_id = create_group(student, "Amis")
    with app.app_context():
        outsider = db.session.scalar(select(Account.address).where(
            Account.address == "theodore.royer2"))
    assert outsider, "the demo has a Théodore Royer in another school"
    response = add_person(app, student, group_id, outsider)
    assert response.status_code == 303
    assert "ne fait pas partie de votre annuaire" in " ".join(
        flashes(page(student.get("/carnet/"))))
    response = post_form(student, f"/carnet/{group_id}/membres/ajouter",
                         {"account": 2**40}, page="/carnet/")
    assert response.status_code == 400
    assert groups_of(app, "zoe.le-gall") == {"Amis": set()}


def test_the_envelope_only_where_the_owner_may_write(app, student):
    group_id = create_group(student, "Collège")
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.address == "zoe.le-gall"))
        findable = list(db.session.scalars(search_query(zoe, AccountFilters()).limit(400)))
        verdicts = writable(zoe, [a.id for a in findable])
        forbidden = next(a for a in findable if not verdicts[a.id].allowed)
        forbidden_name = f"{forbidden.last_name} {forbidden.first_name}"
    add_person(app, student, group_id, "lucas.martin")
    add_person(app, student, group_id, forbidden.address)
    rows = page(student.get(f"/carnet/{group_id}")).find("table", class_="people") \
        .find("tbody").find_all("tr")
    envelopes = {r.find_all("td")[0].text: bool(r.find_all("a", class_="envelope"))
                 for r in rows}
    assert envelopes == {"Martin Lucas": True, forbidden_name: False}


def test_members_are_paginated(app, teacher):
    group_id = create_group(teacher, "4A")
    post_form(teacher, f"/carnet/{group_id}/membres/ajouter-la-liste",
              {"groupe": _class_4a(app)}, page="/carnet/")
    total = len(groups_of(app, "claire.bernard")["4A"])
    assert total > 20
    first = page(teacher.get(f"/carnet/{group_id}"))
    second = page(teacher.get(f"/carnet/{group_id}?page=2"))
    names = [r[0] for r in table_rows(first, "people") + table_rows(second, "people")]
    assert len(table_rows(first, "people")) == 20 and len(names) == min(total, 40)
    assert len(set(names)) == len(names)
    assert f"{total} résultats" in first.find("p", class_="result-count").text
    assert first.find("a", rel="next").attrs["href"] == f"/carnet/{group_id}?page=2"
    assert teacher.get(f"/carnet/{group_id}?page=99").status_code == 404
    assert teacher.get(f"/carnet/{group_id}?page=abc").status_code == 400


def test_the_list_of_groups_is_paginated(app, teacher):
    for n in range(21):
        create_group(teacher, f"Groupe {n:02d}")
    first = table_rows(page(teacher.get("/carnet/")), "contact-groups")
    second = table_rows(page(teacher.get("/carnet/?page=2")), "contact-groups")
    assert [r[0] for r in first + second] == [f"Groupe {n:02d}" for n in range(21)]


def test_a_page_costs_the_same_number_of_queries_whatever_the_group_size(app, teacher):
    small, large = create_group(teacher, "Petit"), create_group(teacher, "Grand")
    add_person(app, teacher, small, "zoe.le-gall")
    post_form(teacher, f"/carnet/{large}/membres/ajouter-la-liste",
              {"groupe": _class_4a(app)}, page="/carnet/")
    counts = {}
    for name, group_id in (("small", small), ("large", large)):
        statements = []
        with app.app_context():
            engine = db.engine

        def count(*_args, statements=statements):
            statements.append(1)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert teacher.get(f"/carnet/{group_id}").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts[name] = len(statements)
    assert counts["small"] == counts["large"]


# Someone else's group -------------------------------------------------------------------

@pytest.fixture
def claires_group(app, client, logged_in):
    teacher = logged_in("claire.bernard")
    group_id = create_group(teacher, "Conseil de classe")
    add_person(app, teacher, group_id, "joseph.fabre")
    teacher.post("/deconnexion", data={"csrf_token": csrf_token(
        teacher.get("/carnet/").get_data(as_text=True))})
    return group_id


@pytest.mark.parametrize("path", ["", "/renommer", "/supprimer", "/ajouter?nom=a",
                                  "/groupe.vcf?version=3.0"])
def test_someone_elses_group_answers_404(claires_group, logged_in, path):
    zoe = logged_in("zoe.le-gall")
    assert zoe.get(f"/carnet/{claires_group}{path}").status_code == 404


@pytest.mark.parametrize("path, data", [
    ("/renommer", {"name": "Piraté"}),
    ("/supprimer", {}),
    ("/membres/ajouter", {"account": "LUCAS"}),
    ("/membres/ajouter-la-liste", {"nom": "martin"}),
    ("/membres/retirer", {"account": "JOSEPH"}),
])
def test_a_forged_post_on_someone_elses_group_answers_404(app, claires_group, logged_in,
                                                          path, data):
    ids = {"LUCAS": account_id(app, "lucas.martin"), "JOSEPH": account_id(app, "joseph.fabre")}
    data = {k: ids.get(v, v) for k, v in data.items()}
    zoe = logged_in("zoe.le-gall")
    response = post_form(zoe, f"/carnet/{claires_group}{path}", data, page="/carnet/")
    assert response.status_code == 404
    assert groups_of(app, "claire.bernard") == {"Conseil de classe": {"joseph.fabre"}}


def test_an_id_beyond_any_group_answers_404(teacher):
    assert teacher.get("/carnet/99999999").status_code == 404
    assert teacher.get("/carnet/99999999999999").status_code == 404


def test_the_address_book_needs_a_login(client):
    response = client.get("/carnet/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


# CSRF -------------------------------------------------------------------------------------

def test_forms_without_a_valid_csrf_token_are_refused(app, client, logged_in):
    other = app.test_client()
    login_token = csrf_token(other.get("/connexion").get_data(as_text=True))
    teacher = logged_in("claire.bernard")
    group_id = create_group(teacher, "Collègues")
    attempts = [
        ("/carnet/groupes", {"name": "Forgé"}),
        (f"/carnet/{group_id}/renommer", {"name": "Forgé"}),
        (f"/carnet/{group_id}/supprimer", {}),
        (f"/carnet/{group_id}/membres/ajouter", {"account": account_id(app, "paul.durand")}),
        (f"/carnet/{group_id}/membres/ajouter-la-liste", {"nom": "martin"}),
    ]
    for url, data in attempts:
        for token in (None, "forged", login_token):
            sent = data if token is None else {**data, "csrf_token": token}
            response = teacher.post(url, data=sent)
            assert response.status_code == 400, (url, token)
            assert "jeton CSRF invalide" in page(response).text, (url, token)
    assert groups_of(app, "claire.bernard") == {"Collègues": set()}


# For the compose picker, and the life of accounts ------------------------------------------

def test_the_picker_sees_my_groups_and_their_members_only(app, teacher):
    group_id = create_group(teacher, "Parents")
    add_person(app, teacher, group_id, "joseph.fabre")
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.address == "claire.bernard"))
        zoe = db.session.scalar(select(Account).where(Account.address == "zoe.le-gall"))
        assert [(g.name, n) for g, n in book.picker_groups(claire)] == [("Parents", 1)]
        assert book.member_ids(claire, group_id) == [account_id(app, "joseph.fabre")]
        assert book.picker_groups(zoe) == [] and book.member_ids(zoe, group_id) == []


def test_a_deleted_account_leaves_the_groups_it_was_in(app, teacher):
    group_id = create_group(teacher, "Parents")
    add_person(app, teacher, group_id, "joseph.fabre")
    add_person(app, teacher, group_id, "paul.durand")
    with app.app_context():
        db.session.delete(db.session.get(Account, account_id(app, "joseph.fabre")))
        db.session.commit()
    assert groups_of(app, "claire.bernard") == {"Parents": {"paul.durand"}}
    assert [r[0] for r in table_rows(page(teacher.get(f"/carnet/{group_id}")), "people")] == \
        ["Durand Paul"]
