"""What the relay refuses, and when the worker tries again (review of the outbound side,
findings 1, 3 and 5): a relay refusing the session (a wrong password, AUTH required, a 554
greeting) refuses no message, so the forwards wait instead of failing for good with a
« Non remis »; a connection lost once the message was written is not sent again at once (the
relay may have it), and the final reply is waited for longer than the others; a relay that
never answers holds a batch for one connect timeout, not one per message. Review of 984291d
(findings 1 and 2): a relay turning one connection away (« 421 too many connections », a
reset) holds back no other, and one silent after a message's data holds the batch for one
final-dot timeout, not one per message. Real aiosmtpd relays and sockets on loopback, the real
senders, worker and queue."""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from sqlalchemy import delete, select

from directory.clock import utcnow
from directory.db import db
from mailgate import routing, smarthost, worker
from mailgate.models import EntryState, OutboundEntry
from mailgate.senders import Envelope, Senders
from mailgate.settings import current
from mailgate.smarthost import Relay

from .conftest import account, free_port
from .helpers import mail
from .test_outbound import CLAIRE_REDIRECT, JOSEPH, entries_of, reports_to
from .test_processes import _queue_forwards
from .test_sending import BODY, Relaying
from .test_smarthost_tls import certificate  # noqa: F401 (the fixture)


