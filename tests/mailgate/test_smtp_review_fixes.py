"""Findings of the reviews of the mail path (1, 3, 6, 7, 8; then R4: 1, 5, 6, 7, 9), each
through a real SMTP conversation on loopback."""
from __future__ import annotations

import base64
import socket
import time
import uuid
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate import bounces, inbound, local_handlers, reports, store, worker
from mailgate.models import EntryKind, FolderKind, OutboundEntry
from mailgate.settings import current

from .conftest import account, address_of, new_account
from .helpers import inbox, mail, raw, stored_with_id
from .test_bounces import failure_notice, forwarded_entry
from .test_sender_auth import gateway_in, outside, outsider, parent_at  # noqa: F401 (fixtures)
from .test_smtp_session import Serving

JOSEPH = "joseph@example.org"
ZOE = "zoe.le-gall@ent.test"


def text(reply: bytes) -> str:
    return reply.decode("utf-8")


def reports_to(address: str) -> list[OutboundEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.address == address, OutboundEntry.kind == EntryKind.REPORT)))


# --- 1. an encoded display name decoding to a line break ------------------------------------

INJECTED = "x\r\nContent-Type: text/html\r\nX-A: "


def encoded(name: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(name.encode()).decode()}?="


def with_to(to: str) -> tuple[bytes, str]:
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    return (f"From: {JOSEPH}\r\nTo: {to}\r\nSubject: Nom piégé\r\nMessage-ID: {message_id}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour.\r\n").encode(), message_id


def test_an_encoded_name_decoding_to_a_line_break_adds_no_field_to_the_stored_header(smtp):
    """The other entry (Joseph's own redirect address) is rewritten, so the whole To field is
    written again by Préau: the name is written on one line."""
    data, message_id = with_to(f"{encoded(INJECTED)} <{ZOE}>, {JOSEPH}")
    assert smtp.sendmail(JOSEPH, [ZOE], data) == {}
    stored = stored_with_id(message_id)
    assert stored in inbox(account("zoe.le-gall"))
    fields = message_from_bytes(stored.source, policy=policy.default)
    assert "X-A" not in fields
    assert len(fields.get_all("Content-Type")) == 1 and fields.get_content_type() == "text/plain"
    assert fields["Subject"] == "Nom piégé"
    assert fields["To"] == f'"x Content-Type: text/html X-A:" <{ZOE}>, joseph.fabre@ent.test'
    assert stored.to_display == f"x Content-Type: text/html X-A: <{ZOE}>, joseph.fabre@ent.test"


def test_an_encoded_name_kept_as_received_is_shown_on_one_line(smtp):
    """Nothing to rewrite: the field is stored as it came (encoded, harmless), and the list
    column shows the name on one line."""
    data, message_id = with_to(f"{encoded(INJECTED)} <{ZOE}>")
    assert smtp.sendmail(JOSEPH, [ZOE], data) == {}
    stored = stored_with_id(message_id)
    fields = message_from_bytes(stored.source, policy=policy.default)
    assert "X-A" not in fields and len(fields.get_all("Content-Type")) == 1
    assert fields.get_content_type() == "text/plain"
    assert stored.to_display == f"x Content-Type: text/html X-A: <{ZOE}>"


# --- 3. RCPT commands per transaction --------------------------------------------------------

def test_rcpt_commands_past_the_cap_get_452_and_repeats_are_listed_once(smtp, monkeypatch):
    listed = []
    reply = inbound.Inbound._reply

    def recording(envelope, text_):
        listed.append(len(envelope.rcpt_tos))
        return reply(envelope, text_)

    monkeypatch.setattr(inbound.Inbound, "_reply", staticmethod(recording))
    message = mail(JOSEPH, ZOE, "Mille et une fois")
    smtp.mail(JOSEPH)
    replies = [smtp.rcpt(ZOE.upper() if n % 2 else ZOE) for n in range(inbound.MAX_RCPT_COMMANDS + 5)]
    assert [code for code, _ in replies[:inbound.MAX_RCPT_COMMANDS]] == [250] * 1000
    for code, answer in replies[inbound.MAX_RCPT_COMMANDS:]:
        assert code == 452 and text(answer).startswith("4.5.3 Trop de commandes RCPT")
    assert max(listed) == 1            # ZOE once in the envelope, whatever the repeats
    assert smtp.data(raw(message))[0] == 250
    assert [m.message_id_header for m in inbox(account("zoe.le-gall"))
            if m.message_id_header == message["Message-ID"]] == [message["Message-ID"]]


