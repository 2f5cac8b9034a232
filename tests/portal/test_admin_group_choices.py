"""« Écrire à plusieurs » for a region administrator: the region has thousands of groups, more
than the form used to offer (every group of the region, cut at 2,000, so a group past the cut
was refused as « Not a valid choice »). She may choose any group of the region: the groups
she chose are checked by one query on their ids; the page lists a bounded number of the
others, which she narrows by a group's name. A teacher's groups stay those of her schools."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Group, GroupMember, ParentLink, School
from directory.search import name_key
from portal.communications.write_views import LISTED_GROUPS
from tests.conftest import csrf_token, login
from tests.query_count import counting

from .annuaire_helpers import account, group_id, html, school_id
from .test_communications import communications_of

URL = "/communications/ecrire"
LAST = "Zz dernier groupe"      # sorts after every group below, of the same kind
MANY = 2001                     # more than the 2,000 groups the form used to offer


@dataclass
class Crowded:
    last: int       # LAST's id
    label: str      # LAST as the administrator's list names it, with its school


@pytest.fixture
def crowded_region(app) -> Crowded:
    """MANY groups in a school of the region that is not Claire's, all sorting before LAST,
    which holds Zoé."""
    school = school_id(app, "0310002C")
    names = [f"Atelier {n:04d}" for n in range(MANY)] + [LAST]
    with app.app_context():
        db.session.execute(insert(Group), [
            {"kind": GroupKind.GROUP, "name": name, "search_name": name_key(name),
             "school_id": school, "description": ""} for name in names])
        last = db.session.scalar(select(Group.id).where(Group.name == LAST))
        db.session.add(GroupMember(group_id=last, account_id=account(app, "zoe.le-gall").id))
        db.session.commit()
        return Crowded(last, f"{LAST} ({db.session.get(School, school).name})")


def _post(client, data: dict):
    page = client.get(URL).get_data(as_text=True)
    return client.post(URL, data={"csrf_token": csrf_token(page), "objet": "Réunion",
                                  "texte": "Bonjour", **data})


def _options(page) -> dict[str, tuple[str, bool]]:
    """The « Membres des groupes » list as shown: value → (label, chosen)."""
    select_ = page.one("select", name="groupes")
    return {option.attrs["value"]: (option.text, "selected" in option.attrs)
            for option in select_.all("option")}


def _errors(page) -> list[str]:
    """What the form says is wrong (not the whole page: it lists hundreds of groups)."""
    return [errors.text for errors in page.all("ul", class_="errors")]


def _count(page) -> str:
    return page.one("p", id="recipient-count").text


def test_an_administrator_chooses_a_group_past_the_first_2000(admin, app, crowded_region):
    last = str(crowded_region.last)
    response = _post(admin, {"groupes": last, "compter": "1"})
    page = html(response)
    assert response.status_code == 200, _errors(page)
    assert _count(page) == "1 destinataire"
    assert _options(page)[last] == (crowded_region.label, True)

    saved = _post(admin, {"groupes": last, "brouillon": "1"})
    assert saved.status_code == 303
    [draft] = communications_of(app, "admin")
    assert draft.chosen.group_ids == (crowded_region.last,)
    assert draft.audience_label == crowded_region.label
    reopened = html(admin.get(f"{URL}/{draft.id}"))
    assert _options(reopened)[last] == (crowded_region.label, True)     # can be saved again

    # An id no group has is still refused, beside a good one: no count, nothing saved.
    for value in ("2147483647", "0", "99999999999999999999", "x"):
        for button in ("compter", "brouillon"):
            response = _post(admin, {"groupes": [last, value], button: "1"})
            page = html(response)
            assert response.status_code == 400, (value, button)
            assert not page.all("p", id="recipient-count")
            assert page.one("ul", id="groupes-errors").text
    assert [c.id for c in communications_of(app, "admin")] == [draft.id]


def test_the_parents_of_a_group_past_the_first_2000_are_counted_for_an_administrator_only(
        admin, app, crowded_region):
    with app.app_context():
        zoe = account(app, "zoe.le-gall").id
        parents = db.session.scalar(select(func.count(func.distinct(ParentLink.parent_id)))
                                    .where(ParentLink.child_id == zoe))
    assert parents > 0
    response = _post(admin, {"parents_de": str(crowded_region.last), "compter": "1"})
    page = html(response)
    assert response.status_code == 200, _errors(page)
    assert _count(page).split()[0] == str(parents)

    # A teacher's groups are still her schools' (this one is not).
    teacher = app.test_client()
    assert login(teacher, "claire.bernard").status_code == 302
    listed = _options(html(teacher.get(URL)))
    assert str(group_id(app, "4A")) in listed and str(crowded_region.last) not in listed
    response = _post(teacher, {"parents_de": str(crowded_region.last), "compter": "1"})
    assert response.status_code == 400
    assert not html(response).all("p", id="recipient-count")
    assert not html(response).all("input", name="groupes_nom")


def test_the_page_lists_a_bounded_number_of_groups_and_finds_the_others_by_name(
        admin, crowded_region):
    page = html(admin.get(URL))
    listed = _options(page)
    assert len(listed) == LISTED_GROUPS and str(crowded_region.last) not in listed
    assert "cherchez les autres par leur nom" in page.one("p", id="groups-cut").text

    with counting(admin.application) as statements:
        response = _post(admin, {"groupes_nom": "zz DERNIER", "chercher_groupes": "1"})
    assert response.status_code == 200
    found = html(response)
    assert _options(found) == {str(crowded_region.last): (crowded_region.label, False)}
    assert not found.all("p", id="groups-cut")
    # a search for a group counts nobody (the audience would be the whole region)
    assert not any("count(" in s.lower() for s in statements), statements
