"""Bounce addresses are signed, so only the server a forward went to can report it failed; what
a remote server says is quoted in the report as its words, never as Préau's; a relay out of
reach is reported as such, with the time in words people use."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import bounces, routing, worker
from mailgate.models import EntryKind, EntryState, MailMessage, OutboundEntry
from mailgate.settings import current

from .conftest import account, free_port, new_account
from .helpers import mail, raw, stored_with_id

JOSEPH = "joseph@example.org"
CLAIRE_REDIRECT = "claire.bernard@example.net"
PHISHING = ("Votre compte Préau est bloqué : reconnectez-vous sur "
            "http://preau-securite.example/connexion avant ce soir")


def failure_notice(diagnostic: str, status: str = "5.1.1") -> bytes:
    return (
        "From: MAILER-DAEMON@example.net\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSorry.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {CLAIRE_REDIRECT}\r\nAction: failed\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n--b--\r\n"
    ).encode()


def text_of(data: bytes) -> str:
    body = message_from_bytes(data, policy=policy.default).get_body(("plain",)).get_content()
    return " ".join(body.split())


def forwarded_entry(smtp, subject: str) -> OutboundEntry:
    """Joseph writes to Claire by SMTP; the worker forwards it to her redirect address."""
    message = mail(JOSEPH, "claire.bernard@ent.test", subject)
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], raw(message)) == {}
    stored = stored_with_id(message["Message-ID"])
    worker.drain()
    db.session.rollback()
    entry = db.session.scalar(select(OutboundEntry).where(
        OutboundEntry.message_id == stored.id))
    assert entry.state == EntryState.SENT
    return entry


def state_of(entry_id: int) -> EntryState:
    db.session.rollback()
    return db.session.get(OutboundEntry, entry_id).state


def test_forwards_leave_with_a_signed_bounce_address_of_their_entry(smtp, sink):
    entry = forwarded_entry(smtp, "Signée")
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    assert re.fullmatch(rf"bounces\+{entry.id}-\d{{5}}-[0-9a-f]{{16}}@ent\.test",
                        delivery.sender)
    assert bounces.entry_id_of(delivery.sender, current()) == entry.id


def forged(entry_id: int, settings) -> dict[str, str]:
    """Bounce addresses for `entry_id` that a forger could try, by the way they were made."""
    genuine = bounces.envelope_sender(entry_id, settings)
    local, _, domain = genuine.partition("@")
    entry_part, day, signature = local.removeprefix("bounces+").split("-")
    other_key = replace(settings, secret_key=b"another portal's key")
    return {
        "sequential, as before": f"bounces+{entry_id}@{domain}",
        "made-up signature": f"bounces+{entry_id}-{day}-{'0' * 16}@{domain}",
        "another entry's signature": f"bounces+{entry_id + 1}-{day}-{signature}@{domain}",
        "another day": f"bounces+{entry_id}-{int(day) - 1}-{signature}@{domain}",
        "another key": bounces.envelope_sender(entry_id, other_key),
        "expired": bounces.envelope_sender(
            entry_id, settings,
            today=date.today() - timedelta(days=bounces.max_age_days(settings) + 1)),
    }


def test_guessed_forged_and_expired_bounce_addresses_are_refused_550_511(smtp, sink):
    entry = forwarded_entry(smtp, "Devinée")
    sink.reset()
    for how, address in forged(entry.id, current()).items():
        smtp.rset()
        smtp.mail("<>")
        code, reply = smtp.rcpt(address)
        assert (code, reply[:5]) == (550, b"5.1.1"), how
    smtp.rset()
    smtp.mail("<>")
    assert smtp.rcpt(bounces.envelope_sender(entry.id, current()))[0] == 250
    smtp.rset()
    assert state_of(entry.id) == EntryState.SENT


def test_a_forged_failure_notice_to_sequential_addresses_changes_nothing(smtp, sink):
    entry = forwarded_entry(smtp, "Intacte")
    sink.reset()
    targets = [f"bounces+{entry.id + n}@ent.test" for n in range(-3, 3)]
    with pytest.raises(Exception) as refused:
        smtp.sendmail("<>", targets, failure_notice(f"550 5.1.1 {PHISHING}"))
    assert all(code == 550 for code, _ in refused.value.recipients.values())
    worker.drain()
    assert state_of(entry.id) == EntryState.SENT
    assert sink.to(JOSEPH) == []


def test_a_failure_notice_is_reported_with_the_remote_text_quoted_as_theirs(smtp, sink):
    entry = forwarded_entry(smtp, "Sortie au musée")
    sink.reset()
    long_tail = " bla" * 100
    notice = failure_notice(f"550 5.1.1 <{CLAIRE_REDIRECT}> {PHISHING}{long_tail}")
    assert smtp.sendmail("<>", [bounces.envelope_sender(entry.id, current())], notice) == {}
    assert state_of(entry.id) == EntryState.BOUNCED
    worker.drain()
    (report,) = sink.to(JOSEPH)
    text = text_of(report.data)
    ours = ("Claire Bernard <claire.bernard@ent.test> : le serveur de messagerie du "
            "destinataire a refusé le message. Réponse de ce serveur, citée telle quelle "
            "(Préau n'en est pas l'auteur) : « 550 5.1.1 <claire.bernard@ent.test> "
            "Votre compte Préau est bloqué")
    assert ours in text
    assert text.count("reconnectez-vous") == 1           # only inside the quotation
    quoted = text.split("« 550 5.1.1", 1)[1].split("»", 1)[0]
    assert len(quoted) < 200 and quoted.endswith("… ")
    assert CLAIRE_REDIRECT not in report.data.decode()


@pytest.fixture
def unreachable_relay(mail_app):
    """The app's gateway settings with a relay nobody listens on and a one-minute queue."""
    settings = mail_app.extensions["mailgate.settings"] = replace(
        current(), smarthost=f"smtp://127.0.0.1:{free_port()}",
        queue_lifetime=timedelta(minutes=1))
    yield settings
    mail_app.extensions.pop("mailgate.settings")


def test_a_relay_out_of_reach_is_reported_as_such_in_words(unreachable_relay, sink):
    teacher = new_account(Profile.TEACHER, redirect="prof.loin@example.com")
    question = mail("x@example.com", "joseph.fabre@ent.test", "Injoignable")
    question.replace_header("Date", "Mon, 15 Jun 2026 12:00:00 +0000")   # 14:00 in Paris
    routing.route(teacher, [account("joseph.fabre").id], question)
    db.session.commit()
    worker.drain(now=utcnow())
    db.session.rollback()
    report = db.session.scalar(select(MailMessage).join(
        OutboundEntry, OutboundEntry.message_id == MailMessage.id).where(
        OutboundEntry.kind == EntryKind.REPORT, OutboundEntry.address == "prof.loin@example.com"))
    text = " ".join(report.text_body.split())
    assert ("Votre message « Injoignable » du 15/06/2026 à 14:00 n'a pas pu être remis" in text)
    assert ("Joseph Fabre <joseph.fabre@ent.test> : le serveur d'envoi est resté injoignable "
            "pendant 1 minute : le message n'a pas pu partir") in text
    assert "a refusé" not in text and "heures" not in text and "UTC" not in text
