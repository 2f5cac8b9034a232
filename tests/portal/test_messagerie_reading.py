"""Reading through HTTP: text as text, HTML sanitised in its own framed document, attachments
down byte for byte with the headers that keep a browser from running them, read receipts."""
from __future__ import annotations

import io
import os

from sqlalchemy import select

from directory.db import db
from mailgate import mime, routing, store
from mailgate.models import FolderKind, MailMessage, OutboundEntry
from tests.conftest import csrf_token

from .carnet_helpers import client_of, page
from .messagerie_helpers import (
    account,
    compose_post,
    deliver,
    flashes,
    item_id,
    items,
    message,
    person,
)


def test_text_is_shown_as_text_and_reading_marks_read(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Code",
            "Regarde : <b>gras</b> <script>alert(1)</script>\nLigne 2")
    item = item_id(app, "zoe.le-gall", "Code")
    response = student.get(f"/messagerie/message/{item}")
    html = response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    doc = page(response)
    assert doc.find("pre", class_="mail-text").text.startswith("Regarde : <b>gras</b>")
    headers = doc.find("dl", class_="mail-headers").text
    assert "Lucas Martin <lucas.martin@ent.test>" in headers
    assert items(app, "zoe.le-gall", FolderKind.INBOX)[0][2] is True


def test_html_is_sanitised_in_a_sandboxed_frame_with_its_own_policy(app, student):
    html = ('<p onclick="alert(1)">Bonjour <a href="javascript:alert(2)">lien</a> '
            '<a href="https://exemple.org/">site</a></p><script>alert(3)</script>'
            '<img src="https://tracker.example/pixel.gif" alt="pixel">')
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Lettre HTML", "Version texte", html=html)
    item = item_id(app, "zoe.le-gall", "Lettre HTML")
    doc = page(student.get(f"/messagerie/message/{item}"))
    frame = doc.find("iframe", class_="mail-html")
    assert "allow-scripts" not in frame.attrs["sandbox"]
    assert "allow-same-origin" not in frame.attrs["sandbox"]
    assert frame.attrs["src"] == f"/messagerie/message/{item}/contenu"
    notice = doc.find("p", class_="remote-images")
    assert notice.text.startswith("Images distantes masquées — Afficher les images")
    assert notice.find("a").attrs["href"] == f"/messagerie/message/{item}?images=1"

    content = student.get(frame.attrs["src"])
    body = content.get_data(as_text=True)
    assert "<script" not in body and "onclick" not in body and "javascript:" not in body
    assert 'rel="noopener noreferrer"' in body
    policy = content.headers["Content-Security-Policy"]
    assert "img-src data:;" in policy and "script-src" not in policy
    assert "default-src 'none'" in policy
    assert content.headers["X-Frame-Options"] == "SAMEORIGIN"

    shown = page(student.get(f"/messagerie/message/{item}?images=1"))
    assert shown.find("iframe", class_="mail-html").attrs["src"].endswith("?images=1")
    assert shown.find("p", class_="remote-images").text == \
        "Images distantes affichées — Masquer les images"
    with_images = student.get(f"/messagerie/message/{item}/contenu?images=1")
    assert "img-src data: https: http:" in with_images.headers["Content-Security-Policy"]


def test_a_text_message_has_no_frame(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Texte")
    item = item_id(app, "zoe.le-gall", "Texte")
    assert student.get(f"/messagerie/message/{item}/contenu").status_code == 404


def test_attachments_up_and_down_byte_for_byte(app, teacher):
    binary = os.urandom(150_000)
    text = "Résumé : élèves\n".encode() * 100
    response = compose_post(teacher, {
        "to": f"p:{person(app, 'zoe.le-gall')}", "subject": "Documents",
        "body": "Voici les documents."}, files=[
        (io.BytesIO(binary), "données.bin", "application/octet-stream"),
        (io.BytesIO(text), "résumé.txt", "text/plain")])
    assert response.status_code == 303, response.get_data(as_text=True)

    zoe = client_of(app, "zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Documents")
    doc = page(zoe.get(f"/messagerie/message/{item}"))
    links = doc.find("section", class_="attachments").find_all("a")
    assert [a.text for a in links] == ["données.bin", "résumé.txt"]
    assert "application/octet-stream" in doc.find("section", class_="attachments").text
    downloads = [zoe.get(a.attrs["href"]) for a in links]
    assert downloads[0].data == binary and downloads[1].data == text
    for download in downloads:
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in download.headers["Content-Security-Policy"]
    assert "filename*=UTF-8''donn%C3%A9es.bin" in downloads[0].headers["Content-Disposition"]
    assert downloads[1].headers["Content-Type"].startswith("text/plain")

    lucas = client_of(app, "lucas.martin")
    assert lucas.get(links[0].attrs["href"]).status_code == 404


def test_read_receipt_round_trip_between_students(app, logged_in):
    lucas = client_of(app, "lucas.martin")
    response = compose_post(lucas, {"to": f"p:{person(app, 'zoe.le-gall')}",
                                    "subject": "Tu as lu ?", "body": "Dis-moi.",
                                    "receipt": "y"})
    assert response.status_code == 303
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Tu as lu ?")
    first = zoe.get(f"/messagerie/message/{item}")
    question = page(first).find("div", class_="receipt-question")
    assert "Lucas Martin demande un accusé de réception" in question.text
    answer = zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(first.get_data(as_text=True)), "reponse": "oui"})
    assert answer.status_code == 303
    assert "L'accusé de réception a été envoyé à Lucas Martin." in flashes(
        zoe.get(f"/messagerie/message/{item}"))

    receipts = [s for _, s, _ in items(app, "lucas.martin", FolderKind.INBOX)]
    assert receipts == ["Accusé de réception : Tu as lu ?"]
    receipt_item = item_id(app, "lucas.martin", "Accusé de réception : Tu as lu ?")
    text = page(lucas.get(f"/messagerie/message/{receipt_item}")).find(
        "pre", class_="mail-text").text
    assert "« Tu as lu ? »" in text and "a été lu par Zoé Le Gall" in text

    # Asked once: neither a second opening nor a forged second answer sends another.
    zoe.post("/messagerie/selection", data={"csrf_token": csrf_token(first.get_data(
        as_text=True)), "action": "non-lu", "item": str(item)})
    again = page(zoe.get(f"/messagerie/message/{item}"))
    assert not again.find_all("div", class_="receipt-question")
    forged = zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(first.get_data(as_text=True)), "reponse": "oui"})
    assert "Vous avez déjà répondu à cette demande d'accusé de réception." in flashes(
        zoe.get(forged.headers["Location"]))
    assert len(items(app, "lucas.martin", FolderKind.INBOX)) == 1


