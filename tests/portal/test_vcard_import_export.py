"""vCard export and import of the address book through HTTP: universal addresses only, export
then re-import gives the same book, real Thunderbird and Google Contacts exports recognised,
unrecognised cards listed with their reason, nothing written before confirmation, and nothing
at all when the import cannot be done whole."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select, update

from directory.accounts import create_account, school_by_uai
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from portal.carnet.forms import MAX_VCF_BYTES
from portal.carnet.vcard import read_cards
from tests.conftest import DEMO_PASSWORD, csrf_token, post_form

from .carnet_helpers import (
    DATA,
    add_person,
    client_of,
    create_group,
    flashes,
    groups_of,
    page,
    submit,
    table_rows,
)


def upload(client, data: bytes, *, target: str = "categories", new_name: str = "Contacts "
           "importés", filename: str = "contacts.vcf"):
    token = csrf_token(client.get("/carnet/importer").get_data(as_text=True))
    return client.post("/carnet/importer", content_type="multipart/form-data", data={
        "csrf_token": token, "target": target, "new_name": new_name,
        "file": (io.BytesIO(data), filename)})


def confirm(client, preview):
    return submit(client, page(preview).find("form", action="/carnet/importer/confirmer"))


def build_book(app, teacher) -> None:
    """Claire's book: two groups, one person in both, names with accents and a comma."""
    delegates = create_group(teacher, "Délégués, 4A")
    colleagues = create_group(teacher, "Collègues (français)")
    for address in ("zoe.le-gall", "lucas.martin", "joseph.fabre"):
        add_person(app, teacher, delegates, address)
    for address in ("paul.durand", "penelope.coste", "joseph.fabre"):
        add_person(app, teacher, colleagues, address)


# Export -----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_a_group_exports_universal_addresses_only(app, teacher, version):
    group_id = create_group(teacher, "Parents")
    add_person(app, teacher, group_id, "joseph.fabre")     # redirect joseph@example.org
    add_person(app, teacher, group_id, "penelope.coste")   # redirect penelope.coste@example.com
    response = teacher.get(f"/carnet/{group_id}/groupe.vcf?version={version}")
    assert response.status_code == 200
    assert response.mimetype == "text/vcard"
    assert response.headers["Content-Disposition"] == \
        "attachment; filename*=UTF-8''Parents.vcf"
    text = response.get_data(as_text=True)
    assert f"VERSION:{version}" in text
    assert "example.org" not in text and "example.com" not in text
    cards = read_cards(response.get_data())
    assert [(c.full_name, c.family, c.given, c.emails, c.categories) for c in cards] == [
        ("Pénélope Coste", "Coste", "Pénélope", ["penelope.coste@ent.test"], ["Parents"]),
        ("Joseph Fabre", "Fabre", "Joseph", ["joseph.fabre@ent.test"], ["Parents"]),
    ]
    assert text.count("ORG:Collège Jean Jaurès") == 2


def test_the_whole_book_gives_one_card_per_person_with_all_its_groups(app, teacher):
    build_book(app, teacher)
    response = teacher.get("/carnet/carnet.vcf?version=4.0")
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''carnet.vcf"
    cards = {c.emails[0]: c.categories for c in read_cards(response.get_data())}
    assert cards == {
        "zoe.le-gall@ent.test": ["Délégués, 4A"],
        "lucas.martin@ent.test": ["Délégués, 4A"],
        "joseph.fabre@ent.test": ["Collègues (français)", "Délégués, 4A"],
        "paul.durand@ent.test": ["Collègues (français)"],
        "penelope.coste@ent.test": ["Collègues (français)"],
    }


def test_an_unknown_version_is_refused(teacher):
    assert teacher.get("/carnet/carnet.vcf?version=2.1").status_code == 400


def test_another_persons_book_is_not_in_my_export(app, logged_in):
    teacher = logged_in("claire.bernard")
    build_book(app, teacher)
    staff = client_of(app, "paul.durand")
    assert staff.get("/carnet/carnet.vcf?version=3.0").get_data() == b""


# Export, then import: the same book ------------------------------------------------------

@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_export_then_reimport_gives_the_same_book(app, teacher, version):
    build_book(app, teacher)
    book = groups_of(app, "claire.bernard")
    exported = teacher.get(f"/carnet/carnet.vcf?version={version}").get_data()
    for group_id in _group_ids(app, "claire.bernard"):
        post_form(teacher, f"/carnet/{group_id}/supprimer", {})
    assert groups_of(app, "claire.bernard") == {}

    preview = upload(teacher, exported, target="categories")
    assert preview.status_code == 200
    assert "0 non reconnue" in page(preview).find("p", class_="result-count").text
    assert groups_of(app, "claire.bernard") == {}, "nothing is written before confirmation"
    assert confirm(teacher, preview).status_code == 303

    assert groups_of(app, "claire.bernard") == book
    assert teacher.get(f"/carnet/carnet.vcf?version={version}").get_data() == exported


