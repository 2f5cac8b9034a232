"""Findings of the review of the mail path (1, 3, 6, 7, 8), each through a real SMTP
conversation on loopback."""
from __future__ import annotations

import base64
import uuid
from email import message_from_bytes, policy

from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from mailgate import bounces, inbound, store, worker
from mailgate.models import EntryKind, FolderKind, OutboundEntry
from mailgate.settings import current

from .conftest import account, address_of, new_account
from .helpers import inbox, mail, raw, stored_with_id
from .test_bounces import failure_notice, forwarded_entry

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
    """A message to Zoé whose Cc names `count` addresses, written as bytes (the email
    package takes minutes to fold such a field)."""
    cc = ",\r\n ".join(f"parent{n}@example.com" for n in range(count))
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
