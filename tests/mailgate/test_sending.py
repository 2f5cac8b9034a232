"""The worker's sending side (issue 16): several threads on SMTP connections kept open across
batches, one transaction for a batch's outcomes, a relay failing in the middle of a batch, a
connection the relay closed while idle, and a worker killed with SIGKILL mid-batch — each
through a real SMTP relay on loopback."""
from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import event, select

from directory.clock import utcnow
from directory.db import db
from mailgate import queue, worker
from mailgate.models import EntryState, OutboundEntry
from mailgate.senders import Envelope, Senders
from mailgate.settings import current
from mailgate.smarthost import Relay
from portal.cli import main

from .conftest import free_port
from .test_processes import _queue_forwards, preau_env, start, stop

BODY = b"From: a@ent.test\r\nSubject: Lot\r\n\r\nBonjour\r\n"


class Relaying:
    """A loopback relay recording each message's recipients and the client port of the
    connection it came on; while `down`, every MAIL gets 421 (the relay is going away).
    With `pipelining`, it announces PIPELINING (RFC 2920), as Postfix does; recipients
    starting with "refus" get 550, and `contents` keeps what each DATA carried."""

    def __init__(self, delay: float = 0.0, pipelining: bool = False, **smtp_parameters):
        self.delay = delay
        self.pipelining = pipelining
        self.lock = threading.Lock()
        self.received: list[tuple[str, int]] = []
        self.contents: list[bytes] = []
        self.down = False
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port(),
                                     **smtp_parameters)

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.down:
            return "421 4.3.2 Arrêt en cours"
        envelope.mail_from = address
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]] if self.pipelining \
            else responses

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("refus"):
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received += [(r, session.peer[1]) for r in envelope.rcpt_tos]
            self.contents.append(envelope.original_content)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def recipients(self, among: list[str] | None = None) -> list[str]:
        """What it received (those in `among` only, when given), once per copy."""
        wanted = set(among) if among is not None else None
        with self.lock:
            return [r for r, _ in self.received if wanted is None or r in wanted]

    def connections(self) -> set[int]:
        with self.lock:
            return {port for _, port in self.received}

    def __enter__(self) -> Relaying:
        self.controller.start()
        return self

    def __exit__(self, *_) -> None:
        self.controller.stop()


@pytest.fixture
def relaying(mail_app):
    """The app's worker sends to a `Relaying` of this test's, with 4 threads."""
    with Relaying() as relay:
        mail_app.extensions["mailgate.settings"] = replace(current(), smarthost=relay.url,
                                                           send_threads=4)
        yield relay
        mail_app.extensions.pop("mailgate.settings")


def states_of(addresses: list[str]) -> dict[str, EntryState]:
    db.session.rollback()
    return dict(db.session.execute(select(OutboundEntry.address, OutboundEntry.state).where(
        OutboundEntry.address.in_(addresses))).all())


def test_four_threads_send_a_batch_on_four_connections_kept_for_the_next_batch():
    with Relaying(delay=0.01) as relay:
        senders = Senders(4, lambda: Relay(relay.url, None, "mail.ent.test"))
        try:
            first = [Envelope("", f"un{n}@example.com", BODY) for n in range(40)]
            assert all(o.sent for o in senders.send(first))
            opened = relay.connections()
            second = [Envelope("", f"deux{n}@example.com", BODY) for n in range(40)]
            assert all(o.sent for o in senders.send(second))
        finally:
            senders.close()
        assert sorted(relay.recipients()) == sorted(e.recipient for e in first + second)
        assert 1 < len(opened) <= 4                # several at once, never more than 4
        assert relay.connections() == opened       # the second batch opened none


def test_a_connection_the_relay_closed_while_idle_is_opened_again_for_the_same_message():
    with Relaying(timeout=0.3) as relay:           # the relay drops a client idle for 0.3 s
        one = Relay(relay.url, None, "mail.ent.test")
        try:
            assert one.send("", "avant@example.com", BODY).sent
            time.sleep(1)
            assert one.send("", "apres@example.com", BODY).sent
        finally:
            one.close()
        assert relay.recipients() == ["avant@example.com", "apres@example.com"]
        assert len(relay.connections()) == 2


def test_a_batchs_outcomes_are_one_update_for_the_sent_and_one_commit(relaying, sink):
    addresses = _queue_forwards(60, f"lot{os.getpid()}-{time.time_ns()}-")
    statements, commits = [], []
    engine = db.engine

    def seen(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread() is threading.main_thread():
            statements.append(" ".join(statement.split()))

    def committed(conn):
        if threading.current_thread() is threading.main_thread():
            commits.append(1)

    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        assert worker.run_once("batch-worker") >= 60
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)
    assert set(states_of(addresses).values()) == {EntryState.SENT}
    assert sorted(relaying.recipients(addresses)) == sorted(addresses)
    marked_sent = [s for s in statements if s.startswith("UPDATE outbound_entry SET state")]
    assert len(marked_sent) == 1
    assert len(commits) <= 3                       # claim, end of the read, the outcomes