def test_a_group_exported_then_imported_into_a_new_group_has_the_same_members(app, teacher):
    build_book(app, teacher)
    delegates = groups_of(app, "claire.bernard")["Délégués, 4A"]
    group_id = _group_ids(app, "claire.bernard", "Délégués, 4A")[0]
    exported = teacher.get(f"/carnet/{group_id}/groupe.vcf?version=3.0").get_data()
    confirm(teacher, upload(teacher, exported, target="nouveau", new_name="Copie"))
    assert groups_of(app, "claire.bernard")["Copie"] == delegates


def _group_ids(app, owner: str, name: str | None = None) -> list[int]:
    from portal.carnet.models import ContactGroup

    with app.app_context():
        query = select(ContactGroup.id).where(
            ContactGroup.owner_id == select(Account.id).where(Account.address == owner)
            .scalar_subquery())
        if name:
            query = query.where(ContactGroup.name == name)
        return list(db.session.scalars(query))


# Real exports ------------------------------------------------------------------------------

def test_a_thunderbird_export_into_a_new_group(app, teacher):
    preview = upload(teacher, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                     new_name="Famille et collègues")
    assert preview.status_code == 200
    doc = page(preview)
    assert [r[:3] for r in table_rows(doc, "import-recognised")] == [
        ["1", "Claire Bernard", "Claire Bernard (claire.bernard@ent.test)"],
        ["12", "Pénélope Coste", "Pénélope Coste (penelope.coste@ent.test)"],
        ["21", "Geneviève De Oliveira",
         "Geneviève De Oliveira (genevieve.de-oliveira@ent.test)"],
        ["37", "Édouard Masson", "Édouard Masson (edouard.masson@ent.test)"],
    ]
    assert table_rows(doc, "import-unrecognised") == [[
        "29", "Mamie Jeanne", "L'adresse jeanne.dubreuil@gmail.com n'est pas une adresse de "
        "l'ENT, et aucune personne de votre annuaire ne s'appelle « Mamie Jeanne »."]]
    assert "Nouveau groupe « Famille et collègues » : 4 personnes ajoutées" in doc.text
    assert groups_of(app, "claire.bernard") == {}

    response = confirm(teacher, preview)
    assert response.status_code == 303
    assert groups_of(app, "claire.bernard") == {"Famille et collègues": {
        "claire.bernard", "penelope.coste", "genevieve.de-oliveira", "edouard.masson"}}
    assert "Import terminé : Famille et collègues (+4)." in flashes(page(teacher.get("/carnet/")))


@pytest.fixture
def another_theodore_royer(app):
    """A namesake in a third school, so that the name is ambiguous region-wide whatever the
    demo holds."""
    with app.app_context():
        create_account(login="theodore.royer.test", first_name="Théodore", last_name="ROYER",
                       profile=Profile.PARENT, password=DEMO_PASSWORD,
                       schools=[school_by_uai("0310002C")])
        db.session.commit()


def test_a_google_contacts_export_by_categories(app, teacher, another_theodore_royer):
    preview = upload(teacher, (DATA / "google-contacts-3.0.vcf").read_bytes())
    doc = page(preview)
    assert [r[1:] for r in table_rows(doc, "import-recognised")] == [
        ["Zoé Le Gall", "Zoé Le Gall (zoe.le-gall@ent.test)", "Délégués 4A"],
        ["Michel Rivière", "Michel Rivière (michel.riviere@ent.test)", "Délégués 4A"],
        ["Lucas Martin", "Lucas Martin (lucas.martin@ent.test)", "Contacts importés"],
    ]
    unrecognised = table_rows(doc, "import-unrecognised")
    assert [r[1] for r in unrecognised] == ["Théodore Royer", "plombier@example.fr"]
    assert "personnes de votre annuaire s'appellent « Théodore Royer »" in unrecognised[0][2]
    assert "ajoutez son adresse universelle" in unrecognised[0][2]
    assert "plombier@example.fr n'est pas une adresse de l'ENT" in unrecognised[1][2]

    confirm(teacher, preview)
    assert groups_of(app, "claire.bernard") == {
        "Délégués 4A": {"zoe.le-gall", "michel.riviere"}, "Contacts importés": {"lucas.martin"}}