def test_the_question_stays_until_it_is_answered(app, logged_in):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Sortie",
            headers={"Disposition-Notification-To": "claire.bernard@ent.test"})
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Sortie")
    zoe.get(f"/messagerie/message/{item}")
    again = zoe.get(f"/messagerie/message/{item}")          # read now, still unanswered
    assert page(again).find_all("div", class_="receipt-question")
    zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(again.get_data(as_text=True)), "reponse": "oui"})
    assert [m.subject for m in _receipts(app)] == ["Accusé de réception : Sortie"]
    assert not page(zoe.get(f"/messagerie/message/{item}")).find_all(
        "div", class_="receipt-question")


def _receipts(app) -> list[MailMessage]:
    with app.app_context():
        return list(db.session.scalars(select(MailMessage).where(
            MailMessage.subject.startswith("Accusé de réception"))))


def test_declining_a_receipt_sends_nothing_and_does_not_ask_again(app, logged_in):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Réunion",
            headers={"Disposition-Notification-To": "claire.bernard@ent.test"})
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Réunion")
    first = zoe.get(f"/messagerie/message/{item}")
    assert page(first).find_all("div", class_="receipt-question")
    zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(first.get_data(as_text=True)), "reponse": "non"})
    assert not page(zoe.get(f"/messagerie/message/{item}")).find_all(
        "div", class_="receipt-question")
    # Not even when the message is unread again, and a forged "yes" afterwards sends nothing.
    zoe.post("/messagerie/selection", data={"csrf_token": csrf_token(first.get_data(
        as_text=True)), "action": "non-lu", "item": str(item)})
    again = zoe.get(f"/messagerie/message/{item}")
    assert not page(again).find_all("div", class_="receipt-question")
    forged = zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(again.get_data(as_text=True)), "reponse": "oui"})
    assert forged.status_code == 303
    assert not _receipts(app)


def test_a_teachers_receipt_is_forwarded_to_her_redirect_address(app, logged_in):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Conseil de classe",
            headers={"Disposition-Notification-To": "claire.bernard@ent.test"})
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Conseil de classe")
    first = zoe.get(f"/messagerie/message/{item}")
    zoe.post(f"/messagerie/message/{item}/accuse", data={
        "csrf_token": csrf_token(first.get_data(as_text=True)), "reponse": "oui"})
    with app.app_context():
        claire = account("claire.bernard")
        entry = db.session.scalar(select(OutboundEntry).where(
            OutboundEntry.account_id == claire.id))
        assert entry.address == "claire.bernard@example.net"
        forwarded = mime.parse(store.message_bytes(db.session.get(MailMessage,
                                                                  entry.message_id)))
        assert forwarded.subject == "Accusé de réception : Conseil de classe"
        assert "a été lu par Zoé Le Gall" in forwarded.text_body
        assert forwarded.addresses("from") == [("Zoé Le Gall", "zoe.le-gall@ent.test")]


def test_a_message_the_gateway_stored_raw_reads_whole_before_the_indexer_comes(app, student):
    """The SMTP gateway commits the message as received (mime.headers_only) and leaves its
    parts to mailgate/indexer.py; opening it first reads them there and then."""
    mail = message("lucas.martin", ["zoe.le-gall"], "Pas encore indexé", "Le texte brut.",
                   files=(("carte.txt", "text/plain", b"Carte de la sortie"),))
    with app.app_context():
        writer = account("lucas.martin")
        routing.route(writer, [account("zoe.le-gall").id],
                      mime.headers_only(mail.as_bytes(policy=mail.policy.clone(
                          linesep="\r\n"))))
        db.session.commit()
        stored = db.session.scalar(select(MailMessage).where(
            MailMessage.subject == "Pas encore indexé"))
        assert stored.indexed_at is None and stored.text_body == ""
    item = item_id(app, "zoe.le-gall", "Pas encore indexé")
    doc = page(student.get(f"/messagerie/message/{item}"))
    assert doc.find("pre", class_="mail-text").text.strip() == "Le texte brut."
    (link,) = doc.find("section", class_="attachments").find_all("a")
    assert link.text == "carte.txt"
    assert student.get(link.attrs["href"]).data == b"Carte de la sortie"
