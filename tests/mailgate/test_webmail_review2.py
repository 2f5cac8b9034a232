"""The second review of the webmail (reading side), on the gateway's side: a field folded into
hundreds of thousands of lines is read in linear time, and a header block past the bound is
refused at DATA before anything reads it, while the gateway goes on answering its other
sessions; a broken part inside an attached message leaves the message that carries it
readable."""
from __future__ import annotations

import smtplib
import threading
import time

from mailgate import inbound, mime

from .conftest import account
from .helpers import inbox, mail, raw, stored_with_id

JOSEPH = "joseph@example.org"
ZOE = "zoe.le-gall@ent.test"


# --- 1. folded header lines --------------------------------------------------------------------

def test_a_field_folded_into_300000_lines_is_split_in_linear_time():
    data = b"X-A: a\r\n" + b" x\r\n" * 300_000 + b"\r\nbody\r\n"
    started = time.perf_counter()
    fields, body = mime.split(data)
    assert time.perf_counter() - started < 5.0      # minutes when each line copied the field
    assert len(fields) == 1 and body == b"body\r\n"
    assert fields[0].raw == b"X-A: a\r\n" + b" x\r\n" * 300_000


def test_folded_fields_are_kept_byte_for_byte():
    data = (b"From x\n"          # an mbox separator line
            b"Subject: un\r\n deux\r\n\ttrois\r\nTo: a@b\r\nX-Lone: a\rb\r\n c\r\n"
            b"not a field\r\nrest")
    fields, body = mime.split(data)
    assert [(f.name, f.raw) for f in fields] == [
        ("Subject", b"Subject: un\r\n deux\r\n\ttrois\r\n"), ("To", b"To: a@b\r\n"),
        ("X-Lone", b"X-Lone: a b\r\n c\r\n")]
    assert body == b"not a field\r\nrest"
    assert fields[0].value == "un deux\ttrois"


def test_the_header_bound_counts_bytes_and_lines_up_to_the_blank_line():
    ordinary = raw(mail(JOSEPH, ZOE, "Bonjour", "corps\r\n" * 50_000))
    assert not mime.header_too_large(ordinary)
    lines = b"X-A: a\r\n" + b" x\r\n" * (mime.MAX_HEADER_LINES - 1)
    assert not mime.header_too_large(lines + b"\r\nbody\r\n")
    assert mime.header_too_large(lines + b" x\r\n\r\nbody\r\n")
    assert not mime.header_too_large((lines + b"\r\nbody\r\n").replace(b"\r\n", b"\n"))
    assert mime.header_too_large((lines + b" x\r\n\r\nbody\r\n").replace(b"\r\n", b"\n"))
    wide = b"X-A: " + b"a" * (mime.MAX_HEADER_BYTES + 10) + b"\r\n\r\nbody\r\n"
    assert mime.header_too_large(wide)
    # A long body with its lines is not the header's.
    assert not mime.header_too_large(b"Subject: s\r\n\r\n" + b"x\r\n" * 2_000_000)
    assert not mime.header_too_large(b"\r\n" + b"x\r\n" * 20_000)


def _folded_message() -> tuple[bytes, str]:
    """A message whose field X-A is folded into 20,000 lines (1 MB in all): the gateway used
    to copy it line by line (10 GB, seconds of its event loop) before any sender check."""
    message = mail(JOSEPH, ZOE, "Replié")
    folded = b"X-A: a\r\n" + (b" " + b"x" * 47 + b"\r\n") * 20_000
    return raw(message).replace(b"\r\n\r\n", b"\r\n" + folded + b"\r\n", 1), \
        message["Message-ID"]


def test_a_header_past_the_bound_is_refused_at_data_and_other_sessions_go_on(smtp, gateway):
    data, message_id = _folded_message()
    other = mail(JOSEPH, ZOE, "Pendant ce temps")
    answers: dict[str, object] = {}

    def send_other():
        time.sleep(0.05)
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
            client.ehlo("other.example.org")
            answers["other"] = client.sendmail(JOSEPH, [ZOE], raw(other))
        answers["other_seconds"] = time.monotonic() - started

    second = threading.Thread(target=send_other)
    assert smtp.mail(JOSEPH)[0] == 250
    assert smtp.rcpt(ZOE)[0] == 250
    second.start()
    code, reply = smtp.data(data)
    second.join(30)
    assert code == 552, reply
    assert reply.decode() == ("5.3.4 L'en-tete du message est trop volumineux : 1 Mo et 10000 "
                              "lignes au plus")
    assert inbound.HEADER_TOO_LARGE.startswith("552 5.3.4 ")
    assert stored_with_id(message_id) is None
    assert answers["other"] == {} and answers["other_seconds"] < 2.0
    assert stored_with_id(other["Message-ID"]) in inbox(account("zoe.le-gall"))
    # The session goes on.
    follow = mail(JOSEPH, ZOE, "Ensuite")
    assert smtp.sendmail(JOSEPH, [ZOE], raw(follow)) == {}


