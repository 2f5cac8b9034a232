"""Mail claiming a member's redirect address must authenticate (SPF for the client, or an
aligned DKIM signature), over real SMTP from 127.0.0.2 (outside the trusted 127.0.0.1) with a
real DNS server on a loopback port (tests/mailgate/dns_zone.py)."""
from __future__ import annotations

import itertools
import smtplib

import dkim
import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from directory.models import Account, MailCorrespondent
from mailgate.gateway import GatewayThread
from mailgate.models import MailboxItem, SenderCheck
from tests.conftest import login, make_app
from tests.portal.carnet_helpers import page

from .conftest import account, new_account
from .dns_zone import OUTSIDER, SELECTOR
from .helpers import count, mail, raw, stored_with_id

ZOE = "zoe.le-gall@ent.test"
_serial = itertools.count(1)


def outsider(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(OUTSIDER, 0))
    client.ehlo("mx.outside.example")
    return client


@pytest.fixture
def outside(gateway):
    client = outsider(gateway.port)
    yield client
    client.close()


def parent_at(domain: str) -> str:
    """The verified redirect address, at `domain`, of a new parent of Zoé."""
    address = f"parent.{next(_serial)}@{domain}"
    new_account(Profile.PARENT, parent_of="zoe.le-gall", redirect=address)
    return address


def send(client, sender: str, *, signed_by: tuple[str, str] | None = None,
         subject: str = "Mot pour Zoé") -> tuple[int, str, str]:
    """(code, reply text, Message-ID) of DATA, RCPT having been accepted."""
    message = mail(sender, ZOE, subject)
    data = raw(message)
    if signed_by:
        domain, key = signed_by
        with open(key, "rb") as pem:
            data = dkim.sign(data, SELECTOR.encode(), domain.encode(), pem.read(),
                             include_headers=[b"from", b"to", b"subject", b"message-id"]) + data
    assert client.mail(sender)[0] == 250
    assert client.rcpt(ZOE)[0] == 250
    code, reply = client.data(data)
    return code, reply.decode(), message["Message-ID"]


def authentication_results(message_id: str) -> str:
    head = stored_with_id(message_id).source.split(b"\r\n\r\n", 1)[0].decode()
    (line,) = [f for f in head.split("\r\n") if f.startswith("Authentication-Results:")]
    return line


def test_spf_pass_delivers_and_records_the_result_without_the_private_domain(outside):
    sender = parent_at("spf-pass.example")
    code, _, message_id = send(outside, sender)
    assert code == 250
    assert stored_with_id(message_id).sender_check == SenderCheck.PASS
    assert authentication_results(message_id) == \
        "Authentication-Results: mail.ent.test; spf=pass; dmarc=pass"
    assert b"spf-pass.example" not in stored_with_id(message_id).source


@pytest.mark.parametrize("domain", ["spf-fail.example", "spf-softfail.example",
                                    "no-record.example"])
def test_mail_that_does_not_authenticate_is_refused_550_5726(outside, domain):
    sender = parent_at(domain)
    before = count(MailboxItem, MailboxItem.account_id == account("zoe.le-gall").id)
    code, reply, message_id = send(outside, sender)
    assert code == 550 and reply.startswith("5.7.26 Expediteur non authentifie"), reply
    assert domain in reply
    assert stored_with_id(message_id) is None
    assert count(MailboxItem, MailboxItem.account_id == account("zoe.le-gall").id) == before


def test_an_aligned_dkim_signature_passes_where_spf_fails(outside, rsa_key):
    sender = parent_at("dkim.example")
    code, _, message_id = send(outside, sender, signed_by=("dkim.example", rsa_key[0]))
    assert code == 250
    assert authentication_results(message_id) == \
        "Authentication-Results: mail.ent.test; spf=fail; dkim=pass; dmarc=pass"


def test_a_subdomain_passes_with_its_organizations_signature_unless_dmarc_says_strict(
        outside, rsa_key):
    relaxed = parent_at("news.dkim.example")
    assert send(outside, relaxed, signed_by=("dkim.example", rsa_key[0]))[0] == 250
    outside.rset()
    strict = parent_at("news.strict.example")
    code, reply, _ = send(outside, strict, signed_by=("strict.example", rsa_key[0]))
    assert code == 550 and "DKIM pass" in reply


def test_a_valid_signature_of_another_domain_does_not_vouch(outside, rsa_key):
    sender = parent_at("dkim.example")
    code, reply, _ = send(outside, sender, signed_by=("other.example", rsa_key[0]))
    assert code == 550 and "SPF fail, DKIM pass" in reply


def test_a_broken_signature_does_not_vouch(outside, rsa_key):
    sender = parent_at("dkim.example")
    message = mail(sender, ZOE, "Falsifié")
    with open(rsa_key[0], "rb") as pem:
        signature = dkim.sign(raw(message), SELECTOR.encode(), b"dkim.example", pem.read())
    outside.mail(sender)
    outside.rcpt(ZOE)
    code, reply = outside.data(signature + raw(message).replace(b"Un mot.", b"Un autre mot."))
    assert code == 550 and "DKIM fail" in reply.decode()


def test_a_dns_server_that_does_not_answer_is_a_temporary_failure(outside):
    sender = parent_at("silent.example")
    code, reply, message_id = send(outside, sender)
    assert code == 451 and reply.startswith("4.7.0"), reply
    assert stored_with_id(message_id) is None