def test_names_are_recognised_within_the_importers_perimeter_only(app, logged_in,
                                                                   another_theodore_royer):
    student = logged_in("zoe.le-gall")      # finds the people of her own school only
    doc = page(upload(student, (DATA / "google-contacts-3.0.vcf").read_bytes()))
    recognised = {r[1]: r[2] for r in table_rows(doc, "import-recognised")}
    assert recognised["Théodore Royer"] == "Théodore Royer (theodore.royer@ent.test)"


def test_a_redirect_address_never_recognises_anyone(app, teacher):
    card = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:J. F.\r\nN:F.;J.;;;\r\n"
            b"EMAIL;TYPE=INTERNET:joseph@example.org\r\nEND:VCARD\r\n")
    doc = page(upload(teacher, card))
    assert not doc.find_all("table", class_="import-recognised")
    assert "Joseph" not in doc.text and "joseph.fabre" not in doc.text
    assert "Aucune fiche n'a été reconnue" in doc.text
    assert not doc.find_all("form", action="/carnet/importer/confirmer")


def test_a_universal_address_outside_the_perimeter_is_not_recognised(app, logged_in):
    student = logged_in("zoe.le-gall")
    card = (b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:T. R.\r\n"
            b"EMAIL:theodore.royer2@ent.test\r\nEND:VCARD\r\n")
    doc = page(upload(student, card))
    assert table_rows(doc, "import-unrecognised")[0][2] == (
        "L'adresse theodore.royer2@ent.test n'est celle d'aucune personne de votre annuaire, "
        "et aucune personne de votre annuaire ne s'appelle « T. R. ».")


def test_importing_into_an_existing_group_counts_who_is_already_there(app, teacher):
    group_id = create_group(teacher, "Élèves")
    add_person(app, teacher, group_id, "zoe.le-gall")
    preview = upload(teacher, (DATA / "google-contacts-3.0.vcf").read_bytes(),
                     target=str(group_id))
    assert "Groupe existant « Élèves » : 2 personnes ajoutées, 1 déjà présente" in \
        page(preview).text
    confirm(teacher, preview)
    assert groups_of(app, "claire.bernard") == {
        "Élèves": {"zoe.le-gall", "michel.riviere", "lucas.martin"}}


# Refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, line", [("broken-line-11.vcf", 11),
                                           ("unclosed-line-6.vcf", 6)])
def test_a_broken_file_is_refused_with_its_line_and_nothing_is_written(app, teacher, fixture,
                                                                       line):
    response = upload(teacher, (DATA / fixture).read_bytes(), target="nouveau",
                      new_name="Import")
    assert response.status_code == 400
    errors = page(response).find("ul", class_="errors").text
    assert errors.startswith(f"Ligne {line} : ")
    assert groups_of(app, "claire.bernard") == {}


def test_a_file_over_the_size_limit_is_refused(app, teacher):
    data = (DATA / "google-contacts-3.0.vcf").read_bytes()
    data += b"NOTE:" + b"x" * (MAX_VCF_BYTES - len(data)) + b"\r\n"
    response = upload(teacher, data)
    assert response.status_code == 400
    assert "Le fichier dépasse 5 Mo" in page(response).text
    assert groups_of(app, "claire.bernard") == {}


def test_a_missing_file_or_a_bad_group_name_is_refused(app, teacher):
    token = csrf_token(teacher.get("/carnet/importer").get_data(as_text=True))
    response = teacher.post("/carnet/importer", data={"csrf_token": token,
                                                      "target": "categories"})
    assert response.status_code == 400
    assert "Choisissez un fichier .vcf." in page(response).text
    response = upload(teacher, (DATA / "google-contacts-3.0.vcf").read_bytes(),
                      target="nouveau", new_name="   ")
    assert response.status_code == 400
    assert "Donnez un nom au groupe." in page(response).text
    assert groups_of(app, "claire.bernard") == {}


def test_a_new_group_may_not_take_the_name_of_an_existing_one(app, teacher):
    create_group(teacher, "Famille")
    response = upload(teacher, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                      new_name="famille")
    assert response.status_code == 400
    assert "Vous avez déjà un groupe « Famille »" in page(response).text
    assert groups_of(app, "claire.bernard") == {"Famille": set()}


def test_someone_elses_group_is_not_a_target(app, logged_in):
    teacher = logged_in("claire.bernard")
    theirs = create_group(teacher, "À Claire")
    student = client_of(app, "zoe.le-gall")
    response = upload(student, (DATA / "google-contacts-3.0.vcf").read_bytes(),
                      target=str(theirs))
    assert response.status_code == 400
    assert groups_of(app, "claire.bernard") == {"À Claire": set()}
    assert groups_of(app, "zoe.le-gall") == {}


