"""Forwards through the outbound queue to a real aiosmtpd smarthost: headers, replies, retries,
bounces, leases."""
from __future__ import annotations

import time
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import bounces, queue, routing, worker
from mailgate.models import EntryKind, EntryState, FolderKind, OutboundEntry
from mailgate.settings import current
from mailgate.smarthost import Relay

from .conftest import account, address_of, new_account
from .helpers import folder_messages, inbox, mail, raw, stored_with_id

JOSEPH = "joseph@example.org"
CLAIRE_REDIRECT = "claire.bernard@example.net"


def header_block(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")


def parsed(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def entries_of(message_id: int) -> list[OutboundEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.message_id == message_id).order_by(OutboundEntry.id)))


def reports_to(address: str) -> list[OutboundEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.address == address, OutboundEntry.kind == EntryKind.REPORT)))


def bounce_address(entry: OutboundEntry) -> str:
    return bounces.envelope_sender(entry.id, current())


def send_by_smtp(smtp, sender: str, message) -> None:
    recipients = [a.addr_spec for a in message["To"].addresses]
    assert smtp.sendmail(sender, recipients, raw(message)) == {}


def test_forward_has_the_authors_universal_address_and_no_redirect_address_in_headers(smtp,
                                                                                      sink):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Rendez-vous",
                   Reply_To=JOSEPH, Sender=JOSEPH, Cc=JOSEPH,
                   Disposition_Notification_To=JOSEPH, Return_Path=f"<{JOSEPH}>",
                   Received=f"from pc (envelope-from <{JOSEPH}>) by mx.example.org",
                   X_Original_From=JOSEPH)
    send_by_smtp(smtp, JOSEPH, message)
    stored = stored_with_id(message["Message-ID"])
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    (entry,) = entries_of(stored.id)
    assert delivery.sender == bounces.envelope_sender(entry.id, current())
    assert entry.state == EntryState.SENT
    head = header_block(delivery.data)
    assert JOSEPH not in head.lower() and "envelope-from" not in head
    assert CLAIRE_REDIRECT not in head
    forwarded = parsed(delivery.data)
    assert forwarded["From"] == "Joseph Fabre <joseph.fabre@ent.test>"
    assert forwarded["Cc"] == "Joseph Fabre <joseph.fabre@ent.test>" or \
        forwarded["Cc"] == "joseph.fabre@ent.test"
    assert forwarded["Disposition-Notification-To"] == "joseph.fabre@ent.test"
    assert forwarded["Message-ID"] == message["Message-ID"]
    assert len(forwarded.get_all("Received")) == 1
    assert forwarded["Received"].startswith("by mail.ent.test (Preau) with ESMTP id ")
    assert stored in folder_messages(account("joseph.fabre"), FolderKind.OUTBOX)


def test_a_reply_from_the_redirect_address_to_a_forwarded_message_reaches_the_teacher(smtp,
                                                                                     sink):
    claire, joseph = account("claire.bernard"), account("joseph.fabre")
    question = mail("ignored@example.org", "joseph.fabre@ent.test", "Réunion parents-profs")
    result = routing.route(claire, [joseph.id], question)
    db.session.commit()
    assert [r.outcome for r in result.recipients] == [routing.Outcome.FORWARDED]
    worker.drain()
    (forward,) = sink.to(JOSEPH)
    received = parsed(forward.data)
    assert received["From"] == "Claire Bernard <claire.bernard@ent.test>"
    answer = mail(JOSEPH, received["From"].addresses[0].addr_spec, "Re: Réunion",
                  In_Reply_To=received["Message-ID"], References=received["Message-ID"])
    send_by_smtp(smtp, JOSEPH, answer)
    worker.drain()
    (reply,) = sink.to(CLAIRE_REDIRECT)
    replied = parsed(reply.data)
    assert replied["In-Reply-To"] == received["Message-ID"]
    assert replied["References"] == received["Message-ID"]
    assert replied["From"] == "Joseph Fabre <joseph.fabre@ent.test>"


def test_a_recipient_may_always_reply_to_the_sender_of_a_message_they_received(smtp, sink):
    director = new_account(Profile.STAFF, redirect="direction@example.com")
    smtp.mail(JOSEPH)
    assert smtp.rcpt(address_of(director))[0] == 550          # parents cannot write to staff
    smtp.rset()
    routing.route(director, [account("joseph.fabre").id],
                  mail("x@example.com", "joseph.fabre@ent.test", "Cantine"))
    db.session.commit()
    smtp.mail(JOSEPH)
    assert smtp.rcpt(address_of(director))[0] == 250


