"""Several gateway processes, one writer (mailgate/shared_writer.py): sessions hand their jobs over
a Unix socket and answer 250 after the writer's commit; the writer indexes what it stored;
a connection without the secret is closed before anything is unpickled; while the writer is
away the sessions answer 451 and store nothing, and they reach it again once it is back.
The real processes (`preau mailgate --processes 2`) are in test_processes.py."""
from __future__ import annotations

import asyncio
import os
import pickle
import secrets
import smtplib
import socket
import stat
import threading
import time

import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import Profile
from mailgate import bounces
from mailgate.gateway import GatewayThread
from mailgate.models import EntryState, MailboxItem, MailMessage, OutboundEntry
from mailgate.settings import current
from mailgate.shared_writer import (
    _HEADER,
    SECRET_VARIABLE,
    Outbox,
    SharedWriter,
    WriterThread,
    _frame,
)

from .conftest import account, address_of, new_account
from .helpers import mail, raw, run_in_own_loop
from .test_bounces import CLAIRE_REDIRECT, JOSEPH, failure_notice, forwarded_entry


@pytest.fixture
def secret(monkeypatch) -> bytes:
    value = secrets.token_hex(32)
    monkeypatch.setenv(SECRET_VARIABLE, value)
    return value.encode()


@pytest.fixture
def socket_path(tmp_path) -> str:
    folder = tmp_path / "writer"
    folder.mkdir(mode=0o700)
    return str(folder / "writer.sock")


@pytest.fixture
def writer(mail_app, socket_path, secret):
    running = WriterThread(mail_app, socket_path, secret).start()
    yield running
    running.stop()


@pytest.fixture
def shared(mail_app, writer, socket_path):
    """A gateway whose writes go to the writer thread's socket."""
    running = GatewayThread(mail_app, shared_writer=socket_path).start()
    running.gateway.writer.connect_for = 1.0
    yield running
    running.stop()


def send(port: int, message) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(JOSEPH, [message["To"]], raw(message))


def indexed_by_the_writer(message_id: str, seconds: float = 10) -> MailMessage:
    """The stored message once indexed, by the writer alone (this test indexes nothing)."""
    deadline = time.monotonic() + seconds
    while True:
        db.session.rollback()
        stored = db.session.scalar(select(MailMessage).where(
            MailMessage.message_id_header == message_id))
        if stored is not None and stored.indexed_at is not None:
            return stored
        assert time.monotonic() < deadline, f"{message_id} stored {stored}, not indexed"
        time.sleep(0.02)


def test_a_message_is_stored_by_the_writer_then_indexed(shared):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message = mail(JOSEPH, address_of(pupil), "Sortie au parc", "Rendez-vous à 9 h au portail.")
    with smtplib.SMTP("127.0.0.1", shared.port, timeout=30) as client:
        client.ehlo("client.example.org")
        client.mail(JOSEPH)
        client.rcpt(address_of(pupil))
        code, reply = client.data(raw(message))
    assert code == 250
    stored = indexed_by_the_writer(message["Message-ID"])
    assert f"({stored.id})" in reply.decode()
    assert "portail" in stored.search_text
    joseph = db.session.scalar(select(MailMessage.author_id).where(
        MailMessage.id == stored.id))
    assert joseph is not None and joseph == stored.author_id
    assert db.session.scalar(select(MailboxItem.account_id).where(
        MailboxItem.message_id == stored.id, MailboxItem.account_id == pupil.id)) == pupil.id