def test_a_new_transaction_counts_its_rcpt_commands_afresh(smtp):
    smtp.mail(JOSEPH)
    for _ in range(inbound.MAX_RCPT_COMMANDS):
        smtp.rcpt(ZOE)
    assert smtp.rcpt(ZOE)[0] == 452
    smtp.rset()
    smtp.mail(JOSEPH)
    assert smtp.rcpt(ZOE)[0] == 250


def test_a_bounce_address_named_three_times_is_one_recipient_and_one_report(smtp, sink,
                                                                           monkeypatch):
    entry = forwarded_entry(smtp, "Trois avis")
    sink.reset()
    listed = []
    reply = inbound.Inbound._reply

    def recording(envelope, text_):
        listed.append(len(envelope.rcpt_tos))
        return reply(envelope, text_)

    monkeypatch.setattr(inbound.Inbound, "_reply", staticmethod(recording))
    address = bounces.envelope_sender(entry.id, current())
    smtp.mail("<>")
    assert [smtp.rcpt(address)[0] for _ in range(3)] == [250] * 3
    assert smtp.data(failure_notice("550 5.1.1 Unknown user"))[0] == 250
    assert max(listed) == 1
    worker.drain()
    assert len(sink.to(JOSEPH)) == 1


# --- 6. no « Non remis » report when the reply at DATA already says it -----------------------

def full_after_rcpt(smtp, *others: str):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    smtp.mail(JOSEPH)
    assert smtp.rcpt(address_of(pupil))[0] == 250
    for other in others:
        assert smtp.rcpt(other)[0] == 250
    store.system_folders([pupil.id], FolderKind.INBOX)
    store.reserve([pupil.id], current().quota_bytes - 10, None)
    db.session.commit()
    return pupil


def test_a_452_at_data_sends_the_author_no_report_however_often_the_client_retries(smtp):
    before = len(reports_to(JOSEPH))      # the gateway commits: other tests' reports stay
    pupil = full_after_rcpt(smtp)
    message = raw(mail(JOSEPH, address_of(pupil), "Plein"))
    for _ in range(2):
        code, reply = smtp.data(message)
        assert code == 452 and text(reply).startswith("4.2.2")
        smtp.mail(JOSEPH)
        assert smtp.rcpt(address_of(pupil))[0] == 250
    assert inbox(pupil) == []
    assert len(reports_to(JOSEPH)) == before


def test_a_recipient_refused_at_data_while_another_got_it_is_reported_to_the_author(smtp):
    before = len(reports_to(JOSEPH))
    pupil = full_after_rcpt(smtp, ZOE)
    code, _ = smtp.data(raw(mail(JOSEPH, [address_of(pupil), ZOE], "Plein pour un")))
    assert code == 250
    assert inbox(pupil) == []
    assert len(reports_to(JOSEPH)) == before + 1


# --- 7. a header naming tens of thousands of addresses ---------------------------------------

def naming(count: int) -> tuple[bytes, str]:
    """A message to Zoé whose Cc names `count` addresses, ten a line (within the header
    bound, mime.MAX_HEADER_LINES), written as bytes (the email package takes minutes to fold
    such a field)."""
    lines = [", ".join(f"parent{n}@example.com" for n in range(start, min(start + 10, count)))
             for start in range(0, count, 10)]
    cc = ",\r\n ".join(lines)
    return with_to(f"{ZOE}\r\nCc: {cc}")


def test_a_header_naming_40000_addresses_is_refused_for_good_at_data(smtp):
    data, message_id = naming(40_000)
    smtp.mail(JOSEPH)
    assert smtp.rcpt(ZOE)[0] == 250
    code, reply = smtp.data(data)
    assert code == 552, reply
    assert text(reply) == ("5.5.3 L'en-tete du message nomme trop d'adresses : 40001, pour "
                           "1000 au plus")
    assert stored_with_id(message_id) is None


