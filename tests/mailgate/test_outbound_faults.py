"""What a sender can put in a message that must not get past the header rules nor stall the
outbound worker: a lone CR splitting a field in two, a read receipt asked to an outside
address, an 8-bit marker in a nested part, a subject decoding to a line break in a failure
report."""
from __future__ import annotations

from email import message_from_bytes, policy

from mailgate import worker
from mailgate.models import EntryState

from .helpers import mail, raw, stored_with_id
from .test_outbound import CLAIRE_REDIRECT, JOSEPH, entries_of, send_by_smtp


def parsed(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def with_attachment(message):
    message.add_attachment(b"%PDF-1.4 sortie", maintype="application", subtype="pdf",
                           filename="sortie.pdf")
    return message


def test_a_lone_cr_in_a_subject_never_becomes_a_field_of_its_own(smtp, sink):
    message = with_attachment(mail(JOSEPH, "claire.bernard@ent.test", "Sortie"))
    data = raw(message).replace(b"Subject: Sortie",
                                b"Subject: Sortie\rReply-To: collecte@evil.example", 1)
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], data) == {}
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    forwarded = parsed(delivery.data)
    assert forwarded["Reply-To"] is None
    assert forwarded.get_all("From") == ["Joseph Fabre <joseph.fabre@ent.test>"]
    assert forwarded["Subject"].startswith("Sortie")


def test_a_read_receipt_asked_to_an_outside_address_goes_to_the_author(smtp, sink):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Lu ?",
                   Disposition_Notification_To="espion@evil.example")
    send_by_smtp(smtp, JOSEPH, message)
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    assert parsed(delivery.data)["Disposition-Notification-To"] == "joseph.fabre@ent.test"
    assert b"evil.example" not in delivery.data


def test_an_8bit_marker_on_a_nested_part_does_not_stall_the_batch(smtp, sink):
    boundary, inner = b"==exterieur==", b"==interieur=="
    data = b"\r\n".join([
        f"From: {JOSEPH}".encode(), b"To: claire.bernard@ent.test", b"Subject: Imbrique",
        b"Message-ID: <imbrique-8bit@example.org>", b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"', b"",
        b"--" + boundary,
        b'Content-Type: multipart/alternative; boundary="' + inner + b'"',
        b"X-Preau-Attachment: \xe9", b"",
        b"--" + inner, b"Content-Type: text/plain; charset=utf-8", b"", b"Le texte.",
        b"--" + inner + b"--", b"",
        b"--" + boundary, b"Content-Type: application/pdf",
        b'Content-Disposition: attachment; filename="a.pdf"',
        b"Content-Transfer-Encoding: base64", b"", b"JVBERi0xLjQgYQ==",
        b"--" + boundary + b"--", b""])
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], data) == {}
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    (attached,) = list(parsed(delivery.data).iter_attachments())
    assert attached.get_content() == b"%PDF-1.4 a"


def test_a_report_on_a_subject_decoding_to_a_line_break_reaches_its_author(smtp, sink):
    sink.refuse[CLAIRE_REDIRECT] = [f"550 5.1.1 <{CLAIRE_REDIRECT}>: Recipient unknown"]
    message = mail(JOSEPH, "claire.bernard@ent.test", "placeholder")
    data = raw(message).replace(b"Subject: placeholder",
                                b"Subject: =?utf-8?q?ligne=0Acoup=E2=80=A8ee?=", 1)
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], data) == {}
    stored = stored_with_id(message["Message-ID"])
    worker.drain()
    (entry,) = entries_of(stored.id)
    assert entry.state == EntryState.FAILED
    (report,) = sink.to(JOSEPH)
    assert "ligne coup" in parsed(report.data)["Subject"]


def test_a_reply_to_a_message_id_holding_a_line_separator_can_be_written():
    """A Message-ID received with U+2028 is stored decoded: answering it wrote it raw into
    In-Reply-To, which the email package refuses (a 500 on « Répondre »)."""
    from mailgate.compose import compose

    from .conftest import account

    message = compose(account("zoe.le-gall"), subject="Re : x", text="Oui.",
                      in_reply_to="<a\u2028b@example.org>", references="<c\u2028d@example.org>")
    assert message["In-Reply-To"] == "<a b@example.org>"


def test_a_message_sent_back_into_preau_by_a_redirection_stops_after_five_passes(smtp, sink):
    """A member's mailbox redirecting everything to their Préau address: each pass counts,
    the trace fields that would count hops being dropped (they may name a redirect address)."""
    import smtplib

    import pytest

    message = mail(JOSEPH, "claire.bernard@ent.test", "Tour", X_Preau_Passes="3")
    send_by_smtp(smtp, JOSEPH, message)
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    assert parsed(delivery.data)["X-Preau-Passes"] == "4"
    again = mail(JOSEPH, "claire.bernard@ent.test", "Tour encore", X_Preau_Passes="5")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], raw(again))
    assert refused.value.smtp_code == 554 and b"5.4.6" in refused.value.smtp_error


def test_a_part_header_the_email_package_cannot_take_is_read_as_received(smtp, sink):
    """A form feed then « word: » in an attachment's header made the email package raise
    HeaderParseError: indexing failed on it at every round, and with it the worker's sending
    for the whole region."""
    data = b"\r\n".join([
        f"From: {JOSEPH}".encode(), b"To: claire.bernard@ent.test", b"Subject: Saut de page",
        b"Message-ID: <saut-de-page@example.org>", b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="B"', b"",
        b"--B", b"Content-Type: text/plain", b"", b"Le texte.",
        b"--B", b'Content-Type: application/pdf; name="a.pdf"',
        b'Content-Disposition: attachment; filename="a\x0cword: b.pdf"',
        b"Content-Transfer-Encoding: base64", b"", b"JVBERg==", b"--B--", b""])
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], data) == {}
    from directory.db import db
    from mailgate.models import MailMessage

    from .helpers import indexed

    indexed()       # the gateway's indexer, or the worker's catch-up, read it
    stored = stored_with_id("<saut-de-page@example.org>")
    assert db.session.get(MailMessage, stored.id).malformed
    worker.drain()
    assert len(sink.to(CLAIRE_REDIRECT)) == 1
