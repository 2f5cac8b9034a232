"""Blocks of the search pages rendered once and kept per process (portal/choice_html.py
`kept_block`): each search shows the filters chosen, the errors of that search, the current
page in the navigation and the reader's language, never a block kept from another request."""
from __future__ import annotations

from sqlalchemy import select

from directory.db import db
from directory.enums import Role
from directory.models import Account, RoleOverride
from tests.conftest import login, post_form

from .annuaire_helpers import html, messages


def _selected(page, select_id: str) -> list[str]:
    return [option.text for option in page.one("select", id=select_id).all("option")
            if "selected" in option.attrs]


def _checked(page, name: str) -> list[str]:
    return [box.attrs["value"] for box in page.all("input", name=name)
            if "checked" in box.attrs]


def test_each_search_shows_its_own_filters(teacher):
    first = html(teacher.get("/annuaire/?nom=ma&discipline=anglais&profil=teacher"))
    assert _selected(first, "discipline") == ["anglais"]
    assert _checked(first, "profil") == ["teacher"]
    second = html(teacher.get("/annuaire/?nom=ma&discipline=SVT&profil=student&par_page=50"))
    assert _selected(second, "discipline") == ["SVT"]
    assert _checked(second, "profil") == ["student"]
    assert _selected(second, "par_page") == ["50"]
    again = html(teacher.get("/annuaire/?nom=ma&discipline=anglais&profil=teacher"))
    assert _selected(again, "discipline") == ["anglais"] and _selected(again, "par_page") == ["20"]
    assert again.one("input", id="nom").attrs["value"] == "ma"


def test_an_error_shows_with_its_search_only(teacher):
    wrong = teacher.get("/annuaire/?nom=ma&groupe=999999")
    assert wrong.status_code == 400
    assert "Ce groupe n'existe pas ou ne vous est pas visible." in messages(html(wrong))
    right = teacher.get("/annuaire/?nom=ma")
    assert right.status_code == 200 and messages(html(right)) == []


def test_the_navigation_marks_the_page_being_read(teacher):
    for path, label in (("/annuaire/", "Annuaire"), ("/carnet/", "Carnet d'adresses"),
                        ("/annuaire/?nom=ma", "Annuaire")):
        current = html(teacher.get(path)).all("a", aria_current="page")
        assert [link.text for link in current] == [label], path


def test_the_kept_blocks_follow_the_readers_language(teacher):
    french = html(teacher.get("/annuaire/?nom=ma"))
    assert french.one("form", role="search").one("button").text == "Rechercher"
    post_form(teacher, "/langue/en", {"next": "/annuaire/"}, page="/annuaire/")
    english = html(teacher.get("/annuaire/?nom=ma"))
    assert english.one("form", role="search").one("button").text == "Search"
    assert english.one("label", for_="discipline").text == "Subject"
    assert [link.text for link in english.all("a", aria_current="page")] == ["Directory"]
    assert english.one("h1").text == "Directory"
    services = [link.text for link in english.all("nav")[0].all("a")]
    assert services[:4] == ["Mail", "Directory", "Groups", "Address book"], services
    assert "Messagerie" in [link.text for link in french.all("nav")[0].all("a")]
    picker = html(teacher.get("/messagerie/destinataires?nom=ma"))
    assert picker.one("h1").text == "Add recipients"


def test_the_codes_typed_for_other_schools_show_with_their_search(logged_in):
    advanced = logged_in("paul.durand")          # region-wide: the UAI field is offered
    first = html(advanced.get("/annuaire/?nom=ma&uai=0310024H"))
    assert first.one("input", id="uai").attrs["value"] == "0310024H"
    second = html(advanced.get("/annuaire/?nom=ma"))
    assert second.one("input", id="uai").attrs.get("value", "") == ""


def test_the_picker_as_a_fragment_and_as_a_page(teacher):
    fragment = html(teacher.get("/messagerie/destinataires?fragment=1&champ=cc&nom=ma"))
    assert [h.text for h in fragment.all("h2", id="picker-title")] == ["Ajouter des destinataires"]
    assert "« Copie »" in fragment.all("p")[0].text
    page = html(teacher.get("/messagerie/destinataires?champ=to&nom=ma"))
    assert [h.text for h in page.all("h1", id="picker-title")] == ["Ajouter des destinataires"]
    assert _selected(page, "picker-champ") == ["À"]


def _services(client) -> list[str]:
    return [link.text for link in html(client.get("/carnet/")).one("nav").all("a")]


def _signed_in(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client


def test_the_navigation_offers_each_person_their_own_services(app):
    """The services are kept per set of rights: a role taken away shows at the next page,
    and the same process goes on showing each other person theirs."""
    teacher = _signed_in(app, "claire.bernard")
    assert {"Groupes", "Écrire à plusieurs"} <= set(_services(teacher))
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        db.session.add(RoleOverride(account_id=claire.id, role=Role.DIRECTORY_MANAGER,
                                    granted=False))
        db.session.commit()
    services = _services(teacher)
    assert "Groupes" not in services and "Écrire à plusieurs" in services
    pupil = _services(_signed_in(app, "zoe.le-gall"))
    assert "Messagerie" in pupil
    assert not {"Groupes", "Écrire à plusieurs", "Administration"} & set(pupil)
    assert {"Groupes", "Administration"} <= set(_services(_signed_in(app, "admin")))
