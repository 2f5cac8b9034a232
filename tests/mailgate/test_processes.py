"""The real commands as separate processes: `preau mailgate` killed with SIGKILL mid-burst
loses nothing it answered 250 to; two `preau worker` processes send each entry once; swaks
and STARTTLS interoperate."""
from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import indexer, queue, system_mail
from mailgate.models import EntryKind, EntryState, MailboxItem, MailMessage, OutboundEntry
from tests.conftest import make_app, missing

from .conftest import address_of, free_port, new_account
from .helpers import mail, raw, stored_with_id

JOSEPH = "joseph@example.org"


def preau_env(mail_app, live_database: str, **extra: str) -> dict[str, str]:
    preau = mail_app.config["PREAU"]
    return {**os.environ, "PREAU_DATABASE_URL": live_database,
            "PREAU_INSTANCE_PATH": mail_app.instance_path, "PREAU_SECRET_KEY": "test-secret",
            "PREAU_MAIL_DOMAIN": "ent.test", "PREAU_SMARTHOST": preau["SMARTHOST"], **extra}


def start(arguments: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "portal.cli", *arguments], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Burst:
    """Clients sending numbered messages; every Message-ID answered 250 is recorded."""

    def __init__(self, port: int, recipient: str, total: int, sessions: int):
        self.port, self.recipient = port, recipient
        self.per_session = total // sessions
        self.accepted: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._session, args=(n,))
                        for n in range(sessions)]

    def _session(self, number: int) -> None:
        try:
            client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
            for n in range(self.per_session):
                message = mail(JOSEPH, self.recipient, f"Rafale {number}-{n}")
                client.sendmail(JOSEPH, [self.recipient], raw(message))
                with self.lock:
                    self.accepted.append(message["Message-ID"])
        except (smtplib.SMTPException, OSError):
            return

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def until(self, accepted: int) -> Burst:
        """Started; returns once `accepted` messages were answered 250 (or all sessions
        ended)."""
        for thread in self.threads:
            thread.start()
        while self.count() < accepted and any(t.is_alive() for t in self.threads):
            time.sleep(0.005)
        return self


def in_mailbox_of(person) -> set[str]:
    """The Message-IDs of what is in `person`'s mailbox now."""
    db.session.rollback()
    return set(db.session.scalars(
        select(MailMessage.message_id_header)
        .join(MailboxItem, MailboxItem.message_id == MailMessage.id)
        .where(MailboxItem.account_id == person.id)))


def test_sigkill_during_a_burst_loses_no_message_that_was_answered_250(mail_app,
                                                                       live_database):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    port = free_port()
    env = preau_env(mail_app, live_database, PREAU_SMTP_LISTEN=f"127.0.0.1:{port}")
    gateway = start(["mailgate"], env)
    try:
        wait_for_port(port, gateway)
        burst = Burst(port, address_of(pupil), total=1000, sessions=8).until(300)
        gateway.send_signal(signal.SIGKILL)
        gateway.wait()
        for thread in burst.threads:
            thread.join(60)
        accepted = list(burst.accepted)
        assert 300 <= len(accepted) < 1000
        gateway = start(["mailgate"], env)
        wait_for_port(port, gateway)
        after = mail(JOSEPH, address_of(pupil), "Après le redémarrage")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(JOSEPH, [address_of(pupil)], raw(after))
    finally:
        stop(gateway)
    stored = in_mailbox_of(pupil)
    assert [m for m in accepted if m not in stored] == []
    assert after["Message-ID"] in stored
    # What the killed gateway's indexer thread had not come to, the worker's round indexes.
    while indexer.index_left(timedelta(0)):
        pass
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MailMessage).join(
        MailboxItem, MailboxItem.message_id == MailMessage.id).where(
        MailboxItem.account_id == pupil.id, MailMessage.indexed_at.is_(None))) == 0


def child_with(parent: int, argument: str) -> int:
    """The pid of `parent`'s child whose command line holds `argument`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                parent_of = int(stat_file.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent_of == parent and argument.encode() in arguments:
            return int(entry)
    raise AssertionError(f"no child of {parent} with {argument}")


def test_the_shared_writer_killed_mid_burst_loses_nothing_answered_250_and_comes_back(
        mail_app, live_database):
    """`preau mailgate --processes 2`: two session processes, one writer process. SIGKILL on
    the writer: sessions waiting on it answer 451, the supervisor starts it again, and the
    sessions deliver through the new one."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    port = free_port()
    env = preau_env(mail_app, live_database, PREAU_SMTP_LISTEN=f"127.0.0.1:{port}")
    gateway = start(["mailgate", "--processes", "2"], env)
    try:
        wait_for_port(port, gateway)
        burst = Burst(port, address_of(pupil), total=1000, sessions=8).until(300)
        writer = child_with(gateway.pid, "--serve-writer")
        with open(f"/proc/{writer}/cmdline", "rb") as cmdline:
            arguments = cmdline.read().decode().split("\0")
        folder = os.path.dirname(arguments[arguments.index("--serve-writer") + 1])
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        os.kill(writer, signal.SIGKILL)
        for thread in burst.threads:
            thread.join(120)
        # Sessions whose job was in the writer at the kill answered 451 and stopped; when
        # none was (all between two messages), every session goes on through the new writer.
        accepted = list(burst.accepted)
        assert len(accepted) >= 300
        after = mail(JOSEPH, address_of(pupil), "Après le retour de l'écrivain")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.sendmail(JOSEPH, [address_of(pupil)], raw(after))
        assert child_with(gateway.pid, "--serve-writer") != writer
    finally:
        stop(gateway)
    assert not os.path.exists(folder)       # the supervisor removed the socket's folder
    stored = in_mailbox_of(pupil)
    assert [m for m in accepted if m not in stored] == []
    assert after["Message-ID"] in stored


