"""What can never succeed gets a permanent answer, never a 451 that has the sender retry for
days: MIME nested beyond reading (554 5.6.0), an address that is not UTF-8 (501); NUL bytes,
which PostgreSQL's text columns cannot hold, are dropped from the stored text. Hypothesis then
sends what a fuzzer would."""
from __future__ import annotations

import smtplib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from mailgate import mime
from mailgate.models import MailAttachment

from .conftest import address_of, new_account
from .helpers import inbox

JOSEPH = "joseph@example.org"


def nested(depth: int, message_id: str) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
                       for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return (f"From: {JOSEPH}\r\nSubject: Poupées russes\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\n").encode() + opening + \
        b"Content-Type: text/plain\r\n\r\nAu centre.\r\n" + closing


def data_reply(smtp, recipient: str, data: bytes) -> tuple[int, bytes]:
    assert smtp.mail(JOSEPH)[0] == 250
    assert smtp.rcpt(recipient)[0] == 250
    return smtp.data(data)


def test_mime_nested_a_thousand_levels_deep_is_refused_554_560(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    code, reply = data_reply(smtp, address_of(pupil), nested(1000, "<deep@example.org>"))
    assert (code, reply[:5]) == (554, b"5.6.0"), reply
    smtp.rset()
    code, reply = data_reply(smtp, address_of(pupil), nested(mime.MAX_NESTING + 1,
                                                            "<deeper@example.org>"))
    assert code == 554, reply
    smtp.rset()
    code, _ = data_reply(smtp, address_of(pupil), nested(20, "<russian-dolls@example.org>"))
    assert code == 250
    (stored,) = inbox(pupil)
    assert stored.text_body.strip() == "Au centre."


def test_addresses_that_are_not_utf8_or_hold_control_bytes_get_501(smtp):
    for command in (b"MAIL FROM:<\xff\xfe@example.org>", b"MAIL FROM:<jo\x00seph@example.org>"):
        smtp.send(command + b"\r\n")
        code, reply = smtp.getreply()
        assert code == 501, (command, reply)
    assert smtp.mail(JOSEPH)[0] == 250
    smtp.send(b"RCPT TO:<zo\xe9@ent.test>\r\n")
    assert smtp.getreply()[0] == 501
    smtp.rset()


NUL_MESSAGE = (
    b"From: Jo\x00seph <" + JOSEPH.encode() + b">\r\n"
    b"To: \"Zo\x00\xc3\xa9\" <{to}>\r\nSubject: Sor\x00tie =?utf-8?q?au_mus=00=C3=A9e?=\r\n"
    b"Message-ID: <nul\x00{n}@example.org>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRendez-vous\x00 \xe0 9 h\r\n"
    b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Rendez\x00-vous</p>\r\n"
    b'--b\r\nContent-Type: application/pdf; name="pro\x00gramme.pdf"\r\n'
    b'Content-Disposition: attachment; filename="pro\x00gramme\xff.pdf"\r\n'
    b"Content-ID: <pj\x00@example.org>\r\n\r\n%PDF-1.4 \x00\x01\x02\r\n--b--\r\n")


def test_nul_bytes_anywhere_are_dropped_from_the_stored_text_and_the_mail_is_stored(smtp):
    """On PostgreSQL this answered 451 (text cannot hold NUL), on every try."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    data = NUL_MESSAGE.replace(b"{to}", address_of(pupil).encode()).replace(b"{n}", b"1")
    code, reply = data_reply(smtp, address_of(pupil), data)
    assert code == 250, reply
    (stored,) = inbox(pupil)
    assert stored.subject == "Sortie au musée"
    assert stored.to_display == f"Zoé <{address_of(pupil)}>"
    assert stored.text_body == "Rendez-vous \ufffd 9 h"
    # The text part is not the HTML's alternative (multipart/mixed): shown beside it.
    assert stored.html_body == "<pre>Rendez-vous \ufffd 9 h</pre><p>Rendez-vous</p>"
    assert stored.message_id_header == "<nul1@example.org>"
    (attachment,) = db.session.scalars(select(MailAttachment).where(
        MailAttachment.message_id == stored.id))
    assert attachment.filename == "programme\ufffd.pdf"
    assert attachment.content_id == "pj@example.org"
    assert b"\x00" in stored.source                      # the bytes as they came


# --- what a fuzzer would send ---------------------------------------------------------------

HOSTILE_BYTES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"=?utf-8?q?=00?=", b"=?x-unknown?b?AA==?=",
                     b"=?utf-8?b?not base64?=", b"\r\n ", b";", b'"', b"\\", b"<>", b"@",
                     b"\xed\xa0\x80", b"%00", b"\t", b"=\r\n"]))
FIELD_VALUE = st.lists(HOSTILE_BYTES, max_size=6).map(b"".join)
FIELDS = st.lists(st.tuples(st.sampled_from([
    b"Subject", b"To", b"Cc", b"Date", b"Message-ID", b"In-Reply-To", b"References",
    b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"MIME-Version",
    b"Disposition-Notification-To", b"From", b"DKIM-Signature", b"X-Anything"]), FIELD_VALUE),
    max_size=8)
PART_HEADERS = st.sampled_from([
    b"Content-Type: text/plain; charset=%s\r\n", b"Content-Type: text/html; charset=%s\r\n",
    b'Content-Type: application/octet-stream; name="%s"\r\n'
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: multipart/alternative; boundary=%s\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=%s\r\n",
])


@st.composite
def messages(draw) -> bytes:
    head = b"".join(name + b": " + value + b"\r\n" for name, value in draw(FIELDS))
    parts = draw(st.lists(st.tuples(PART_HEADERS, FIELD_VALUE, FIELD_VALUE), max_size=4))
    boundary = draw(st.sampled_from([b"b", b"", b"\x00", b"b b", b"\xff"]))
    body = b"".join(b"--" + boundary + b"\r\n" + (headers % value if b"%s" in headers
                                                   else headers) + b"\r\n" + content + b"\r\n"
                    for headers, value, content in parts)
    if draw(st.booleans()):
        body += b"--" + boundary + b"--\r\n"
    top = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="' + boundary + \
        b'"\r\n' if parts and draw(st.booleans()) else b""
    return head + top + b"\r\n" + body + draw(FIELD_VALUE)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(messages())
@example(NUL_MESSAGE)
@example(b"Content-Type: multipart/mixed; boundary=\"\x00\"\r\n\r\n--\x00\r\n\r\nx\r\n")
@example(b"Date: Mon, 1 Jan 99999 00:00:00 +9999\r\n\r\nx")
def test_no_message_a_fuzzer_sends_ends_in_a_temporary_failure(smtp, fuzz_target, data):
    try:
        code, reply = data_reply(smtp, fuzz_target, data)
    except smtplib.SMTPServerDisconnected:
        raise AssertionError("the gateway dropped the connection") from None
    smtp.rset()
    assert code == 250 or 500 <= code < 600, (code, reply)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([b"MAIL FROM:", b"RCPT TO:"]), FIELD_VALUE, st.booleans())
def test_no_address_a_fuzzer_sends_ends_in_a_temporary_failure(smtp, command, value, angled):
    if command.startswith(b"RCPT"):
        assert smtp.mail(JOSEPH)[0] == 250
    argument = b"<" + value + b">" if angled else value
    smtp.send(command + argument.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n")
    code, reply = smtp.getreply()
    smtp.rset()
    assert code < 400 or 500 <= code < 600, (command, value, code, reply)


@pytest.fixture(scope="module")
def fuzz_target(mail_app) -> str:
    """A pupil with room for every message the fuzzer sends."""
    with mail_app.app_context():
        return address_of(new_account(Profile.STUDENT, group_of="zoe.le-gall"))