def test_a_smarthost_answering_451_then_250_gets_the_message_once_after_a_retry(smtp, sink):
    sink.refuse[CLAIRE_REDIRECT] = ["451 4.3.0 Essayez plus tard"]
    message = mail(JOSEPH, "claire.bernard@ent.test", "Retard")
    send_by_smtp(smtp, JOSEPH, message)
    stored = stored_with_id(message["Message-ID"])
    started = utcnow()
    worker.drain(now=started)
    (entry,) = entries_of(stored.id)
    assert entry.state == EntryState.PENDING and entry.attempts == 1
    assert entry.last_error.startswith("451") and entry.next_attempt_at > started
    assert sink.to(CLAIRE_REDIRECT) == []
    worker.drain(now=started + timedelta(seconds=30))
    assert sink.to(CLAIRE_REDIRECT) == []                     # not due yet
    worker.drain(now=started + timedelta(minutes=2))
    (entry,) = entries_of(stored.id)
    assert entry.state == EntryState.SENT and entry.attempts == 2
    assert len(sink.to(CLAIRE_REDIRECT)) == 1


def test_a_550_ends_in_a_french_report_to_the_author_and_never_in_a_bounce_loop(sink):
    claire, joseph = account("claire.bernard"), account("joseph.fabre")
    sink.refuse[JOSEPH] = [f"550 5.1.1 <{JOSEPH}>: Recipient address rejected"]
    question = mail("x@example.org", "joseph.fabre@ent.test", "Conseil de classe")
    stored_id = routing.route(claire, [joseph.id], question).message_id
    db.session.commit()
    worker.drain()
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.FAILED and entry.last_error.startswith("refused: 550")
    (report,) = sink.to(CLAIRE_REDIRECT)
    assert report.sender == "<>"                               # null sender: never bounced
    text = parsed(report.data).get_body(("plain",)).get_content()
    assert "« Conseil de classe »" in text and "n'a pas pu être remis" in text
    assert "Joseph Fabre <joseph.fabre@ent.test>" in text
    assert JOSEPH not in report.data.decode()


def test_a_report_that_cannot_be_delivered_is_dropped_without_another_report(sink):
    teacher = new_account(Profile.TEACHER, redirect="prof.refuse@example.com")
    sink.refuse[JOSEPH] = ["550 5.7.1 Refusé"]
    sink.refuse["prof.refuse@example.com"] = ["550 5.1.1 Inconnu"]
    routing.route(teacher, [account("joseph.fabre").id],
                  mail("x@example.com", "joseph.fabre@ent.test", "Boucle ?"))
    db.session.commit()
    worker.drain()
    (report,) = reports_to("prof.refuse@example.com")
    assert report.state == EntryState.FAILED
    assert worker.drain() == 0
    assert len(reports_to("prof.refuse@example.com")) == 1
    assert sink.to("prof.refuse@example.com") == []


def test_a_students_bounce_report_lands_in_their_inbox(sink):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    sink.refuse[CLAIRE_REDIRECT] = ["554 5.7.1 Spam"]
    routing.route(pupil, [account("claire.bernard").id],
                  mail("x@example.org", "claire.bernard@ent.test", "Devoir"))
    db.session.commit()
    worker.drain()
    (report,) = inbox(pupil)
    assert report.subject == "Non remis : Devoir" and report.automatic
    assert "Claire Bernard <claire.bernard@ent.test>" in report.text_body
    assert CLAIRE_REDIRECT not in report.text_body


def dsn(entry_id: int, status: str = "5.1.1", action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@example.net\r\nTo: bounces+{id}@ent.test\r\n"
        "Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {CLAIRE_REDIRECT}\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 550 {status} <{CLAIRE_REDIRECT}> "
        "no such user\r\n\r\n--b--\r\n").replace("{id}", str(entry_id)).encode()


def test_a_bounce_coming_back_is_matched_to_its_entry_and_reported_once(smtp, sink):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Absence")
    send_by_smtp(smtp, JOSEPH, message)
    stored = stored_with_id(message["Message-ID"])
    worker.drain()
    (entry,) = entries_of(stored.id)
    sink.reset()
    for _ in range(2):
        assert smtp.sendmail("<>", [bounce_address(entry)], dsn(entry.id)) == {}
    (entry,) = entries_of(stored.id)
    assert entry.state == EntryState.BOUNCED
    worker.drain()
    (report,) = sink.to(JOSEPH)
    text = parsed(report.data).get_body(("plain",)).get_content()
    assert "« Absence »" in text and "Claire Bernard <claire.bernard@ent.test>" in text
    assert CLAIRE_REDIRECT not in text


