"""The administrator imports a cp1252 file from Excel for the demo school, reads the
preview, applies it (batches and a progress bar), finds a new pupil, prints her sheet,
suspends and reactivates her — in a real Chromium, with an accessibility check."""
from __future__ import annotations

import uuid

from tests.browser.conftest import axe_check, browser_login


def _letters() -> str:
    return "".join("abcdefghijklmnop"[int(c, 16)] for c in uuid.uuid4().hex[:6])


def test_import_preview_apply_find_print_suspend(page):
    last = "Lefèvre" + _letters()
    rows = [f"{last};Élodie;Élève;4A;;", f"{last};Noé;Élève;4A;;", "Sans;Profil;Chef;;;"]
    data = ("Nom;Prénom;Profil;Classe;Courriel;Mot de passe\r\n"
            + "\r\n".join(rows) + "\r\n").encode("cp1252")
    browser_login(page, "admin")
    page.get_by_role("navigation", name="Services").get_by_role(
        "link", name="Administration").click()
    page.get_by_role("link", name="Importer un fichier CSV").click()
    axe_check(page)
    school = page.locator("#etablissement option", has_text="0310024H").inner_text()
    page.get_by_label("Établissement").select_option(label=school)
    page.get_by_label("Fichier CSV").set_input_files(
        files=[{"name": "eleves.csv", "mimeType": "text/csv", "buffer": data}])
    page.get_by_role("button", name="Voir l'aperçu").click()

    preview = page.get_by_role("table", name="Sort de chaque ligne")
    assert "Windows-1252" in page.locator("main").inner_text()
    first = preview.locator("tbody tr").nth(0).inner_text()
    assert "création" in first and "0310024h.e.lefevre" in first
    assert "profil inconnu « Chef »" in preview.locator("tbody tr").nth(2).inner_text()
    axe_check(page)
    page.get_by_role("button", name="Appliquer").click()
    page.wait_for_url("**/resultat")
    assert page.locator(".import-summary").inner_text() == \
        "2 créés, 0 modifiés, 1 ligne en erreur non importée."

    page.goto("/administration/comptes/")
    page.get_by_label("Nom", exact=True).fill(last)
    page.get_by_role("button", name="Filtrer").click()
    axe_check(page)
    page.get_by_role("link", name=f"{last} Élodie").click()
    login = page.locator("#identifiant").inner_text()
    assert login.startswith("0310024h.e.lefevre")
    axe_check(page)
    account_url = page.url

    page.get_by_role("link", name="Imprimer une fiche (nouveau mot de passe)…").click()
    assert "cessera de fonctionner" in page.locator("main").inner_text()
    page.get_by_role("button", name="Remplacer le mot de passe et afficher la fiche").click()
    sheet = page.locator("article.login-sheet")
    assert sheet.locator(".sheet-login").inner_text() == login
    assert len(sheet.locator(".sheet-password").inner_text()) >= 12
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Imprimer").click()
    assert page.evaluate("window.printed") is True

    page.goto(account_url)
    page.get_by_role("button", name="Suspendre le compte").click()
    assert page.locator("#etat").inner_text() == "suspendu"
    assert "il ne peut plus se connecter" in page.locator("main").inner_text()
    page.get_by_role("button", name="Réactiver le compte").click()
    assert page.locator("#etat").inner_text() == "actif"
    assert page.problems.errors == [] and page.problems.dialogs == []
