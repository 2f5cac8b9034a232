"""Rubrics in Chromium: Claire publishes an article with an image in the 4A rubric, sends it to
"Parents d'élèves de 4A" asking for a confirmation of reading and watches the progress bar
reach 100 % while the worker routes it; Joseph's forward is an .eml in the capture folder with
his link; Zoé sees the article on her home page. axe on the rubric, editor, article, preview
and report pages."""
from __future__ import annotations

import re
import threading
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from tests.browser.conftest import axe_check, browser_login

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def run_worker(app) -> threading.Thread:
    """The outbound worker's rounds (fan-out batches, then forwards), as `preau worker`."""
    from mailgate import worker

    def work():
        with app.app_context():
            worker.drain()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def forwards_to(folder: Path, address: str, subject: str) -> list:
    found = []
    for path in folder.glob("*.eml"):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if mail["Delivered-To"] == address and mail["Subject"] == subject:
            found.append(mail)
    return found


def test_claire_publishes_sends_to_the_parents_of_4a_and_watches_the_progress(page, live_app,
                                                                              tmp_path):
    title = f"Sortie au musée des Augustins {uuid.uuid4().hex[:6]}"
    image = tmp_path / "affiche.png"
    image.write_bytes(PNG)
    browser_login(page, "claire.bernard")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Rubriques").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Mes rubriques"
    page.get_by_role("link", name="4A", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "4A"
    axe_check(page)

    page.get_by_role("link", name="Nouvel article").click()
    page.get_by_role("textbox", name="Titre", exact=True).fill(title)
    editor = page.locator(".ql-editor")
    editor.click()
    page.get_by_role("button", name="Intertitre", exact=True).click()
    page.keyboard.type("Jeudi 12 mars")
    page.keyboard.press("Enter")
    page.keyboard.type("Départ à 9 h devant le collège. ")
    page.get_by_role("button", name="Gras").click()
    page.keyboard.type("Prévoir un pique-nique.")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Insérer une image").click()
    chooser.value.set_files(str(image))
    editor.locator("img").wait_for()
    axe_check(page)
    page.get_by_role("button", name="Enregistrer l'article").click()

    assert page.get_by_role("heading", level=1).inner_text() == title
    body = page.locator(".article-body")
    assert body.locator("h2").inner_text() == "Jeudi 12 mars"
    assert body.locator("strong").inner_text() == "Prévoir un pique-nique."
    picture = body.locator("img")
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 1
    axe_check(page)

    page.get_by_role("link", name="Envoyer un message à une population").click()
    page.get_by_label("Parents d'élèves de 4A").check()
    page.get_by_label("Demander une confirmation de lecture").check()
    page.get_by_role("button", name="Voir le nombre de destinataires").click()
    preview = page.locator("#apercu")
    assert "Le recevront à leur adresse de redirection" in preview.inner_text()
    axe_check(page)
    preview.get_by_role("button", name=re.compile(r"^Envoyer à \d+ personnes?$")).click()

    bar = page.locator("#fanout-progress")
    bar.wait_for()
    assert bar.get_attribute("value") == "0"
    worker = run_worker(live_app)
    page.get_by_text("Envoi terminé.").wait_for(timeout=30_000)
    worker.join(60)
    assert page.locator("#fanout-progress").get_attribute("value") == "100"
    assert "(100 %)" in page.locator("#progress-text").inner_text()
    report = page.locator("table.counts").inner_text()
    assert re.search(r"Transférés à leur adresse de redirection\s+[1-9]", report), report
    axe_check(page)
    assert page.problems.errors == [] and page.problems.dialogs == []

    folder = Path(live_app.instance_path) / "mail-out"
    (forward,) = forwards_to(folder, "joseph@example.org", title)
    text = forward.get_body(("plain",)).get_content()
    assert "/rubriques/articles/" in text
    assert re.search(r"http://127\.0\.0\.1:\d+/rubriques/lecture/\S+", text), text
    assert forward["From"].addresses[0].addr_spec == "claire.bernard@ent.test"

    page.context.clear_cookies()
    browser_login(page, "zoe.le-gall")
    latest = page.get_by_role("region", name="Derniers articles")
    latest.get_by_role("link", name=title).click()
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.problems.errors == []
