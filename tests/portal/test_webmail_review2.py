"""Reading mail, after the second review of the webmail (reading side): every HTML part of a
message and a text part beside them are shown, an HTML-only message is found by its text,
`data:` URLs a browser would read past a tab or a control character are dropped, the
attachments of a message indexed on opening are there to download, JPEG pictures named
image/jpg show in place, and the smaller points (search past its last page, drafts not moved
out of Brouillons, the malformed notice in the reader's language, a download name with `/`)."""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from directory.db import db
from mailgate import indexer, mime, routing
from mailgate.models import FolderKind, MailMessage
from portal.mail_html import sanitize

from .carnet_helpers import page
from .messagerie_helpers import (
    DOMAIN,
    account,
    compose_post,
    deliver,
    flashes,
    folder_id,
    item_id,
    items,
    message,
    selection,
)
from .test_mail_reading_review import LOGO, frame_images


def _route(app, author: str, mail: EmailMessage, *, raw: bool = False) -> None:
    """Through the one routing path to zoe.le-gall: read whole (as the web's messages), or
    stored raw and indexed after the commit (`raw`: as the SMTP gateway does)."""
    with app.app_context():
        given = mime.headers_only(mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))) \
            if raw else mail
        result = routing.route(account(author), [account("zoe.le-gall").id], given)
        db.session.commit()
        assert all(r.accepted for r in result.recipients), result
        if raw:
            stored = db.session.scalar(select(MailMessage.id).where(
                MailMessage.subject == mail["Subject"]))
            assert indexer.index_ids([stored]) == 1


def _headed(author: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"{author}@{DOMAIN}"
    mail["To"] = f"zoe.le-gall@{DOMAIN}"
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="example.org")
    return mail


def _stored(app, subject: str) -> MailMessage:
    with app.app_context():
        return db.session.scalar(select(MailMessage).where(MailMessage.subject == subject))


# --- 2. every HTML part, and a text part beside the HTML ------------------------------------

def test_apple_mails_html_cut_around_a_picture_shows_whole(app, student):
    """multipart/alternative[text/plain, multipart/mixed[text/html, image, text/html]]: the
    part after the picture was hidden, and its markup went into the text (search, quotes)."""
    mail = _headed("lucas.martin", "Avec une image au milieu")
    mail.set_content("Avant l'image\n\nAprès l'image")
    mixed = EmailMessage()
    first = EmailMessage()
    first.set_content("<html><body><p>Avant l'image</p></body></html>", subtype="html")
    picture = EmailMessage()
    picture.set_content(LOGO, maintype="image", subtype="png", disposition="inline",
                        filename="a.png")
    second = EmailMessage()
    second.set_content("<html><head><style>p{}</style></head><body><p>Après l'image</p>"
                       "</body></html>", subtype="html")
    mixed.make_mixed()
    for part in (first, picture, second):
        mixed.attach(part)
    mail.make_alternative()
    mail.attach(mixed)
    _route(app, "lucas.martin", mail)
    item = item_id(app, "zoe.le-gall", "Avec une image au milieu")

    frame = student.get(f"/messagerie/message/{item}/contenu").get_data(as_text=True)
    assert "Avant l'image" in frame and "Après l'image" in frame
    stored = _stored(app, "Avec une image au milieu")
    assert "<p>" not in stored.text_body and "Après l'image" in stored.text_body


def test_a_lists_footer_beside_the_html_is_shown_under_it(app, student):
    """multipart/mixed[multipart/alternative[text, html], text/plain footer] (Mailman)."""
    mail = _headed("lucas.martin", "Avec un pied de liste")
    mail.set_content("Le corps du message")
    mail.add_alternative("<p>Le corps du <b>message</b></p>", subtype="html")
    mail.make_mixed()
    footer = EmailMessage()
    footer.set_content("Liste parents-4A <désinscription>")
    mail.attach(footer)
    _route(app, "lucas.martin", mail)
    item = item_id(app, "zoe.le-gall", "Avec un pied de liste")

    frame = page(student.get(f"/messagerie/message/{item}/contenu"))
    assert "Le corps du message" in frame.text
    assert frame.find("pre").text.strip() == "Liste parents-4A <désinscription>"
    # The text alternative of the HTML is not shown a second time.
    assert frame.text.count("Le corps du") == 1