def test_auto_replies_and_delay_notices_to_a_bounce_address_are_ignored(smtp, sink):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Vacances")
    send_by_smtp(smtp, JOSEPH, message)
    stored = stored_with_id(message["Message-ID"])
    worker.drain()
    (entry,) = entries_of(stored.id)
    address = bounce_address(entry)
    assert smtp.sendmail("<>", [address], dsn(entry.id, "4.4.1", "delayed")) == {}
    assert smtp.sendmail("<>", [address], raw(mail("claire@example.net", address,
                                                   "Absent du bureau"))) == {}
    assert entries_of(stored.id)[0].state == EntryState.SENT


def test_a_signed_bounce_address_of_no_entry_is_unknown(smtp):
    smtp.mail("<>")
    code, _ = smtp.rcpt(bounces.envelope_sender(999999999, current()))
    assert code == 550


def test_an_entry_claimed_by_a_worker_that_died_is_sent_after_its_lease(sink):
    routing.route(account("claire.bernard"), [account("joseph.fabre").id],
                  mail("x@example.org", "joseph.fabre@ent.test", "Orphelin"))
    db.session.commit()
    now = utcnow()
    claimed = queue.claim("dead-worker", limit=1000, now=now)
    db.session.commit()
    assert claimed
    assert worker.run_once("live-worker", now=now + queue.LEASE / 2) == 0
    handled = worker.drain("live-worker", now=now + queue.LEASE + timedelta(seconds=1))
    assert handled >= len(claimed)
    db.session.rollback()
    states = db.session.scalars(select(OutboundEntry.state).where(
        OutboundEntry.id.in_([c.id for c in claimed])))
    assert set(states) == {EntryState.SENT}


def test_the_lease_is_one_minute_and_a_living_workers_heartbeat_keeps_it(sink):
    routing.route(account("claire.bernard"), [account("joseph.fabre").id],
                  mail("x@example.org", "joseph.fabre@ent.test", "Relais lent"))
    db.session.commit()
    assert queue.LEASE == timedelta(minutes=1)
    ids = [c.id for c in queue.claim("slow-worker", limit=1000)]
    assert ids
    # As if it had been claimed a minute ago: without a heartbeat the lease ends in a second.
    db.session.execute(update(OutboundEntry).where(OutboundEntry.id.in_(ids)).values(
        lease_until=utcnow() + timedelta(seconds=1)))
    db.session.commit()
    with worker.Heartbeat("slow-worker", ids, every=0.1):
        time.sleep(1.5)
        worker.run_once("other-worker")
    db.session.rollback()
    holders = db.session.scalars(select(OutboundEntry.claimed_by).where(
        OutboundEntry.id.in_(ids)))
    assert set(holders) == {"slow-worker"}
    # Its heartbeat stopped (the worker died): a minute later the entries are sent.
    worker.drain("other-worker", now=utcnow() + queue.LEASE + timedelta(seconds=1))
    db.session.rollback()
    states = db.session.scalars(select(OutboundEntry.state).where(OutboundEntry.id.in_(ids)))
    assert set(states) == {EntryState.SENT}


def test_after_the_queue_lifetime_the_author_gets_a_report(sink):
    sink.refuse[JOSEPH] = ["421 4.4.2 Occupé"] * 3
    teacher = new_account(Profile.TEACHER, redirect="prof.patient@example.com")
    stored_id = routing.route(teacher, [account("joseph.fabre").id],
                              mail("x@example.com", "joseph.fabre@ent.test", "Patience")
                              ).message_id
    db.session.commit()
    now = utcnow()
    worker.drain(now=now)
    assert entries_of(stored_id)[0].state == EntryState.PENDING
    worker.drain(now=now + timedelta(days=5) - timedelta(minutes=1))
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.FAILED and entry.last_error.startswith("deferred")
    (report,) = sink.to("prof.patient@example.com")
    assert "Patience" in parsed(report.data)["Subject"]
    text = " ".join(parsed(report.data).get_body(("plain",)).get_content().split())
    assert "le message n'a pas pu être remis pendant 5 jours" in text


@pytest.mark.parametrize("sender", ["bounces+7@ent.test", ""])
def test_a_captured_message_shows_its_envelope(tmp_path, sender):
    relay = Relay(f"capture:{tmp_path}", tmp_path, "mail.ent.test")
    assert relay.send(sender, CLAIRE_REDIRECT, b"Subject: Sortie\r\n\r\nBonjour\r\n").sent
    (eml,) = tmp_path.glob("*.eml")
    captured = parsed(eml.read_bytes())
    assert captured["Return-Path"] == f"<{sender}>"
    assert captured["Delivered-To"] == CLAIRE_REDIRECT
    assert captured["Subject"] == "Sortie" and captured.get_content().strip() == "Bonjour"