def test_nothing_is_imported_when_the_directory_changed_before_confirmation(app, teacher):
    preview = upload(teacher, (DATA / "google-contacts-3.0.vcf").read_bytes())
    with app.app_context():
        db.session.execute(update(Account).where(Account.address == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
    response = confirm(teacher, preview)
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/carnet/importer")
    assert "ne font plus partie de votre annuaire" in " ".join(
        flashes(page(teacher.get("/carnet/"))))
    assert groups_of(app, "claire.bernard") == {}, "not even the group of Zoé and Michel"


def test_a_confirmation_counts_once(app, teacher):
    preview = upload(teacher, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                     new_name="Famille")
    confirm(teacher, preview)
    confirm(teacher, preview)
    assert groups_of(app, "claire.bernard") == {"Famille": {
        "claire.bernard", "penelope.coste", "genevieve.de-oliveira", "edouard.masson"}}


def test_a_tampered_or_borrowed_confirmation_is_refused(app, logged_in):
    teacher = logged_in("claire.bernard")
    preview = upload(teacher, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                     new_name="Famille")
    form = page(preview).find("form", action="/carnet/importer/confirmer")
    plan = form.find("input", name="plan").attrs["value"]
    response = submit(teacher, form, plan=plan[:-3] + "abc")
    assert response.status_code == 303
    assert "n'est pas valable" in " ".join(flashes(page(teacher.get("/carnet/"))))

    student = client_of(app, "zoe.le-gall")
    token = csrf_token(student.get("/carnet/").get_data(as_text=True))
    response = student.post("/carnet/importer/confirmer",
                            data={"csrf_token": token, "plan": plan})
    assert response.status_code == 303
    assert "n'est pas la vôtre" in " ".join(flashes(page(student.get("/carnet/"))))
    assert groups_of(app, "claire.bernard") == {} and groups_of(app, "zoe.le-gall") == {}


def test_import_forms_need_their_csrf_token(app, teacher):
    data = (DATA / "thunderbird-4.0.vcf").read_bytes()
    response = teacher.post("/carnet/importer", content_type="multipart/form-data", data={
        "target": "categories", "new_name": "X", "file": (io.BytesIO(data), "c.vcf")})
    assert response.status_code == 400
    preview = upload(teacher, data)
    plan = page(preview).find("input", name="plan").attrs["value"]
    response = teacher.post("/carnet/importer/confirmer", data={"plan": plan,
                                                                "csrf_token": "forged"})
    assert response.status_code == 400
    assert "jeton CSRF invalide" in page(response).text
    assert groups_of(app, "claire.bernard") == {}


def test_the_import_targets_are_my_own_groups_only(app, teacher):
    create_group(client_of(app, "zoe.le-gall"), "Groupe de Zoé")
    mine = create_group(teacher, "Groupe de Claire")
    doc = page(teacher.get("/carnet/importer"))
    options = {o.attrs["value"]: o.text
               for o in doc.find("select", name="target").find_all("option")}
    assert options == {
        "categories": "Dans les groupes nommés par les catégories des fiches",
        "nouveau": "Dans un nouveau groupe",
        str(mine): "Dans mon groupe « Groupe de Claire »"}


def test_a_long_preview_lists_the_first_recognised_cards_and_counts_the_others(app, teacher,
                                                                               monkeypatch):
    from portal.carnet import views

    monkeypatch.setattr(views, "PREVIEW_ROWS", 2)
    preview = upload(teacher, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                     new_name="Famille")
    doc = page(preview)
    assert len(table_rows(doc, "import-recognised")) == 2
    assert "… et 2 autres fiches reconnues." in doc.text
    confirm(teacher, preview)
    assert len(groups_of(app, "claire.bernard")["Famille"]) == 4


def test_a_card_with_thousands_of_categories_is_refused_in_words(app, teacher):
    """Their names went into one statement (a 500 past the driver's parameters) and their
    check was quadratic: a card holds at most what a book may hold."""
    categories = ",".join(f"Groupe {n}" for n in range(70_000))
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Lucas Martin\r\nN:Martin;Lucas;;;\r\n"
            "EMAIL:lucas.martin@ent.test\r\n"
            f"CATEGORIES:{categories}\r\nEND:VCARD\r\n").encode()
    response = upload(teacher, card)
    assert response.status_code == 400
    assert "votre carnet dépasserait 200 groupes" in response.get_data(as_text=True)
    assert groups_of(app, "claire.bernard") == {}
