"""A teacher creates an ad hoc group, adds the whole list of a directory search to it and sees
the members — in a real Chromium, with an accessibility check on each page."""
from __future__ import annotations

import uuid

from tests.browser.conftest import axe_check, browser_login


def test_teacher_creates_a_group_and_adds_the_list_of_a_search(page):
    name = f"Club théâtre {uuid.uuid4().hex[:6]}"
    browser_login(page, "claire.bernard")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Groupes").click()
    axe_check(page)
    page.get_by_role("link", name="Créer un groupe").click()
    page.get_by_label("Nom du groupe").fill(name)
    page.get_by_label("Description").fill("Répétitions le jeudi")
    page.get_by_label("Groupe pérenne").check()
    axe_check(page)
    page.get_by_role("button", name="Créer le groupe").click()

    assert page.get_by_role("heading", level=1).inner_text() == name
    assert f"Le groupe « {name} » est créé." in page.locator("main").inner_text()
    page.get_by_role("link", name="Ajouter des membres").click()
    page.get_by_label("Classe ou groupe").select_option(label="4A · Classe · 0310024H")
    page.get_by_role("checkbox", name="Élève", exact=True).check()
    page.get_by_role("button", name="Rechercher").click()
    axe_check(page)
    add_list = page.get_by_role("button", name="Ajouter la liste")
    label = add_list.inner_text()
    count = int(label.split("(")[1].split()[0])
    assert count > 20
    add_list.click()

    main = page.locator("main").inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert f"{count} personne(s) ajoutée(s) au groupe." in main
    assert f"{count + 1} résultats" in main
    members = page.get_by_role("table", name=f"Membres du groupe {name}")
    assert members.get_by_role("cell", name="Le Gall Zoé").is_visible()
    assert members.get_by_role("cell", name="Bernard Claire gestionnaire").is_visible()
    axe_check(page)
    assert page.problems.errors == [] and page.problems.dialogs == []