def test_a_header_naming_a_thousand_addresses_is_still_delivered(smtp):
    data, message_id = naming(999)
    assert smtp.sendmail(JOSEPH, [ZOE], data) == {}
    assert stored_with_id(message_id) in inbox(account("zoe.le-gall"))


# --- 8. MAIL FROM a suspended member's address -----------------------------------------------

def test_the_reply_to_a_suspended_members_address_does_not_name_the_member(smtp):
    suspended = new_account(Profile.PARENT, redirect="suspendu@example.com",
                            parent_of="zoe.le-gall", suspended=True)
    code, reply = smtp.mail("suspendu@example.com")
    assert code == 550
    assert text(reply) == "5.7.1 Ce compte est suspendu : il ne peut pas envoyer de message"
    for part in (suspended.first_name, suspended.last_name):
        assert part not in text(reply)


# === Review R4 of the SMTP gateway (items 1, 5, 6, 7, 9) ====================================

# --- R4.1 an outsider who merely claims a member's address learns no name at RCPT -----------

def refused_accounts() -> dict[str, Account]:
    """One account per refusal that names its member: suspended, no redirect address (a
    teacher), not allowed (a pupil of no class of Zoé's), full mailbox (a pupil)."""
    full = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    store.system_folders([full.id], FolderKind.INBOX)
    store.reserve([full.id], current().quota_bytes, None)
    db.session.commit()
    return {"suspended": new_account(Profile.STUDENT, group_of="zoe.le-gall", suspended=True),
            "no_redirect": new_account(Profile.TEACHER, group_of="zoe.le-gall"),
            "not_allowed": new_account(Profile.STUDENT),
            "full": full}


def test_an_unauthenticated_sender_learns_no_name_at_rcpt(outside):  # noqa: F811
    """From 127.0.0.2, claiming a parent's address at a domain whose SPF says -all: the
    refusals name only the address typed, one 550 5.7.1 for every state but the full
    mailbox's 452."""
    sender = parent_at("spf-fail.example")
    people = refused_accounts()
    assert outside.mail(sender)[0] == 250
    answers = {}
    for state, person in people.items():
        code, reply = outside.rcpt(address_of(person))
        answers[state] = (code, text(reply))
        assert person.last_name not in text(reply) and person.full_name not in text(reply)
    for state in ("suspended", "no_redirect", "not_allowed"):
        assert answers[state] == (550, f"5.7.1 {address_of(people[state])} ne peut pas "
                                        "recevoir ce message"), state
    assert answers["full"] == (452, f"4.2.2 La boite aux lettres de "
                                    f"{address_of(people['full'])} est pleine")


def test_a_sender_proven_by_spf_before_data_still_reads_why(outside):  # noqa: F811
    sender = parent_at("spf-pass.example")
    suspended = new_account(Profile.STUDENT, group_of="zoe.le-gall", suspended=True)
    assert outside.mail(sender)[0] == 250
    code, reply = outside.rcpt(address_of(suspended))
    assert (code, text(reply)) == (550, f"5.2.1 Le compte de {suspended.full_name} est suspendu")


def test_the_spec_refusal_of_an_unknown_sender_still_comes_at_mail(outside):  # noqa: F811
    code, reply = outside.mail("personne@spf-fail.example")
    assert code == 550 and text(reply).startswith(
        "5.7.1 personne@spf-fail.example n'est pas l'adresse de redirection d'un membre")


def test_a_refusal_at_data_names_no_one_for_a_sender_delivered_unverified(gateway_in):  # noqa: F811
    """PREAU_SENDER_AUTH=mark delivers an unauthenticated sender's mail: a mailbox that
    filled between RCPT and DATA is refused without the pupil's name."""
    client = outsider(gateway_in("mark").port)
    try:
        sender = parent_at("spf-softfail.example")
        pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
        assert client.mail(sender)[0] == 250
        assert client.rcpt(address_of(pupil))[0] == 250
        store.system_folders([pupil.id], FolderKind.INBOX)
        store.reserve([pupil.id], current().quota_bytes - 10, None)
        db.session.commit()
        code, reply = client.data(raw(mail(sender, address_of(pupil), "Plein")))
        assert (code, text(reply)) == (
            452, f"4.2.2 La boite aux lettres de {address_of(pupil)} est pleine")
        assert inbox(pupil) == []
    finally:
        client.close()