def test_many_sessions_at_once_each_get_their_own_message_id(shared):
    """Jobs in flight together on the connection, answered in any order, each to its own
    session: the id in each 250 is that of the message the session sent."""
    to = address_of(new_account(Profile.STUDENT, group_of="zoe.le-gall"))
    replies: dict[str, bytes] = {}

    def session(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", shared.port, timeout=30) as client:
            client.ehlo("client.example.org")
            for k in range(5):
                message = mail(JOSEPH, to, f"Lot {n}-{k}")
                client.mail(JOSEPH)
                client.rcpt(to)
                code, reply = client.data(raw(message))
                assert code == 250
                replies[message["Message-ID"]] = reply

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == 40
    for message_id, reply in replies.items():
        assert f"({indexed_by_the_writer(message_id).id})" in reply.decode()


def test_a_bounce_coming_back_is_recorded_by_the_writer(shared, sink):
    """A job that is not a delivery (`run`, not `run_many`) goes the same way."""
    with smtplib.SMTP("127.0.0.1", shared.port, timeout=30) as client:
        entry = forwarded_entry(client, "Rendu par le relais")
    notice = failure_notice(f"550 5.1.1 <{CLAIRE_REDIRECT}> no such user")
    with smtplib.SMTP("127.0.0.1", shared.port, timeout=30) as client:
        assert client.sendmail("<>", [bounces.envelope_sender(entry.id, current())],
                               notice) == {}
    db.session.rollback()
    assert db.session.get(OutboundEntry, entry.id).state == EntryState.BOUNCED


def test_the_socket_is_for_its_user_only(writer, socket_path):
    assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600


def test_a_connection_without_the_secret_is_closed_before_anything_is_unpickled(
        writer, socket_path, tmp_path, secret):
    planted = tmp_path / "planted"

    class Plant:
        def __reduce__(self):
            return (open, (str(planted), "w"))

    def frames(given: bytes) -> bytes:
        payload = pickle.dumps((False, print, (Plant(),), {}))
        return given + _HEADER.pack(len(payload), 1) + payload

    with socket.socket(socket.AF_UNIX) as client:
        client.connect(socket_path)
        client.sendall(frames(b"x" * len(secret)))
        client.settimeout(5)
        assert client.recv(100) == b""          # closed, nothing answered
    assert not planted.exists()
    with socket.socket(socket.AF_UNIX) as client:     # the same with the secret: it is read
        client.connect(socket_path)
        client.sendall(frames(secret))
        client.settimeout(5)
        assert client.recv(100)
    assert planted.exists()


def test_while_the_writer_is_away_sessions_answer_451_then_deliver_once_it_is_back(
        mail_app, writer, shared, socket_path, secret):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    before = mail(JOSEPH, address_of(pupil), "Avant l'arrêt")
    assert send(shared.port, before) == {}
    indexed_by_the_writer(before["Message-ID"])
    writer.stop()
    lost = mail(JOSEPH, address_of(pupil), "Pendant l'arrêt")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(shared.port, lost)
    assert refused.value.smtp_code == 451
    back = WriterThread(mail_app, socket_path, secret).start()
    try:
        after = mail(JOSEPH, address_of(pupil), "Après le retour")
        assert send(shared.port, after) == {}
        indexed_by_the_writer(after["Message-ID"])
    finally:
        back.stop()
    db.session.rollback()
    assert db.session.scalar(select(MailMessage).where(
        MailMessage.message_id_header == lost["Message-ID"])) is None


def test_a_failing_job_gets_its_error_and_the_connection_goes_on(writer, socket_path, secret):
    """A job that raises gets its exception back; the next job on the same connection runs.
    An account goes whole the first time, then as its id, which the writer recognises."""
    zoe = account("zoe.le-gall")

    async def jobs():
        shared = SharedWriter(socket_path, secret, connect_for=1.0)
        try:
            with pytest.raises(ValueError):
                await shared.run(int, "x")
            first = await shared.run(getattr, zoe, "login")
            whole = len(shared._dumps((zoe,)))      # sent within the second: its id only
            return first, await shared.run(getattr, zoe, "login"), whole
        finally:
            shared.stop()

    first, again, sent_again = run_in_own_loop(jobs())
    assert first == again == "zoe.le-gall"
    assert sent_again < 200 < len(pickle.dumps(zoe))
    assert writer.server.account(zoe.id).login == "zoe.le-gall"
    with pytest.raises(LookupError):
        writer.server.account(10**9)


def test_jobs_waiting_for_a_writer_that_is_away_wait_for_one_attempt_together(
        mail_app, writer, shared):
    """Three sessions reach the missing writer at once: all three answer 451 after one
    attempt of `connect_for` seconds (1 s here), not one after another."""
    to = address_of(new_account(Profile.STUDENT, group_of="zoe.le-gall"))
    writer.stop()
    codes: list[int] = []

    def session(n: int) -> None:
        try:
            send(shared.port, mail(JOSEPH, to, f"Absent {n}"))
        except smtplib.SMTPDataError as refused:
            codes.append(refused.smtp_code)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert codes == [451, 451, 451]
    assert time.monotonic() - started < 2.5


def counting_writelines(stream: asyncio.StreamWriter) -> list[int]:
    """How many frames each of the stream's `writelines` calls carried."""
    calls: list[int] = []
    original = stream.writelines

    def writelines(frames):
        frames = list(frames)
        calls.append(len(frames) // 2)
        original(frames)

    stream.writelines = writelines
    return calls


def test_frames_put_in_one_turn_go_in_one_write_and_arrive_whole_and_in_order():
    async def exchange():
        ours, theirs = socket.socketpair()
        reader, stream = await asyncio.open_connection(sock=ours)
        their_reader, their_stream = await asyncio.open_connection(sock=theirs)
        calls = counting_writelines(stream)
        outbox = Outbox(stream)
        for number in range(3):
            outbox.put(number, f"job {number}".encode() * (number + 1))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        outbox.put(3, b"")
        outbox.put(4, b"x" * 100_000)
        await asyncio.sleep(0.05)
        received = [await _frame(their_reader) for _ in range(5)]
        outbox.put(5, b"late")
        stream.close()
        await asyncio.sleep(0.05)       # its flush finds the stream closed: nothing, no error
        their_stream.close()
        return calls, received

    calls, received = run_in_own_loop(exchange())
    assert calls == [3, 2]
    assert received == [(0, b"job 0"), (1, b"job 1job 1"), (2, b"job 2job 2job 2"), (3, b""),
                        (4, b"x" * 100_000)]


def test_jobs_of_one_moment_go_to_the_writer_in_one_write_each_answered(writer, socket_path,
                                                                        secret):
    """Ten jobs asked at once: one write on the connection, ten right answers."""
    async def jobs():
        shared = SharedWriter(socket_path, secret, connect_for=1.0)
        try:
            await shared.run(len, "warm")       # connected
            calls = counting_writelines(shared.stream)
            answers = await asyncio.gather(*(shared.run(len, "x" * n) for n in range(10)))
            return calls, answers
        finally:
            shared.stop()

    calls, answers = run_in_own_loop(jobs())
    assert calls == [10]
    assert answers == list(range(10))