# --- 3. an HTML-only message is found by its text ---------------------------------------------

def _html_only(subject: str) -> EmailMessage:
    mail = _headed("lucas.martin", subject)
    mail.set_content("<p>Sortie au <b>mus&eacute;e</b> jeudi &amp; vendredi</p>",
                     subtype="html")
    return mail


def _found(client, text: str) -> str:
    return page(client.get("/messagerie/recherche", query_string={"q": text})).find(
        "p", class_="result-count").text


def test_an_html_only_message_is_found_by_its_text_once_indexed(app, student):
    _route(app, "lucas.martin", _html_only("Annonce en HTML"), raw=True)
    assert _found(student, "musee jeudi & vendredi") == \
        "1 message contient « musee jeudi & vendredi »"


def test_an_html_only_message_read_whole_is_found_by_its_text(app, student):
    _route(app, "lucas.martin", _html_only("Annonce en HTML, lue entière"))
    assert _found(student, "musee") == "1 message contient « musee »"
    assert "<b>" not in _stored(app, "Annonce en HTML, lue entière").search_text


# --- 4. data: URLs with a tab, a line break or a control character ----------------------------

def test_data_urls_a_browser_reads_past_tabs_and_controls_are_dropped():
    for html in ('<a href="da&#9;ta:text/html,x">x</a>', '<a href="&#1;data:text/html,x">x</a>',
                 '<a href="data&#10;:text/html,x">x</a>', '<a href=" &#31;DATA:text/html,x">x</a>'):
        assert "href" not in sanitize(html), html
    assert "src" not in sanitize('<img src="da&#10;ta:image/svg+xml,x">')
    assert "src" not in sanitize('<img src="&#2;data:image/svg+xml,x">')
    kept = sanitize('<img src="da&#9;ta:image/png;base64,iVBO">')
    assert 'src="data:image/png;base64,iVBO"' in kept
    assert 'href="https://example.org/a"' in sanitize('<a href="&#1;https://exa&#10;mple.org/a">a</a>')


# --- 5. attachments of a message indexed on opening, already read -----------------------------

def test_attachments_of_a_read_message_indexed_on_opening_can_be_downloaded(app, student):
    mail = message("lucas.martin", ["zoe.le-gall"], "Lu avant d'être indexé", "Le texte.",
                   files=(("carte.txt", "text/plain", b"Carte de la sortie"),))
    with app.app_context():
        routing.route(account("lucas.martin"), [account("zoe.le-gall").id],
                      mime.headers_only(mail.as_bytes(policy=mail.policy.clone(
                          linesep="\r\n"))))
        db.session.commit()
    item = item_id(app, "zoe.le-gall", "Lu avant d'être indexé")
    selection(student, [item], "lu")
    assert items(app, "zoe.le-gall")[0] == (item, "Lu avant d'être indexé", True)
    assert _stored(app, "Lu avant d'être indexé").indexed_at is None

    doc = page(student.get(f"/messagerie/message/{item}"))
    (link,) = doc.find("section", class_="attachments").find_all("a")
    response = student.get(link.attrs["href"])
    assert response.status_code == 200 and response.data == b"Carte de la sortie"


# --- 6. a JPEG picture named image/jpg or image/pjpeg -----------------------------------------

def test_pictures_typed_image_jpg_show_in_place(app, student):
    from .test_mail_reading_review import deliver_related

    deliver_related(app, "Photo jpg", '<p>Photo</p><img src="cid:photo@x"><img src="cid:p2@x">',
                    [(b"\xff\xd8\xff\xe0jpeg", "image/jpg", "photo@x"),
                     (b"\xff\xd8\xff\xe0pjpeg", "image/pjpeg", "p2@x")])
    item = item_id(app, "zoe.le-gall", "Photo jpg")
    first, second = frame_images(student, item)
    assert first["src"].startswith("data:image/jpeg;base64,")
    assert second["src"].startswith("data:image/jpeg;base64,")


# --- 8. smaller points ------------------------------------------------------------------------

