"""DKIM signing by the outbound worker (PREAU_DKIM_KEY, PREAU_DKIM_SELECTOR): what reaches the
smarthost verifies against the public key, and a bad key stops the worker with one line."""
from __future__ import annotations

import os
import time

import dkim
import pytest
from click.testing import CliRunner

from mailgate import worker
from mailgate.dkim_signing import Signer
from portal.cli import main

from .helpers import mail, raw
from .test_processes import _queue_forwards

JOSEPH = "joseph@example.org"
CLAIRE_REDIRECT = "claire.bernard@example.net"
SELECTOR = "preau2026"


@pytest.fixture
def signing(mail_app, rsa_key):
    """The worker of `mail_app` signs with `rsa_key` for the length of one test."""
    mail_app.extensions["mailgate.dkim"] = Signer(rsa_key[0], SELECTOR, "ent.test")
    yield
    mail_app.extensions.pop("mailgate.dkim")


def dns_of(record: bytes):
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"{SELECTOR}._domainkey.ent.test.".encode() else None
    return lookup


def test_a_forward_is_signed_and_verifies_against_the_published_key(smtp, sink, signing,
                                                                    rsa_key):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Sortie au musée",
                   body="Départ à 8 h 30 devant le collège.")
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], raw(message)) == {}
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    assert delivery.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert b"d=ent.test" in delivery.data and f"s={SELECTOR}".encode() in delivery.data
    assert dkim.verify(delivery.data, dnsfunc=dns_of(rsa_key[1]))
    tampered = delivery.data.rstrip(b"\r\n") + b"\r\nP.-S. : retour vers 17 h.\r\n"
    assert not dkim.verify(tampered, dnsfunc=dns_of(rsa_key[1]))


def test_identical_copies_in_a_batch_are_signed_once_and_each_verifies(sink, signing, rsa_key,
                                                                      monkeypatch):
    addresses = _queue_forwards(3, f"signe{os.getpid()}-{time.time_ns()}-")
    signatures = []
    sign = Signer.sign
    monkeypatch.setattr(Signer, "sign", lambda self, data: signatures.append(data) or sign(
        self, data))
    worker.drain()
    assert len(signatures) == 1
    for address in addresses:
        (delivery,) = sink.to(address)
        assert delivery.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
        assert dkim.verify(delivery.data, dnsfunc=dns_of(rsa_key[1]))


def test_without_dkim_settings_nothing_is_signed(smtp, sink):
    message = mail(JOSEPH, "claire.bernard@ent.test", "Sans signature")
    assert smtp.sendmail(JOSEPH, ["claire.bernard@ent.test"], raw(message)) == {}
    worker.drain()
    (delivery,) = sink.to(CLAIRE_REDIRECT)
    assert b"DKIM-Signature" not in delivery.data


@pytest.mark.parametrize("key, selector, expected", [
    ("/nonexistent/dkim.pem", SELECTOR, "PREAU_DKIM_KEY : impossible de lire la clé"),
    ("not-a-key", SELECTOR, "n'est pas une clé privée DKIM utilisable"),
    ("KEY", "", "PREAU_DKIM_KEY et PREAU_DKIM_SELECTOR vont ensemble"),
    ("KEY", "bad selector!", "PREAU_DKIM_SELECTOR invalide"),
])
def test_a_bad_dkim_setting_stops_the_worker_with_one_french_line(
        key, selector, expected, rsa_key, live_database, tmp_path):
    if key == "not-a-key":
        key = tmp_path / "not-a-key.pem"
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n")
    elif key == "KEY":
        key = rsa_key[0]
    result = CliRunner().invoke(main, ["worker", "--drain"], env={
        "PREAU_DATABASE_URL": live_database, "PREAU_INSTANCE_PATH": str(tmp_path),
        "PREAU_SECRET_KEY": "dkim-test", "PREAU_DKIM_KEY": str(key),
        "PREAU_DKIM_SELECTOR": selector})
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert "envoi(s) traité(s)" not in result.output
