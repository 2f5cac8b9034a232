"""A DNS server that does not answer makes the gateway answer 451 only when the answer could
change the verdict: a key that does not come for a signature of a domain not aligned with the
sender's, or a DMARC record that does not come when no valid signature depends on its
strictness (adkim), leaves a refusal a 550; one that could change it is still a 451. Over
real SMTP from 127.0.0.2 with a real DNS server on a loopback port: the zone of
tests/mailgate/dns_zone.py, plus dmarc-silent.example, whose `_dmarc` records never come,
and key-silent.example, whose DKIM keys never come."""
from __future__ import annotations

import pytest
from dnslib import DNSError
from dnslib.server import DNSServer

from mailgate.gateway import GatewayThread
from tests.conftest import make_app

from . import dns_zone
from .conftest import free_port
from .test_sender_auth import outsider, parent_at, send

DMARC_SILENT = "dmarc-silent.example"
KEY_SILENT = "key-silent.example"


class DmarcSilent(dns_zone.Zone):
    """The test zone, plus dmarc-silent.example: SPF fails for 127.0.0.2, the DKIM key is
    published, and its DMARC record (and its subdomains') never comes; and
    key-silent.example: SPF fails, DMARC p=reject, its DKIM keys never come."""

    def __init__(self, dkim_key: bytes):
        super().__init__(dkim_key)
        self.records[DMARC_SILENT] = [b"v=spf1 -all"]
        self.records[f"news.{DMARC_SILENT}"] = [b"v=spf1 -all"]
        self.records[f"{dns_zone.SELECTOR}._domainkey.{DMARC_SILENT}"] = \
            self.records[f"{dns_zone.SELECTOR}._domainkey.dkim.example"]
        self.records[KEY_SILENT] = [b"v=spf1 -all"]
        self.records[f"_dmarc.{KEY_SILENT}"] = [b"v=DMARC1; p=reject"]

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        if name.startswith("_dmarc.") and name.endswith(DMARC_SILENT) \
                or name.endswith(f"._domainkey.{KEY_SILENT}"):
            raise DNSError("no answer")
        return super().resolve(request, handler)


@pytest.fixture(scope="module")
def dmarc_silent_gateway(mail_app, rsa_key, tmp_path_factory):
    """A gateway on the tests' database asking this module's DNS server."""
    server = DNSServer(DmarcSilent(rsa_key[1]), address="127.0.0.1", port=free_port(),
                       logger=dns_zone.Quiet())
    server.start_thread()
    app = make_app(tmp_path_factory.mktemp("dmarc-silent"),
                   mail_app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["PREAU"].update(mail_app.config["PREAU"],
                               DNS_SERVERS=f"127.0.0.1:{server.server.server_address[1]}")
    running = GatewayThread(app).start()
    yield running
    running.stop()
    server.stop()


@pytest.fixture
def client(dmarc_silent_gateway):
    connection = outsider(dmarc_silent_gateway.port)
    yield connection
    connection.close()


def test_a_key_that_does_not_come_for_a_signature_not_aligned_leaves_a_550(client, rsa_key):
    """SPF fails; the only signature is another domain's (a mailing list, an ESP) whose key
    lookup times out: it could never vouch for the sender."""
    sender = parent_at("spf-fail.example")
    code, reply, _ = send(client, sender, signed_by=(KEY_SILENT, rsa_key[0]))
    assert code == 550 and reply.startswith("5.7.26"), reply
    assert "DKIM temperror" in reply


def test_a_key_that_does_not_come_for_an_aligned_signature_is_a_451(client, rsa_key):
    sender = parent_at(KEY_SILENT)
    code, reply, _ = send(client, sender, signed_by=(KEY_SILENT, rsa_key[0]))
    assert code == 451 and reply.startswith("4.7.0"), reply


def test_a_dmarc_record_that_does_not_come_changes_nothing_without_a_signature(client):
    sender = parent_at(DMARC_SILENT)
    code, reply, _ = send(client, sender)
    assert code == 550 and reply.startswith("5.7.26"), reply


def test_a_dmarc_record_that_does_not_come_leaves_an_exactly_aligned_signature_valid(
        client, rsa_key):
    sender = parent_at(DMARC_SILENT)
    code, reply, _ = send(client, sender, signed_by=(DMARC_SILENT, rsa_key[0]))
    assert code == 250, reply


def test_a_dmarc_record_that_does_not_come_is_a_451_when_alignment_depends_on_it(
        client, rsa_key):
    """Signed by the organization for a subdomain's sender: aligned unless adkim=s, which
    only the record that did not come could say."""
    sender = parent_at(f"news.{DMARC_SILENT}")
    code, reply, _ = send(client, sender, signed_by=(DMARC_SILENT, rsa_key[0]))
    assert code == 451 and reply.startswith("4.7.0"), reply
