"""The Messagerie in Chromium: the XSS corpus delivered as HTML mail runs nothing; a student
reads, replies and files a message; a teacher writes to a class through the picker with an
attachment; axe on the mailbox, reading and compose pages."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

from sqlalchemy import select

from directory.db import db
from mailgate.models import MailAttachment, MailBlob, MailMessage
from tests.browser.conftest import axe_check, browser_login
from tests.portal.messagerie_helpers import deliver

CORPUS = (Path(__file__).parent.parent / "data" / "xss_corpus.html").read_text()


def unique(subject: str) -> str:
    return f"{subject} {uuid.uuid4().hex[:6]}"


def open_message(page, subject: str) -> None:
    page.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == subject


def blocked(text: str) -> bool:
    """What the console reports when something is kept from loading — the frame's policy
    refusing a remote image, or the test refusing every outside request: expected."""
    return "Content Security Policy" in text or text == "Failed to load resource: net::ERR_FAILED"


def test_the_xss_corpus_in_html_mail_runs_no_script(page, live_app, live_server):
    subject = unique("Corpus XSS")
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], subject, "Version texte : " + CORPUS,
            html='<p>Bonjour</p><img src="https://images.example/photo.png" alt="photo">\n'
            + CORPUS)
    outside = []

    def elsewhere(route):
        outside.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(?!" + re.escape(live_server) + r")https?://"), elsewhere)
    browser_login(page, "zoe.le-gall")
    page.goto("/messagerie/")
    open_message(page, subject)
    for images in (False, True):
        if images:
            page.get_by_role("link", name="Afficher les images").click()
            page.wait_for_load_state()
        frame_element = page.locator("iframe.mail-html")
        frame_element.wait_for()
        frame = frame_element.element_handle().content_frame()
        frame.wait_for_load_state()
        assert "Bonjour" in frame.locator("body").inner_text()
        for element in frame.locator("body *").all()[:200]:
            if element.is_visible():
                element.hover(timeout=2000)
        for link in frame.get_by_text("cliquez").all():
            link.click(timeout=2000, no_wait_after=True)
        page.wait_for_timeout(500)
        assert page.problems.dialogs == [], page.problems.dialogs
        assert [e for e in page.problems.errors if not blocked(e)] == [], \
            page.problems.errors
    # Remote content was fetched only once the reader asked for images, and never a script.
    assert outside == ["https://images.example/photo.png"], outside


def test_a_student_reads_replies_and_files_a_message(page, live_app):
    subject = unique("Exposé sur Victor Hugo")
    deliver(live_app, "claire.bernard", ["zoe.le-gall"], subject,
            "Préparez l'exposé pour lundi.\n<b>Pas du HTML</b>")
    browser_login(page, "zoe.le-gall")
    page.get_by_role("navigation", name="Services").get_by_role("link", name="Messagerie").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Boîte de réception"
    assert "Vous utilisez actuellement" in page.locator(".quota").inner_text()
    axe_check(page)

    open_message(page, subject)
    assert "<b>Pas du HTML</b>" in page.locator("pre.mail-text").inner_text()
    axe_check(page)

    page.get_by_role("link", name="Répondre", exact=True).click()
    assert page.get_by_label("Objet").input_value() == f"Re : {subject}"
    assert "Claire Bernard" in page.locator("#recipients-to").inner_text()
    axe_check(page)
    text = page.get_by_label("Message", exact=True)
    text.press("Control+Home")
    text.type("Merci, c'est noté.")
    assert "Claire Bernard <claire.bernard@ent.test> a écrit :" in text.input_value()
    page.get_by_role("button", name="Envoyer", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Résultat de l'envoi"
    result = page.locator("table.send-result").inner_text()
    assert "Claire Bernard" in result and "Transféré à son adresse de redirection" in result
    axe_check(page)

    page.get_by_role("link", name="Gérer mes dossiers").click()
    folder = unique("Français")
    page.get_by_label("Nom du dossier").fill(folder)
    page.get_by_role("button", name="Créer le dossier").click()
    assert f"Le dossier « {folder} » est créé." in page.locator("main").inner_text()

    page.goto("/messagerie/")
    open_message(page, subject)
    page.get_by_label("Dossier de destination").select_option(label=folder)
    page.get_by_role("button", name="Déplacer", exact=True).click()
    assert "déplacé dans" in page.locator("main").inner_text()
    page.get_by_role("navigation", name="Dossiers").get_by_role(
        "link", name=re.compile(re.escape(folder))).click()
    assert page.get_by_role("heading", level=1).inner_text() == folder
    assert subject in page.locator("table.mail-list").inner_text()
    select_all = page.get_by_label("Tout sélectionner")
    select_all.check()
    assert all(box.is_checked() for box in page.locator("input[name=item]").all())
    assert page.problems.errors == [] and page.problems.dialogs == []


def test_a_teacher_writes_to_her_class_through_the_picker_with_an_attachment(page, live_app,
                                                                             tmp_path):
    subject = unique("Sortie au théâtre")
    browser_login(page, "claire.bernard")
    page.goto("/messagerie/")
    assert page.get_by_role("heading", level=1).inner_text() == "Boîte d'envoi"
    axe_check(page)
    page.get_by_role("link", name="Écrire un message").click()
    page.wait_for_url("**/messagerie/ecrire")
    axe_check(page)

    page.get_by_role("button", name="Ajouter un destinataire").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("table", name="Mes classes et groupes").wait_for()
    axe_check(page)
    add_4a = page.get_by_role("link", name="Ajouter la liste : 4A", exact=True)
    row = dialog.get_by_role("row").filter(has=add_4a)
    members = int(row.get_by_role("cell").nth(1).inner_text())
    row.get_by_role("link", name="Ajouter la liste").click()
    assert "ajouté(e) aux destinataires" in dialog.locator(".picker-status").inner_text()
    dialog.get_by_role("button", name="Fermer").click()
    count = page.locator("#recipient-count")
    assert count.inner_text() == f"{members} destinataires sur 50 au plus"

    page.get_by_label("Ajouter en").select_option(label="Copie")
    page.get_by_role("button", name="Ajouter un destinataire").click()
    dialog.get_by_label("Nom ou prénom").fill("fabre")
    dialog.get_by_role("button", name="Rechercher").click()
    dialog.get_by_role("link", name="Ajouter : Joseph Fabre").click()
    dialog.get_by_role("button", name="Fermer").click()
    assert "Joseph Fabre" in page.locator("#recipients-cc").inner_text()
    assert count.inner_text() == f"{members + 1} destinataires sur 50 au plus"
    page.locator("#recipients-cc").get_by_role("button", name=re.compile("Joseph Fabre")).click()
    assert count.inner_text() == f"{members} destinataires sur 50 au plus"

    attachment = tmp_path / "autorisation.pdf"
    attachment.write_bytes(b"%PDF-1.4 autorisation de sortie " * 50)
    page.get_by_label("Objet").fill(subject)
    page.get_by_label("Message", exact=True).fill("Merci de faire signer l'autorisation jointe.")
    page.get_by_label("Pièces jointes", exact=True).set_input_files(str(attachment))
    page.get_by_role("button", name="Envoyer", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Résultat de l'envoi"
    result = page.locator("table.send-result").inner_text()
    assert "Zoé Le Gall" in result and "Remis dans sa messagerie" in result
    assert result.count("\n") >= members - 1
    assert page.problems.errors == [] and page.problems.dialogs == []

    with live_app.app_context():
        message = db.session.scalar(select(MailMessage).where(MailMessage.subject == subject))
        data = db.session.scalar(select(MailBlob.data).join(
            MailAttachment, MailAttachment.blob_sha256 == MailBlob.sha256).where(
            MailAttachment.message_id == message.id))
    assert data == attachment.read_bytes()