# --- 7. a broken part inside an attached message ----------------------------------------------

def test_a_broken_multipart_inside_an_attached_message_leaves_the_outer_one_readable():
    inner = (b"From: a@example.org\r\nSubject: Non remis\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=zz\r\n\r\ntronque, sans limite\r\n")
    data = (b"From: x@example.org\r\nSubject: Renvoi\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
            b"--OUT\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\nVoir la pi\xc3\xa8ce jointe\r\n"
            b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUT--\r\n")
    parsed = mime.parse(data)
    assert not parsed.malformed
    assert parsed.text_body == "Voir la pièce jointe"
    (attached,) = parsed.attachments
    assert attached.content_type == "message/rfc822"
    assert attached.data.startswith(b"From: a@example.org\r\nSubject: Non remis\r\n")
    assert b"tronque, sans limite" in attached.data
    # The outer message's own broken structure still is.
    assert mime.parse(inner).malformed


# --- 2. at the level of the parts -------------------------------------------------------------

def test_every_html_part_is_shown_and_a_text_part_beside_them_too():
    data = (b"From: x@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=M\r\n\r\n"
            b"--M\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n"
            b"--A\r\nContent-Type: text/plain\r\n\r\nun deux\r\n"
            b"--A\r\nContent-Type: text/html\r\n\r\n<p>un</p>\r\n"
            b"--A--\r\n"
            b"--M\r\nContent-Type: text/html\r\n\r\n<p>deux</p>\r\n"
            b"--M\r\nContent-Type: text/plain\r\n\r\npied < & >\r\n"
            b"--M--\r\n")
    parsed = mime.parse(data)
    assert parsed.html_body == "<p>un</p><p>deux</p><pre>pied &lt; &amp; &gt;</pre>"
    assert parsed.text_body == "un deux\n\npied < & >"
    assert mime.searched_text(parsed) == parsed.text_body
    only_html = mime.parse(b"Content-Type: text/html\r\n\r\n<p>Sortie au <b>mus&eacute;e</b>"
                           b"</p><p>jeudi</p>")
    assert only_html.text_body == "" and mime.searched_text(only_html) == "Sortie au musée\njeudi"


# --- 9. what the search and a reply read of an HTML message and a list's footer --------------

def _mixed(*parts: bytes) -> mime.Parsed:
    return mime.parse(b"From: x@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
                      b"Content-Type: multipart/mixed; boundary=M\r\n\r\n"
                      + b"".join(b"--M\r\n" + part + b"\r\n" for part in parts) + b"--M--\r\n")


HTML = b"Content-Type: text/html\r\n\r\n<html><body>Sortie au <b>mus&eacute;e</b></body></html>"
FOOTER = (b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
          b"Liste parents-4A <d\xc3\xa9sinscription>")


def test_an_html_message_and_a_lists_footer_are_read_whole():
    parsed = _mixed(HTML, FOOTER)
    assert parsed.text_body == "Liste parents-4A <désinscription>"
    assert mime.searched_text(parsed) == "Sortie au musée\n\nListe parents-4A <désinscription>"
    # A <pre> of the HTML's own, and a text part before the HTML, change nothing.
    own = HTML.replace(b"<body>", b"<body><pre>a &lt; b</pre>")
    parsed = _mixed(FOOTER.replace(b"Liste", b"Bonjour"), own, FOOTER)
    assert parsed.text_body == \
        "Bonjour parents-4A <désinscription>\n\nListe parents-4A <désinscription>"
    assert [line for line in mime.searched_text(parsed).split("\n") if line] == [
        "Bonjour parents-4A <désinscription>", "a < b", "Sortie au musée",
        "Liste parents-4A <désinscription>"]


def test_a_text_alternative_says_the_html_and_an_empty_one_does_not():
    alternative = (b"Content-Type: multipart/alternative; boundary=A\r\n\r\n"
                   b"--A\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
                   b"--A\r\n" + HTML + b"\r\n--A--")
    told = _mixed(alternative % b"Sortie au musee", FOOTER)
    assert told.text_body == "Sortie au musee\n\nListe parents-4A <désinscription>"
    assert mime.searched_text(told) == told.text_body
    empty = _mixed(alternative % b"", FOOTER)
    assert empty.text_body == "Liste parents-4A <désinscription>"
    assert mime.searched_text(empty) == "Sortie au musée\n\nListe parents-4A <désinscription>"