def test_processes_that_write_their_own_messages_deliver_too(mail_app, live_database):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    port = free_port()
    env = preau_env(mail_app, live_database, PREAU_SMTP_LISTEN=f"127.0.0.1:{port}")
    gateway = start(["mailgate", "--processes", "2", "--own-writers"], env)
    try:
        wait_for_port(port, gateway)
        with pytest.raises(AssertionError):
            child_with(gateway.pid, "--serve-writer")
        messages = [mail(JOSEPH, address_of(pupil), f"Chacun le sien {n}") for n in range(6)]
        for message in messages:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.sendmail(JOSEPH, [address_of(pupil)], raw(message))
    finally:
        stop(gateway)
    assert all(stored_with_id(m["Message-ID"]) is not None for m in messages)


def _queue_forwards(count: int, prefix: str) -> list[str]:
    message = system_mail.build(to="personne@example.com", subject="Lot", body="Lot",
                                domain="ent.test")
    system_mail.send(message)
    db.session.flush()
    message_id = db.session.scalar(select(OutboundEntry.message_id).order_by(
        OutboundEntry.id.desc()).limit(1))
    addresses = [f"{prefix}{n}@example.com" for n in range(count)]
    queue.enqueue([{"kind": EntryKind.FORWARD, "message_id": message_id, "account_id": None,
                    "author_id": None, "address": a} for a in addresses],
                  lifetime=queue.LEASE * 100)
    db.session.commit()
    return addresses


def test_two_workers_send_each_of_2000_entries_exactly_once(mail_app, live_database, sink):
    addresses = _queue_forwards(2000, f"lot{os.getpid()}-")
    env = preau_env(mail_app, live_database)
    workers = [start(["worker", "--drain"], env) for _ in range(2)]
    for process in workers:
        assert process.wait(600) == 0, process.stderr.read().decode()
    wanted = set(addresses)
    sent = [r for d in sink.received for r in d.recipients if r in wanted]
    assert len(sent) == 2000 and set(sent) == wanted
    db.session.rollback()
    states = db.session.scalars(select(OutboundEntry.state).where(
        OutboundEntry.address.in_(addresses))).all()
    assert len(states) == 2000 and set(states) == {EntryState.SENT}


@pytest.mark.postgres_only
def test_a_claim_skips_the_rows_another_worker_holds_without_waiting(mail_app):
    """PostgreSQL: FOR UPDATE SKIP LOCKED. (SQLite has one writer: a second claim waits for
    the first transaction, then finds the rows taken — covered by the two-worker test.)"""
    addresses = set(_queue_forwards(20, f"skip{os.getpid()}-"))
    now = utcnow()
    first = queue.claim("first", limit=10_000, now=now)        # transaction left open
    with mail_app.app_context():                               # another session, connection
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        second = queue.claim("second", limit=10_000, now=now)
        db.session.rollback()
    mine = {c.address for c in first} & addresses
    assert mine == addresses and not {c.address for c in second} & addresses
    db.session.rollback()


def test_swaks_interoperates(gateway, mail_app):
    if shutil.which("swaks") is None:
        missing("swaks not installed (apt-get install swaks)")
    marker = f"<swaks-{os.getpid()}-{time.time_ns()}@example.org>"
    done = subprocess.run(
        ["swaks", "--to", "zoe.le-gall@ent.test", "--from", JOSEPH, "--server",
         f"127.0.0.1:{gateway.port}", "--header", f"Message-Id: {marker}", "--header",
         "Subject: Bonjour de swaks", "--body", "Test d'interopérabilité"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "250 2.0.0" in done.stdout
    assert stored_with_id(marker) is not None


def test_starttls_when_a_certificate_is_configured(live_database, tmp_path, mail_app):
    if shutil.which("openssl") is None:
        missing("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=mail.ent.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    from mailgate.gateway import GatewayThread

    app = make_app(tmp_path / "instance", live_database)
    app.config["PREAU"].update({"TLS_CERT": str(cert), "TLS_KEY": str(key)})
    running = GatewayThread(app).start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        message = mail(JOSEPH, "zoe.le-gall@ent.test", "Chiffré")
        with smtplib.SMTP("127.0.0.1", running.port, timeout=30) as client:
            client.ehlo("client.test")
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo("client.test")
            assert not client.has_extn("starttls")
            client.sendmail(JOSEPH, ["zoe.le-gall@ent.test"], raw(message))
    finally:
        running.stop()
    stored = stored_with_id(message["Message-ID"])
    assert b"with ESMTPS id" in stored.source.split(b"\r\n", 1)[0]