# --- R4.5 the 50-recipient limit is all or nothing, and permanent at RCPT ---------------------

def test_a_repeat_after_the_51st_does_not_lift_the_limit_and_the_refusal_is_permanent(smtp):
    pupils = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(51)]
    message = mail(JOSEPH, ZOE, "Cinquante et un, puis le premier encore")
    smtp.mail(JOSEPH)
    assert [smtp.rcpt(address_of(p))[0] for p in pupils[:50]] == [250] * 50
    code, reply = smtp.rcpt(address_of(pupils[50]))
    assert code == 550              # 552 may be read as 452 (RFC 5321 §4.5.3.1.10)
    assert text(reply).startswith("5.5.3 Un message peut avoir au plus 50 destinataires")
    code, reply = smtp.rcpt(address_of(pupils[0]))          # a repeat of an accepted one
    assert code == 550 and text(reply).startswith("5.5.3 ")
    code, reply = smtp.data(raw(message))
    assert code == 552 and text(reply).startswith("5.5.3")
    assert stored_with_id(message["Message-ID"]) is None
    assert inbox(pupils[0]) == []


# --- R4.6 a failing report after the commit still answers 250 --------------------------------

def refusing_receive(author, target, raw_message):
    return "refusé pour l'essai"


@pytest.fixture
def refusing_handler(mail_app, monkeypatch):
    """`essai+<tag>@ent.test`: a local address whose handler accepts every tag and refuses
    every message."""
    handlers = mail_app.extensions.setdefault(local_handlers.EXTENSION, {})
    monkeypatch.setitem(handlers, "essai", local_handlers.LocalHandler(
        "essai", lambda tag: tag, refusing_receive))
    return "essai+revue@ent.test"


def test_a_report_failing_after_the_commit_is_logged_and_the_client_gets_250(
        smtp, refusing_handler, monkeypatch, caplog):
    def failing(*args):
        raise RuntimeError("base indisponible")

    monkeypatch.setattr(reports, "not_taken", failing)
    message = mail(JOSEPH, [ZOE, refusing_handler], "Rapport en panne")
    smtp.mail(JOSEPH)
    assert smtp.rcpt(ZOE)[0] == 250
    assert smtp.rcpt(refusing_handler)[0] == 250
    code, reply = smtp.data(raw(message))
    assert code == 250 and text(reply).startswith("2.0.0"), reply
    assert [m.message_id_header for m in inbox(account("zoe.le-gall"))
            if m.message_id_header == message["Message-ID"]] == [message["Message-ID"]]
    assert "base indisponible" in caplog.text


# --- R4.7 a slow but steady DATA is not cut by the session timeout ---------------------------

def test_a_slow_but_steady_data_is_not_cut_by_the_timeout():
    line = b"x" * 78 + b"\r\n"
    piece = line * (70 * 1024 // len(line))        # more than one piece the session reads
    with Serving(timeout=1.0) as serving:
        with socket.create_connection(("127.0.0.1", serving.port)) as client:
            client.settimeout(10)
            reader = client.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            for command, expected in ((b"HELO client.example.org", b"250"),
                                      (b"MAIL FROM:<a@example.org>", b"250"),
                                      (b"RCPT TO:<b@ent.test>", b"250"),
                                      (b"DATA", b"354")):
                client.sendall(command + b"\r\n")
                assert reader.readline().startswith(expected), command
            started = time.monotonic()
            while time.monotonic() - started < 3:      # three timeouts in all
                client.sendall(piece)
                time.sleep(0.5)
            client.sendall(b".\r\n")
            assert reader.readline().startswith(b"250 ")


# --- R4.9 the greeting is ASCII ---------------------------------------------------------------

def test_the_greeting_is_ascii(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port)) as client:
        client.settimeout(10)
        first = client.makefile("rb").readline()
    assert first.isascii() and first == b"220 mail.ent.test Preau\r\n", first