def test_mail_rcpt_and_data_go_in_one_write_to_a_relay_announcing_pipelining(monkeypatch):
    body = BODY + b".ligne qui commence par un point\r\n..deux\r\nfin"
    with Relaying(pipelining=True) as relay:
        one = Relay(relay.url, None, "mail.ent.test")
        try:
            assert one.send("", "premier@example.com", body).sent
            commands, putcmd = [], smtplib.SMTP.putcmd

            def counted(connection, *arguments):
                commands.append(arguments)
                putcmd(connection, *arguments)

            monkeypatch.setattr(smtplib.SMTP, "putcmd", counted)
            refused = one.send("bounces+1@ent.test", "refus@example.com", body)
            assert one.send("bounces+2@ent.test", "second@example.com", body).sent
        finally:
            monkeypatch.undo()
            one.close()
        assert [c[0] for c in commands] == ["rset"]    # after the refusal: no MAIL, RCPT, DATA
        assert (refused.sent, refused.permanent) == (False, True)
        assert refused.error.startswith("550 5.1.1")
        assert relay.recipients() == ["premier@example.com", "second@example.com"]
        assert relay.contents == [body + b"\r\n"] * 2     # dots unstuffed, nothing else changed
        assert len(relay.connections()) == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_relay_failing_mid_batch_defers_the_rest_and_sends_each_message_once(
        relaying, pipelining):
    relaying.pipelining = pipelining
    addresses = _queue_forwards(120, f"panne{os.getpid()}-{time.time_ns()}-")

    def go_down_after_40() -> None:
        while len(relaying.recipients(addresses)) < 40:
            time.sleep(0.001)
        relaying.down = True

    relaying.delay = 0.01
    watcher = threading.Thread(target=go_down_after_40)
    watcher.start()
    now = utcnow()
    worker.run_once("panne-worker", now=now)
    watcher.join()
    states = states_of(addresses)
    sent = [a for a, s in states.items() if s == EntryState.SENT]
    assert 40 <= len(sent) < 120
    assert sorted(sent) == sorted(relaying.recipients(addresses))
    assert set(states.values()) == {EntryState.SENT, EntryState.PENDING}
    relaying.down = False
    worker.drain("panne-worker", now=now + timedelta(minutes=2))
    assert set(states_of(addresses).values()) == {EntryState.SENT}
    assert sorted(relaying.recipients(addresses)) == sorted(addresses)    # each once


def test_a_worker_killed_mid_batch_loses_nothing_and_resends_at_most_one_batch(
        mail_app, live_database):
    with Relaying(delay=0.005) as relay:
        addresses = _queue_forwards(1000, f"kill{os.getpid()}-{time.time_ns()}-")
        env = preau_env(mail_app, live_database, PREAU_SMARTHOST=relay.url,
                        PREAU_SEND_THREADS="4")
        process = start(["worker"], env)
        try:
            deadline = time.monotonic() + 120
            while len(relay.recipients(addresses)) < 250:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.002)
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            stop(process)
        assert len(relay.recipients(addresses)) < 1000, "the worker ended before the kill"
        mail_app.extensions["mailgate.settings"] = replace(current(), smarthost=relay.url)
        try:
            worker.drain("after-kill", now=utcnow() + queue.LEASE + timedelta(seconds=1))
        finally:
            mail_app.extensions.pop("mailgate.settings")
        received = relay.recipients(addresses)
    assert set(received) == set(addresses)                      # nothing lost
    assert len(received) - len(addresses) <= worker.BATCH       # at most one batch again
    assert set(states_of(addresses).values()) == {EntryState.SENT}


@pytest.mark.parametrize("value", ["0", "beaucoup", "65"])
def test_a_bad_number_of_sending_threads_stops_the_worker_with_one_french_line(
        value, live_database, tmp_path):
    result = CliRunner().invoke(main, ["worker", "--drain"], env={
        "PREAU_DATABASE_URL": live_database, "PREAU_INSTANCE_PATH": str(tmp_path),
        "PREAU_SECRET_KEY": "threads-test", "PREAU_SEND_THREADS": value})
    assert result.exit_code == 1
    assert f"PREAU_SEND_THREADS invalide : « {value} » (un nombre de 1 à 64)" in result.output
    assert "Traceback" not in result.output and "envoi(s) traité(s)" not in result.output
