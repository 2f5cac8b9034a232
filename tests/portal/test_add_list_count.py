"""« Ajouter la liste » on the Annuaire says how many people it adds: the search's results of
the group's school who are not members yet — not every result of the search."""
from __future__ import annotations

from tests.conftest import post_form

from .annuaire_helpers import group_id, html, people_rows
from .test_admin_review_fixes import _share_claire
from .test_groupes import account_id, create, members_of


def _button(page) -> str:
    return page.one("form", class_="add-list").one("button").text


def test_the_button_counts_only_those_it_adds(teacher, app):
    gid, four_a = create(teacher, app), group_id(app, "4A")
    search = f"/annuaire/?pour_groupe={gid}&groupe={four_a}&profil=student"
    students = len(people_rows(html(teacher.get(search + "&par_page=100"))))
    assert post_form(teacher, f"/groupes/{gid}/membres/ajouter",
                     {"account": account_id(app, "zoe.le-gall")},
                     page=search).status_code == 303

    page = html(teacher.get(search))
    assert _button(page) == f"Ajouter la liste ({students - 1} personnes)"
    form = page.one("form", class_="add-list")
    data = {field.attrs["name"]: field.attrs["value"] for field in form.all("input")}
    assert teacher.post(form.attrs["action"], data=data).status_code == 303
    assert len(members_of(app, gid)) == students + 1

    page = html(teacher.get(search))       # every result is a member now
    assert not page.all("form", class_="add-list")
    assert "ils en font déjà partie, ou ne sont pas de son établissement" in \
        page.one("p", id="add-list-none").text


def test_the_button_leaves_out_the_results_of_other_schools(teacher, app):
    """Claire teaches in a second school too: her search finds its teachers, whom a group of
    her first school cannot take; the button counts those of the group's school only, as many
    as the list then adds."""
    gid = create(teacher, app)              # in Collège Jean Jaurès (0310024H)
    _share_claire(app)
    search = f"/annuaire/?pour_groupe={gid}&profil=teacher&par_page=100"
    page = html(teacher.get(search))
    everyone = people_rows(page)
    count = int(_button(page).split("(")[1].split()[0])
    assert 0 < count < len(everyone) - 1, (count, len(everyone))
    form = page.one("form", class_="add-list")
    data = {field.attrs["name"]: field.attrs["value"] for field in form.all("input")}
    assert teacher.post(form.attrs["action"], data=data).status_code == 303
    assert len(members_of(app, gid)) == count + 1
