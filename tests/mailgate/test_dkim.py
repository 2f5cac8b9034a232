"""DKIM signing by the outbound worker (PREAU_DKIM_KEY, PREAU_DKIM_SELECTOR): what reaches the
smarthost verifies against the public key, and a bad key stops the worker with one line."""
from __future__ import annotations

import os
import subprocess
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
    ("ec-key", SELECTOR, "n'est pas une clé privée DKIM utilisable (PEM RSA attendu)"),
    ("short-key", SELECTOR, "est une clé RSA de 768 bits"),
    ("KEY", "", "PREAU_DKIM_KEY et PREAU_DKIM_SELECTOR vont ensemble"),
    ("KEY", "bad selector!", "PREAU_DKIM_SELECTOR invalide"),
])
def test_a_bad_dkim_setting_stops_the_worker_with_one_french_line(
        key, selector, expected, rsa_key, live_database, tmp_path):
    if key == "not-a-key":
        key = tmp_path / "not-a-key.pem"
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n")
    elif key == "short-key":
        key = tmp_path / "short.pem"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "768"], check=True,
                       capture_output=True)
    elif key == "ec-key":
        key = tmp_path / "ec.pem"
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", str(key)], check=True, capture_output=True)
    elif key == "KEY":
        key = rsa_key[0]
    result = CliRunner().invoke(main, ["worker", "--drain"], env={
        "PREAU_DATABASE_URL": live_database, "PREAU_INSTANCE_PATH": str(tmp_path),
        "PREAU_SECRET_KEY": "dkim-test", "PREAU_DKIM_KEY": str(key),
        "PREAU_DKIM_SELECTOR": selector})
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert "envoi(s) traité(s)" not in result.output


# Shapes a signer gets wrong: folded and repeated fields, a field named twice in the message,
# spaces at line ends, blank lines at the end, bare LF line ends, 8-bit text, no body.
MESSAGES = {
    "folded": b"From: Claire Bernard <claire.bernard@ent.test>\r\nTo: a@example.org,\r\n"
              b"\t b@example.org\r\nSubject: Sortie\r\n  au  mus\xc3\xa9e\r\n\r\nBonjour\r\n",
    "repeated": b"Received: x\r\nFrom: a@ent.test\r\nTo: b@example.org\r\n"
                b"To: c@example.org\r\nSubject: deux To\r\n\r\ncorps\r\n",
    "spaces": b"From: a@ent.test  \r\nSubject:\tEspaces\t \r\n\r\nligne  \t\r\n\r\n\r\n",
    "bare lf": b"From: a@ent.test\nSubject: LF\n\nune\nseule\n",
    "8bit": b"From: a@ent.test\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9l\xc3\xa8ve\r\n",
    "no body": b"From: a@ent.test\r\nSubject: rien\r\n\r\n",
    "no final line end": b"From: a@ent.test\r\nSubject: fin\r\n\r\nderni\xc3\xa8re ligne  ",
}


@pytest.mark.parametrize("name", MESSAGES)
def test_every_shape_of_message_verifies_and_a_change_breaks_it(name, rsa_key):
    signed = Signer(rsa_key[0], SELECTOR, "ent.test").sign(MESSAGES[name])
    assert dkim.verify(signed, dnsfunc=dns_of(rsa_key[1]))
    assert signed.endswith(b"\r\n")      # as SMTP sends it, and as it was signed
    header, _, body = signed.partition(b"\r\n\r\n")
    assert not dkim.verify(header + b"\r\n\r\n" + body + b"ajout\r\n",
                           dnsfunc=dns_of(rsa_key[1]))
    assert not dkim.verify(signed.replace(b"From: a@", b"From: z@").replace(
        b"From: Claire", b"From: Clara"), dnsfunc=dns_of(rsa_key[1]))
