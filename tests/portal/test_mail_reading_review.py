"""Reading mail, after the front-end review: the pictures a mail client sends inside an HTML
message (`cid:`) show in place, attachments that a browser could run as script, style or page
go out as application/octet-stream, and the framed message is sandboxed even opened on its own,
its links to its own sections scrolling it instead of opening it in a new tab."""
from __future__ import annotations

import base64
import struct
import zlib

from directory.db import db
from mailgate import routing
from portal.mail_html import has_remote_images, sanitize

from .carnet_helpers import client_of, page
from .messagerie_helpers import account, deliver, item_id, message


def png(width: int, height: int) -> bytes:
    """A real PNG of one colour, as a mail client pastes it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


LOGO = png(12, 7)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def deliver_related(app, subject: str, html: str, parts: list[tuple[bytes, str, str]]) -> None:
    """An HTML message whose pictures travel inside it (multipart/related, each part with its
    Content-ID), as Gmail, Outlook or Apple Mail send a signature or a pasted screenshot."""
    mail = message("claire.bernard", ["zoe.le-gall"], subject, "Version texte", html=html)
    html_part = mail.get_payload()[1]
    for data, content_type, content_id in parts:
        maintype, _, subtype = content_type.partition("/")
        html_part.add_related(data, maintype, subtype, cid=f"<{content_id}>")
    with app.app_context():
        result = routing.route(account("claire.bernard"), [account("zoe.le-gall").id], mail)
        db.session.commit()
        assert all(r.accepted for r in result.recipients), result


def frame_images(client, item: int) -> list[dict]:
    return [img.attrs for img in page(client.get(f"/messagerie/message/{item}/contenu"))
            .find_all("img")]


def test_pictures_sent_inside_the_message_show_in_place(app, student):
    deliver_related(app, "Signature", (
        '<p>Bonne journée,</p><img src="cid:image001.png@01DA1234.5678" alt="logo du collège">'
        '<img src="cid:dessin@example.org" alt="dessin"><img src="cid:absent@example.org">'),
        [(LOGO, "image/png", "image001.png@01DA1234.5678"),
         (SVG, "image/svg+xml", "dessin@example.org")])
    item = item_id(app, "zoe.le-gall", "Signature")

    logo, drawing, missing = frame_images(student, item)
    assert logo["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(logo["src"].split(",", 1)[1]) == LOGO
    assert logo["alt"] == "logo du collège"
    assert drawing["src"] == "cid:dessin@example.org"   # only raster types, never SVG
    assert missing["src"] == "cid:absent@example.org"
    reading = page(student.get(f"/messagerie/message/{item}"))
    assert reading.find_all("p", class_="remote-images") == []

    logo_part, _drawing = (a.attrs["href"] for a in
                           reading.find("section", class_="attachments").find_all("a"))
    downloaded = student.get(logo_part)
    assert downloaded.data == LOGO and downloaded.headers["Content-Type"] == "image/png"
    lucas = client_of(app, "lucas.martin")
    assert lucas.get(f"/messagerie/message/{item}/contenu").status_code == 404
    assert lucas.get(logo_part).status_code == 404


def test_an_encoded_content_id_and_the_budget(app, student, monkeypatch):
    """`cid:` is the Content-ID URL-encoded (RFC 2392); pictures beyond the budget stay out
    of the document (the attachments list still has them)."""
    big = png(40, 40)
    monkeypatch.setattr("portal.mail_html.INLINE_IMAGES_BUDGET", len(LOGO) + len(big) - 1)
    deliver_related(app, "Capture", '<img src="cid:ii_lx%2B1@mail"><img src="cid:grande@x">'
                    '<img src="cid:petite@x">',
                    [(LOGO, "image/png", "ii_lx+1@mail"), (big, "image/png", "grande@x"),
                     (LOGO, "image/gif", "petite@x")])
    first, too_big, small = frame_images(student, item_id(app, "zoe.le-gall", "Capture"))
    assert base64.b64decode(first["src"].split(",", 1)[1]) == LOGO
    assert too_big["src"] == "cid:grande@x"
    assert small["src"].startswith("data:image/gif;base64,")


def test_remote_images_are_found_whatever_the_other_attributes_hold():
    """nh3 before 0.3 (pyproject allows 0.2.17) writes `>` as it is inside attribute values;
    a browser also reads `\\\\host/x` as a URL of another site."""
    assert has_remote_images('<img alt="a > b" src="https://tracker.example/p.gif">')
    assert has_remote_images(sanitize('<img src="\\\\tracker.example/p.gif">'))
    assert has_remote_images(sanitize('<img alt="x" src="//tracker.example/p.gif">'))
    assert not has_remote_images('<img alt="&lt;img src=&quot;https://x/&quot;>" src="cid:a">')
    assert not has_remote_images(sanitize('<p>&lt;img src="https://x/"&gt;</p>'))


def test_attachments_that_a_browser_could_run_are_served_as_bytes(app, student):
    files = (("page.html", "text/html", b"<script>alert(1)</script>"),
             ("outil.js", "text/javascript", b"alert(1)"),
             ("theme.css", "text/css", b"body{color:red}"),
             ("dessin.svg", "image/svg+xml", SVG),
             ("carte.xml", "application/xml", b"<a/>"),
             ("photo.png", "image/png", LOGO),
             ("sortie.pdf", "application/pdf", b"%PDF-1.4\n"),
             ("notes.txt", "text/plain", b"notes"),
             ("tableau.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              b"PK\x03\x04"),
             ("chant.mp3", "audio/mpeg", b"ID3"))
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Fichiers", files=files)
    doc = page(student.get(f"/messagerie/message/{item_id(app, 'zoe.le-gall', 'Fichiers')}"))
    links = {a.text: a.attrs["href"] for a in
             doc.find("section", class_="attachments").find_all("a")}
    served = {}
    for name, _type, data in files:
        response = student.get(links[name])
        assert response.data == data
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        served[name] = response.headers["Content-Type"].split(";")[0]
    assert served == {
        "page.html": "application/octet-stream", "outil.js": "application/octet-stream",
        "theme.css": "application/octet-stream", "dessin.svg": "application/octet-stream",
        "carte.xml": "application/octet-stream", "photo.png": "image/png",
        "sortie.pdf": "application/pdf", "notes.txt": "text/plain",
        "tableau.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "chant.mp3": "audio/mpeg"}


def test_the_frame_is_sandboxed_on_its_own_and_its_sections_links_stay_in_it(app, student):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Lettre d'information", "Texte", html=(
        '<p><a href="#agenda">Agenda</a> · <a href="https://college.example/">Site</a></p>'
        '<h2 id="agenda">Agenda</h2><a name="fin"></a><a href=" #fin">Fin</a>'))
    item = item_id(app, "zoe.le-gall", "Lettre d'information")
    frame = page(student.get(f"/messagerie/message/{item}")).find("iframe", class_="mail-html")

    response = student.get(frame.attrs["src"])
    policy = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    (sandbox,) = [d for d in policy if d.startswith("sandbox")]
    assert sandbox.split() == ["sandbox", *frame.attrs["sandbox"].split()]
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert "allow-top-navigation" not in sandbox and "allow-forms" not in sandbox

    document = page(response)
    assert document.find_all("base") == []
    links = {a.text: a.attrs for a in document.find_all("a") if a.text}
    assert "target" not in links["Agenda"] and links["Agenda"]["href"] == "#agenda"
    assert "target" not in links["Fin"]
    assert links["Site"]["target"] == "_blank"
    assert links["Site"]["rel"] == "noopener noreferrer"
    assert document.find("h2").attrs["id"] == "agenda"