class Logins:
    """An aiosmtpd authenticator recording each AUTH and whether it came over TLS; it accepts
    preau / secret, and answers anything else « 535 5.7.8 Authentication credentials
    invalid », as a relay does."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        with self.lock:
            self.seen.append((mechanism, session.ssl is not None))
        right = (auth_data.login, auth_data.password) == (b"preau", b"secret")
        return AuthResult(success=right, handled=False)


def sending_through(mail_app, url: str) -> None:
    mail_app.extensions["mailgate.settings"] = replace(current(), smarthost=url,
                                                       send_threads=1)


def back_to_the_sink(mail_app) -> None:
    mail_app.extensions.pop("mailgate.settings")
    worker.senders()        # the app's own relay again, this test's connections closed


def forward_from_claire_to_joseph(subject: str) -> int:
    stored = routing.route(account("claire.bernard"), [account("joseph.fabre").id],
                           mail("x@example.org", "joseph.fabre@ent.test", subject))
    db.session.commit()
    return stored.message_id


@pytest.fixture
def tls_relay(certificate, monkeypatch):  # noqa: F811
    """(the TLS context a relay serves with); the client trusts the test certificate."""
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    monkeypatch.setattr(smarthost, "tls_context",
                        lambda: ssl.create_default_context(cafile=cert))
    return served


def assert_waits_without_a_report(mail_app, sink, message_id: int, subject: str, started,
                                  answer: str, caplog) -> None:
    (entry,) = entries_of(message_id)
    assert (entry.state, entry.attempts) == (EntryState.PENDING, 1)
    assert entry.next_attempt_at > started and entry.last_error.startswith(answer)
    assert [r for r in reports_to(CLAIRE_REDIRECT) if r.id > entry.id] == []
    assert sink.to(CLAIRE_REDIRECT) == []
    assert any(r.levelno == logging.ERROR and "refused the session" in r.getMessage()
               and answer in r.getMessage() for r in caplog.records)
    back_to_the_sink(mail_app)          # the relay mended: the forward goes, once
    worker.drain(now=started + timedelta(minutes=2))
    (entry,) = entries_of(message_id)
    assert entry.state == EntryState.SENT
    assert len([d for d in sink.to(JOSEPH) if subject.encode() in d.data]) == 1
    assert sink.to(CLAIRE_REDIRECT) == []


def test_a_relay_refusing_the_password_keeps_the_forward_for_a_retry_without_a_report(
        mail_app, sink, tls_relay, caplog):
    logins = Logins()
    with Relaying(authenticator=logins, tls_context=tls_relay) as relay:
        sending_through(mail_app, relay.url.replace("smtp://", "smtp://preau:WRONG@"))
        try:
            subject = f"Mot de passe change {time.time_ns()}"
            message_id = forward_from_claire_to_joseph(subject)
            started = utcnow()
            with caplog.at_level(logging.INFO, logger="preau.worker"):
                worker.drain(now=started)
        except BaseException:
            back_to_the_sink(mail_app)
            raise
    assert logins.seen and all(tls for _, tls in logins.seen)
    assert relay.recipients() == []
    assert_waits_without_a_report(mail_app, sink, message_id, subject, started, "535",
                                  caplog)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_relay_asking_for_authentication_at_mail_keeps_the_forward_for_a_retry(
        mail_app, sink, caplog):
    with Relaying(authenticator=Logins(), auth_required=True,
                  auth_require_tls=False) as relay:
        sending_through(mail_app, relay.url)            # no user given: 530 at MAIL
        try:
            subject = f"Sans identifiant {time.time_ns()}"
            message_id = forward_from_claire_to_joseph(subject)
            started = utcnow()
            with caplog.at_level(logging.INFO, logger="preau.worker"):
                worker.drain(now=started)
        except BaseException:
            back_to_the_sink(mail_app)
            raise
    assert relay.recipients() == []
    assert_waits_without_a_report(mail_app, sink, message_id, subject, started, "530",
                                  caplog)


class Greeting:
    """A loopback server answering every connection with `line`, then hanging up."""

    def __init__(self, line: bytes):
        self.line = line
        self.accepted = 0
        self.server = socket.create_server(("127.0.0.1", free_port()))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            with client:
                client.sendall(self.line)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server.getsockname()[1]}"

    def __enter__(self) -> Greeting:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.server.close()
        self.thread.join(5)


def test_a_554_greeting_defers_the_batch_after_one_connection():
    with Greeting(b"554 5.3.2 Pas de service pour vous\r\n") as relay:
        senders = Senders(1, lambda: Relay(relay.url, None, "mail.ent.test"))
        try:
            outcomes = senders.send([Envelope("", f"p{n}@example.com", BODY) for n in range(5)])
        finally:
            senders.close()
    assert {(o.sent, o.permanent) for o in outcomes} == {(False, False)}
    assert outcomes[0].error == "554 5.3.2 Pas de service pour vous"
    assert relay.accepted == 1


class RefusingData(Relaying):
    async def handle_DATA(self, server, session, envelope):
        return "554 5.6.0 Contenu refusé"


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_5xx_to_rcpt_or_to_the_data_still_refuses_the_message_for_good(pipelining):
    with RefusingData(pipelining=pipelining) as relay:
        one = Relay(relay.url, None, "mail.ent.test")
        try:
            to_data = one.send("", "parent@example.com", BODY)
            to_rcpt = one.send("", "refus@example.com", BODY)
        finally:
            one.close()
    assert (to_data.sent, to_data.permanent, to_data.relay_down) == (False, True, False)
    assert to_data.error == "554 5.6.0 Contenu refusé"
    assert (to_rcpt.sent, to_rcpt.permanent, to_rcpt.relay_down) == (False, True, False)
    assert to_rcpt.error.startswith("550 5.1.1")


class DroppingAfterData(Relaying):
    """Records each message, then, for a recipient starting with "coupure", hangs up instead
    of answering the final dot (a relay restarted, a link cut, a firewall forgetting the
    connection)."""

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received += [(r, session.peer[1]) for r in envelope.rcpt_tos]
        if any(r.startswith("coupure") for r in envelope.rcpt_tos):
            server.transport.abort()
        return "250 OK"


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_connection_lost_after_the_data_defers_the_entry_instead_of_sending_it_twice(
        mail_app, pipelining):
    with DroppingAfterData(pipelining=pipelining) as relay:
        sending_through(mail_app, relay.url)
        try:
            (first,) = _queue_forwards(1, f"avant-coupure-{pipelining}-")
            worker.drain()                  # the sending thread's connection is open
            (second,) = _queue_forwards(1, f"coupure-{pipelining}-")
            started = utcnow()
            worker.run_once(now=started)    # its system mail first, on the same connection
        finally:
            back_to_the_sink(mail_app)
    assert relay.recipients([first]) == [first]
    assert relay.recipients([second]) == [second]       # once, not again at once
    assert len(relay.connections()) == 1
    db.session.rollback()
    entry = db.session.scalar(select(OutboundEntry).where(OutboundEntry.address == second))
    assert (entry.state, entry.attempts) == (EntryState.PENDING, 1)
    assert entry.next_attempt_at > started
    db.session.delete(entry)            # not left for the next tests' drains
    db.session.commit()


@pytest.mark.parametrize("pipelining", [False, True])
def test_the_reply_to_the_final_dot_is_waited_for_longer_than_the_other_replies(
        monkeypatch, pipelining):
    monkeypatch.setattr(smarthost, "TIMEOUT", 0.3)
    with Relaying(delay=1.0, pipelining=pipelining) as relay:   # the relay scans 1 s
        one = Relay(relay.url, None, "mail.ent.test")
        try:
            assert one.send("", "premier@example.com", BODY).sent
            assert one.send("", "second@example.com", BODY).sent    # on the same connection
        finally:
            one.close()
    assert relay.recipients() == ["premier@example.com", "second@example.com"]
    assert len(relay.connections()) == 1


def test_a_relay_that_never_answers_holds_a_batch_for_one_timeout_not_one_per_message(
        mail_app, monkeypatch):
    monkeypatch.setattr(smarthost, "TIMEOUT", 0.3)
    silent = socket.create_server(("127.0.0.1", free_port()), backlog=1)  # never accepts
    try:
        sending_through(mail_app, f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        try:
            addresses = _queue_forwards(20, f"muet{time.time_ns()}-")
            started = utcnow()
            began = time.monotonic()
            assert worker.run_once(now=started) >= 20
            took = time.monotonic() - began
        finally:
            back_to_the_sink(mail_app)
    finally:
        silent.close()
    db.session.rollback()
    entries = db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.address.in_(addresses))).all()
    assert len(entries) == 20
    assert {(e.state, e.attempts) for e in entries} == {(EntryState.PENDING, 1)}
    assert all(e.next_attempt_at > started and e.last_error.startswith("relais injoignable")
               for e in entries)
    assert took < 1.5, took             # one timeout (0.3 s), not twenty (6 s)
    db.session.execute(delete(OutboundEntry).where(OutboundEntry.address.in_(addresses)))
    db.session.commit()


class TurningAway(Relaying):
    """A relay turning connections away at the greeting: with `refusal` (a 421 line), or
    hanging up without a word (b"", a reset). `turns_away(seen, open)` decides from how many
    connections came before and how many are open; by default every connection while one is
    open, as a relay allowing one connection per client (Postfix's
    smtpd_client_connection_count_limit, the limits of hosted relays)."""

    def __init__(self, refusal: bytes, turns_away=lambda seen, open_: open_ >= 1, **kwargs):
        super().__init__(delay=0.02, **kwargs)      # the batch takes a while on one connection
        self.refusal, self.turns_away = refusal, turns_away
        self.seen = self.open = self.turned_away = 0
        self.controller = _Admitting(self, hostname="127.0.0.1", port=free_port())

    def __enter__(self) -> TurningAway:
        super().__enter__()
        waited = time.monotonic() + 5
        while self.open and time.monotonic() < waited:     # the controller's own check
            time.sleep(0.01)
        with self.lock:
            self.seen = self.turned_away = 0
        return self


class _AdmittingSMTP(SMTP):
    async def _handle_client(self) -> None:
        relay: TurningAway = self.event_handler
        with relay.lock:
            refused = relay.turns_away(relay.seen, relay.open)
            relay.seen += 1
            relay.turned_away += refused
            relay.open += not refused
        if refused:
            if relay.refusal:
                await self.push(relay.refusal.decode())
                self.transport.close()
            else:
                self.transport.abort()
            return
        try:
            await super()._handle_client()
        finally:
            with relay.lock:
                relay.open -= 1


class _Admitting(Controller):
    def factory(self) -> SMTP:
        return _AdmittingSMTP(self.handler, **self.SMTP_kwargs)


@pytest.mark.parametrize("refusal", [b"421 4.7.0 Too many connections", b""],
                         ids=["421", "reset"])
def test_a_relay_busy_for_a_second_connection_still_gets_the_batch_on_the_first(refusal):
    """Two threads, a relay taking one connection: the thread turned away gives its envelope
    back and stops for the batch after one try, the other sends all ten on its connection:
    nothing is deferred (984291d deferred the rest of the batch on both threads)."""
    with TurningAway(refusal) as relay:
        senders = Senders(2, lambda: Relay(relay.url, None, "mail.ent.test"))
        try:
            outcomes = senders.send([Envelope("", f"p{n}@example.com", BODY)
                                     for n in range(10)])
        finally:
            senders.close()
    assert [o.sent for o in outcomes] == [True] * 10, outcomes
    assert sorted(relay.recipients()) == sorted(f"p{n}@example.com" for n in range(10))
    assert len(relay.connections()) == 1
    assert relay.turned_away == 1       # the second thread did try, once


def test_a_connection_reset_defers_its_message_alone():
    with TurningAway(b"", turns_away=lambda seen, open_: seen == 0) as relay:
        senders = Senders(1, lambda: Relay(relay.url, None, "mail.ent.test"))
        try:
            outcomes = senders.send([Envelope("", f"p{n}@example.com", BODY)
                                     for n in range(3)])
        finally:
            senders.close()
    first, *others = outcomes
    assert (first.sent, first.permanent, first.relay_down) == (False, False, False)
    assert first.error.startswith("relais injoignable")
    assert [o.sent for o in others] == [True, True]
    assert relay.recipients() == ["p1@example.com", "p2@example.com"]


class SilentAfterData(Relaying):
    """Records each message, then never answers its final dot (an overloaded content filter,
    a firewall dropping the connection silently)."""

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received += [(r, session.peer[1]) for r in envelope.rcpt_tos]
        await asyncio.sleep(3600)       # cancelled when the relay stops


def test_a_relay_silent_after_the_data_holds_a_batch_for_one_timeout_not_one_per_message(
        mail_app, monkeypatch):
    monkeypatch.setattr(smarthost, "DATA_DONE_TIMEOUT", 0.3)
    with SilentAfterData() as relay:
        sending_through(mail_app, relay.url)
        try:
            addresses = _queue_forwards(20, f"silence{time.time_ns()}-")
            started = utcnow()
            began = time.monotonic()
            assert worker.run_once(now=started) >= 20
            took = time.monotonic() - began
        finally:
            back_to_the_sink(mail_app)
    assert len(relay.recipients()) == 1         # the first message; the others untried
    db.session.rollback()
    entries = db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.address.in_(addresses))).all()
    assert len(entries) == 20
    assert {(e.state, e.attempts) for e in entries} == {(EntryState.PENDING, 1)}
    assert all(e.next_attempt_at > started
               and e.last_error.startswith("le relais ne répond plus après un message")
               for e in entries)
    assert took < 1.5, took             # one final-dot timeout (0.3 s), not 21 (6.3 s)
    db.session.execute(delete(OutboundEntry).where(OutboundEntry.address.in_(addresses)))
    db.session.commit()


def test_a_connection_lost_after_the_data_does_not_hold_the_rest_of_the_batch():
    with DroppingAfterData() as relay:
        senders = Senders(1, lambda: Relay(relay.url, None, "mail.ent.test"))
        try:
            lost, *others = senders.send([Envelope("", r, BODY) for r in
                                          ("coupure@example.com", "a@example.com",
                                           "b@example.com")])
        finally:
            senders.close()
    assert (lost.sent, lost.relay_down) == (False, False)
    assert lost.error.startswith("pas de réponse du relais après le message")
    assert [o.sent for o in others] == [True, True]
    assert relay.recipients() == ["coupure@example.com", "a@example.com", "b@example.com"]
