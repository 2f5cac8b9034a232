"""A teacher's ad hoc group in Chromium: she creates it, adds Zoé from the Annuaire, gives her
a last day in the group with the row's date field, and reads it back; axe on the page."""
from __future__ import annotations

import uuid
from datetime import date

from tests.browser.conftest import axe_check, browser_login


def test_a_teacher_gives_a_member_a_last_day(page):
    browser_login(page, "claire.bernard")
    name = f"Stage {uuid.uuid4().hex[:6]}"
    page.goto("/groupes/nouveau")
    page.get_by_label("Nom du groupe").fill(name)
    page.get_by_role("button", name="Créer le groupe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == name
    group_page = page.url
    page.get_by_role("link", name="Ajouter des membres").click()
    page.get_by_label("Nom").fill("le gall")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_role("button", name="Ajouter Zoé Le Gall au groupe").click()
    page.wait_for_load_state()
    page.goto(group_page)

    last = date(date.today().year + 1, 1, 31)
    field = page.get_by_label("Jusqu'au (Zoé Le Gall)")
    field.fill(last.isoformat())
    page.get_by_role("button", name="Enregistrer : Zoé Le Gall").click()
    page.wait_for_load_state()
    assert f"Zoé Le Gall quittera le groupe après le {last:%d/%m/%Y}." in \
        page.get_by_role("status").all_inner_texts()
    assert page.get_by_label("Jusqu'au (Zoé Le Gall)").input_value() == last.isoformat()
    axe_check(page)
    assert page.problems.errors == [] and page.problems.dialogs == []