def test_search_past_its_last_page_answers_404_as_a_folder_does(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Cherchable unique")
    response = student.get("/messagerie/recherche", query_string={"q": "Cherchable", "page": 9})
    assert response.status_code == 404
    doc = page(response)
    assert "Cette page n'existe pas : la recherche tient sur 1 page(s)." in \
        doc.find("div", class_="form-errors").text
    assert doc.find_all("p", class_="result-count") == []
    ok = student.get("/messagerie/recherche", query_string={"q": "Cherchable", "page": 1})
    assert ok.status_code == 200
    nothing = student.get("/messagerie/recherche", query_string={"q": "introuvable"})
    assert nothing.status_code == 200


def test_drafts_are_not_moved_out_of_brouillons(app, student):
    lucas = account_id(app, "lucas.martin")
    compose_post(student, {"action": "brouillon", "to": f"p:{lucas}", "subject": "À finir",
                           "body": "Premier jet"})
    draft = item_id(app, "zoe.le-gall", "À finir", FolderKind.DRAFTS)
    drafts = folder_id(app, "zoe.le-gall", FolderKind.DRAFTS)
    assert page(student.get(f"/messagerie/dossier/{drafts}")).find_all(
        "select", id="destination") == []
    inbox = folder_id(app, "zoe.le-gall", FolderKind.INBOX)
    selection(student, [draft], "deplacer", destination=str(inbox))
    assert ("On ne déplace pas un brouillon : il ne s'ouvre, pour être terminé et envoyé, "
            "que dans « Brouillons ».") in \
        flashes(student.get("/messagerie/"))
    assert item_id(app, "zoe.le-gall", "À finir", FolderKind.DRAFTS) == draft
    # From a search, beside a message that may move: nothing moves.
    deliver(app, "lucas.martin", ["zoe.le-gall"], "À ranger")
    other = item_id(app, "zoe.le-gall", "À ranger")
    selection(student, [other, draft], "deplacer", destination=str(inbox))
    assert item_id(app, "zoe.le-gall", "À finir", FolderKind.DRAFTS) == draft


def account_id(app, login: str) -> int:
    with app.app_context():
        return account(login).id


MALFORMED = (b"From: lucas.martin@ent.test\r\nTo: zoe.le-gall@ent.test\r\n"
             b"Subject: Mal construit\r\nMessage-ID: <mal-construit@example.org>\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
             b"pas de limite ici\r\n")


def test_the_malformed_notice_is_the_pages_not_the_stored_texts(app, student):
    with app.app_context():
        routing.route(account("lucas.martin"), [account("zoe.le-gall").id],
                      mime.parse(MALFORMED))
        db.session.commit()
    stored = _stored(app, "Mal construit")
    assert stored.malformed and stored.text_body == "pas de limite ici\r\n"
    item = item_id(app, "zoe.le-gall", "Mal construit")
    doc = page(student.get(f"/messagerie/message/{item}"))
    assert doc.find("p", class_="malformed").text == \
        "Ce message est mal formé : il est reproduit ci-dessous tel qu'il a été reçu."
    assert doc.find("pre", class_="mail-text").text.strip() == "pas de limite ici"


def test_a_message_stored_with_the_french_notice_shows_it_once(app, student):
    with app.app_context():
        routing.route(account("lucas.martin"), [account("zoe.le-gall").id],
                      mime.parse(MALFORMED.replace(b"Mal construit", b"Ancien mal construit")))
        stored = db.session.scalar(select(MailMessage).where(
            MailMessage.subject == "Ancien mal construit"))
        stored.text_body = mime.MALFORMED_NOTICE + stored.text_body      # as stored before
        db.session.commit()
    item = item_id(app, "zoe.le-gall", "Ancien mal construit")
    doc = page(student.get(f"/messagerie/message/{item}"))
    assert "[Préau]" not in doc.text
    assert doc.find("pre", class_="mail-text").text.strip() == "pas de limite ici"


def test_a_download_name_with_a_slash_is_percent_encoded(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Nom à barre", "Voir.",
            files=(("notes 1/2.txt", "text/plain", b"x"),))
    item = item_id(app, "zoe.le-gall", "Nom à barre")
    link = page(student.get(f"/messagerie/message/{item}")).find(
        "section", class_="attachments").find("a")
    disposition = student.get(link.attrs["href"]).headers["Content-Disposition"]
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert "/" not in encoded and "%2F" in encoded