def test_trusted_networks_are_not_checked(smtp):
    sender = parent_at("no-record.example")
    code, _, message_id = send(smtp, sender)               # from 127.0.0.1
    assert code == 250
    assert stored_with_id(message_id).sender_check == SenderCheck.TRUSTED
    assert authentication_results(message_id) == \
        "Authentication-Results: mail.ent.test; none (trusted network)"


@pytest.fixture(scope="module")
def gateway_in(mail_app, tmp_path_factory):
    """gateway_in("mark") → a second gateway on the same database with that
    PREAU_SENDER_AUTH."""
    running = {}

    def start(mode: str) -> GatewayThread:
        if mode not in running:
            app = make_app(tmp_path_factory.mktemp(mode),
                           mail_app.config["SQLALCHEMY_DATABASE_URI"])
            app.config["PREAU"].update(mail_app.config["PREAU"], SENDER_AUTH=mode)
            running[mode] = GatewayThread(app).start()
        return running[mode]

    yield start
    for gateway in running.values():
        gateway.stop()


def reading_page_headers(client, message_id: str) -> str:
    db.session.rollback()
    item = db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == stored_with_id(message_id).id,
        MailboxItem.account_id == account("zoe.le-gall").id))
    return page(client.get(f"/messagerie/message/{item}")).find("dl", class_="mail-headers").text


def test_under_mark_unauthenticated_mail_is_delivered_and_shown_as_unverified(gateway_in,
                                                                              mail_app):
    client = outsider(gateway_in("mark").port)
    sender = parent_at("spf-softfail.example")
    code, _, message_id = send(client, sender, subject="Non vérifié")
    assert code == 250
    assert stored_with_id(message_id).sender_check == SenderCheck.UNVERIFIED
    assert authentication_results(message_id) == \
        "Authentication-Results: mail.ent.test; spf=softfail; dmarc=none"
    zoe = mail_app.test_client()
    login(zoe, "zoe.le-gall")
    shown = reading_page_headers(zoe, message_id)
    assert "Expéditeur non vérifié" in shown

    client.rset()
    code, _, verified = send(client, parent_at("spf-pass.example"), subject="Vérifié")
    assert code == 250
    shown = reading_page_headers(zoe, verified)
    assert "Test Passerelle" in shown and "non vérifié" not in shown
    client.close()


def test_unverified_mail_gives_no_right_to_write_back_to_whom_it_claims(gateway_in):
    """Under mark, a message claiming a member's address that SPF does not vouch for is
    delivered marked, but records no correspondent: a forged envelope would otherwise buy its
    recipient the right to write to that member for ever. A verified one does."""
    client = outsider(gateway_in("mark").port)
    zoe = account("zoe.le-gall")

    def wrote_to_zoe(address: str) -> bool:
        db.session.rollback()
        author = db.session.scalar(select(Account.id).where(
            Account.redirect_address == address))
        return db.session.get(MailCorrespondent, (zoe.id, author)) is not None

    forged = parent_at("spf-fail.example")
    assert send(client, forged, subject="Usurpé")[0] == 250
    assert not wrote_to_zoe(forged)
    client.rset()
    verified = parent_at("spf-pass.example")
    assert send(client, verified, subject="Authentique")[0] == 250
    assert wrote_to_zoe(verified)
    client.close()


def test_off_checks_nothing(gateway_in):
    client = outsider(gateway_in("off").port)
    code, _, message_id = send(client, parent_at("spf-fail.example"))
    assert code == 250
    assert stored_with_id(message_id).sender_check is None
    assert b"Authentication-Results" not in stored_with_id(message_id).source
    client.close()


def test_a_signature_of_the_domain_does_not_vouch_for_another_of_its_users(outside, rsa_key):
    """Anyone with an address at a member's provider can have a message of their own signed
    by it, then replay it under the member's address: the signed From must be the sender."""
    member = parent_at("dkim.example")
    message = mail("intrus@dkim.example", ZOE, "Rejoué")
    with open(rsa_key[0], "rb") as pem:
        signature = dkim.sign(raw(message), SELECTOR.encode(), b"dkim.example", pem.read(),
                              include_headers=[b"from", b"to", b"subject"])
    assert outside.mail(member)[0] == 250
    assert outside.rcpt(ZOE)[0] == 250
    code, reply = outside.data(signature + raw(message))
    assert code == 550 and "5.7.26" in reply.decode()


def test_under_mark_an_unauthenticated_answer_to_an_agenda_counts_for_nobody(gateway_in, sink):
    """A message that fails the check is delivered under « mark », its doubt shown to its
    readers; an agenda answer has no reader to see it: it is refused, not counted."""
    from .agenda_helpers import answer_of, invitation_to, published
    from .test_agenda_replies import reply

    sender = parent_at("spf-fail.example")
    title = f"Réunion (non vérifiée {next(_serial)})"
    event, _ = published(title, notify=True, ask_confirmation=True)
    _, invitation = invitation_to(sink, sender, title)
    message, organizer = reply(invitation, "ACCEPTED", attendee=sender, sender=sender)
    client = outsider(gateway_in("mark").port)
    assert client.mail(sender)[0] == 250
    assert client.rcpt(organizer)[0] == 250
    code, text = client.data(raw(message))
    client.close()
    assert code == 550 and "non verifie" in text.decode()
    login = db.session.scalar(select(Account.login).where(Account.redirect_address == sender))
    assert answer_of(event, login) is None
