"""PREAU_SMARTHOST with a user on smtp://: the password goes only over STARTTLS. A relay that
does not offer it (or a man in the middle who removed it from the EHLO answer) never gets
AUTH; the message waits, logged, and goes once the relay offers it again. Real aiosmtpd
relays on loopback."""
from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import threading
from dataclasses import replace

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from directory.db import db
from mailgate import smarthost, worker
from mailgate.models import EntryKind, EntryState, OutboundEntry
from mailgate.settings import current
from mailgate.smarthost import NO_STARTTLS, Relay
from tests.conftest import missing

from .test_processes import _queue_forwards
from .test_sending import BODY, Relaying


class Logins:
    """An aiosmtpd authenticator recording each AUTH it is given, and whether it came over
    TLS; it accepts preau / secret."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        with self.lock:
            self.seen.append((mechanism, session.ssl is not None))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"preau", b"secret"))


def with_credentials(relay: Relaying) -> str:
    return relay.url.replace("smtp://", "smtp://preau:secret@")


def test_a_relay_offering_auth_but_no_starttls_never_gets_the_password():
    logins = Logins()
    with Relaying(authenticator=logins, auth_require_tls=False) as relay:
        one = Relay(with_credentials(relay), None, "mail.ent.test")
        try:
            outcome = one.send("", "parent@example.com", BODY)
        finally:
            one.close()
    assert logins.seen == []
    assert relay.recipients() == []
    assert (outcome.sent, outcome.permanent, outcome.reached) == (False, False, False)
    assert outcome.error == NO_STARTTLS


def test_the_worker_keeps_the_entry_for_a_retry_and_logs_why(mail_app, caplog):
    logins = Logins()
    with Relaying(authenticator=logins, auth_require_tls=False) as relay:
        mail_app.extensions["mailgate.settings"] = replace(
            current(), smarthost=with_credentials(relay), send_threads=1)
        try:
            (address,) = _queue_forwards(1, "sans-tls-")
            with caplog.at_level(logging.INFO, logger="preau.worker"):
                worker.drain()
        finally:
            mail_app.extensions.pop("mailgate.settings")
            worker.senders()        # the app's own relay again, this test's closed
    db.session.rollback()
    entry = db.session.scalar(select(OutboundEntry).where(OutboundEntry.address == address))
    assert (entry.kind, entry.state, entry.last_error) == (
        EntryKind.FORWARD, EntryState.PENDING, NO_STARTTLS)
    assert entry.next_attempt_at > entry.created_at
    assert logins.seen == [] and relay.recipients() == []
    assert any("offers no STARTTLS" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    db.session.delete(entry)        # not left for the next tests' drains
    db.session.commit()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    if shutil.which("openssl") is None:
        missing("openssl not installed")
    folder = tmp_path_factory.mktemp("relay-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_with_starttls_offered_the_password_goes_over_tls_and_the_message_is_sent(
        certificate, monkeypatch):
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    monkeypatch.setattr(smarthost, "tls_context",
                        lambda: ssl.create_default_context(cafile=cert))
    logins = Logins()
    with Relaying(authenticator=logins, tls_context=served) as relay:
        one = Relay(with_credentials(relay), None, "mail.ent.test")
        try:
            outcome = one.send("", "parent@example.com", BODY)
        finally:
            one.close()
    assert outcome.sent, outcome.error
    assert [tls for _, tls in logins.seen] == [True]
    assert relay.recipients() == ["parent@example.com"]
