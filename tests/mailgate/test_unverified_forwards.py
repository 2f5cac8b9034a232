"""Under PREAU_SENDER_AUTH=mark, mail claiming a parent's redirect address that does not
authenticate is delivered; the teacher it is forwarded to reads it in their own mail program,
where no page says « Expéditeur non vérifié »: the forwarded copy says it in its subject.
Over real SMTP from 127.0.0.2 (outside the trusted network) to a gateway in « mark », the
real DNS server of tests/mailgate/dns_zone.py, and the worker draining to the sink."""
from __future__ import annotations

import itertools
from email import message_from_bytes, policy

import dkim
import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from mailgate import worker
from mailgate.models import MailboxItem, SenderCheck
from tests.conftest import login
from tests.portal.carnet_helpers import page

from .conftest import account, address_of, new_account
from .helpers import mail, raw, stored_with_id
from .test_dkim import dns_of, signing  # noqa: F401 (fixture)
from .test_sender_auth import gateway_in, outsider, parent_at  # noqa: F401 (fixture)

TAG = "[Expéditeur non vérifié]"
ZOE = "zoe.le-gall@ent.test"
_serial = itertools.count(1)


def zoes_teacher() -> tuple[str, str]:
    """(universal address, verified redirect address) of a new teacher of Zoé's groups."""
    redirect = f"prof.{next(_serial)}@example.net"
    teacher = new_account(Profile.TEACHER, redirect=redirect, group_of="zoe.le-gall")
    return address_of(teacher), redirect


@pytest.fixture
def send(gateway_in):  # noqa: F811
    """send(sender, recipients, subject) from outside the trusted network to a gateway in
    « mark »: the message's Message-ID."""
    port = gateway_in("mark").port

    def sent(sender: str, recipients: list[str], subject: str) -> str:
        message = mail(sender, recipients, subject)
        client = outsider(port)
        try:
            assert client.sendmail(sender, recipients, raw(message)) == {}
        finally:
            client.close()
        return message["Message-ID"]

    return sent


def forwarded_to(sink, redirect: str):
    worker.drain()
    (delivery,) = sink.to(redirect)
    return delivery.data, message_from_bytes(delivery.data, policy=policy.default)


def subject_lines(data: bytes) -> list[str]:
    """The Subject field as sent, its folded lines."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines, inside = [], False
    for line in head.split("\r\n"):
        if line.lower().startswith("subject:"):
            inside = True
        elif not line.startswith((" ", "\t")):
            inside = False
        if inside:
            lines.append(line)
    return lines


def reading_page_warning(mail_app, message_id: str) -> str:
    """What Zoé's reading page of the message says of its sender, in bold."""
    db.session.rollback()
    item = db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == stored_with_id(message_id).id,
        MailboxItem.account_id == account("zoe.le-gall").id))
    client = mail_app.test_client()
    login(client, "zoe.le-gall")
    return page(client.get(f"/messagerie/message/{item}")).find(
        "strong", class_="unverified-sender").text


def test_a_forged_parent_message_reaches_the_teacher_tagged_in_the_reading_pages_words(
        send, sink, mail_app):
    teacher, redirect = zoes_teacher()
    subject = "Sortie au musée : merci de régler 12 € avant vendredi"
    message_id = send(parent_at("spf-fail.example"), [teacher, ZOE], subject)
    stored = stored_with_id(message_id)
    assert stored.sender_check == SenderCheck.UNVERIFIED

    data, forwarded = forwarded_to(sink, redirect)
    assert forwarded["Subject"] == f"{TAG} {subject}"
    # RFC 2047: the lines sent are ASCII, folded, and decode to the tagged subject
    assert all(line.isascii() and len(line) <= 78 for line in subject_lines(data))
    assert "=?utf-8?" in subject_lines(data)[0]
    assert forwarded["Authentication-Results"] == \
        "mail.ent.test; spf=fail; dmarc=fail"
    # the stored copy keeps its subject: the portal's page says it instead, in the same words
    assert stored.subject == subject
    assert f"[{reading_page_warning(mail_app, message_id)}]" == TAG


def test_a_verified_parent_message_is_forwarded_as_written_an_unverified_one_tagged(
        send, sink):
    teacher, redirect = zoes_teacher()
    send(parent_at("spf-pass.example"), [teacher], "Absence de Zoé lundi")
    _, verified = forwarded_to(sink, redirect)
    assert verified["Subject"] == "Absence de Zoé lundi"
    assert verified["Authentication-Results"] == "mail.ent.test; spf=pass; dmarc=pass"

    sink.reset()
    send(parent_at("spf-softfail.example"), [teacher], "Absence de Zoé mardi")
    _, unverified = forwarded_to(sink, redirect)
    assert unverified["Subject"] == f"{TAG} Absence de Zoé mardi"


def test_a_subject_that_holds_the_tag_already_carries_it_once_in_front(send, sink):
    """A reply to a tagged copy, or a subject that hides the tag at its end, has it moved in
    front; one that starts with it is sent as it came."""
    cases = {f"{TAG} Déjà signalé": f"{TAG} Déjà signalé",
             f"Re: {TAG} Réunion de rentrée": f"{TAG} Re: Réunion de rentrée",
             f"Paiement de la cantine {TAG}": f"{TAG} Paiement de la cantine"}
    parent = parent_at("spf-fail.example")
    for subject, expected in cases.items():
        teacher, redirect = zoes_teacher()
        send(parent, [teacher], subject)
        _, forwarded = forwarded_to(sink, redirect)
        assert forwarded["Subject"] == expected, subject


def test_the_dkim_signature_of_the_forward_covers_the_tagged_subject(
        send, sink, signing, rsa_key):  # noqa: F811
    teacher, redirect = zoes_teacher()
    send(parent_at("spf-fail.example"), [teacher], "Réunion parents-professeurs")
    data, forwarded = forwarded_to(sink, redirect)
    assert forwarded["Subject"] == f"{TAG} Réunion parents-professeurs"
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns_of(rsa_key[1]))
