"""Mail gateway tests: a real gateway on a free loopback port, a real aiosmtpd sink as the
smarthost, on a database of their own (migrations + demo region) whose commits persist across
threads and processes — the rollback fixture of tests/conftest.py is switched off here (it
steps aside for tests that use `live_database`). Tests that need fresh people create them
(`new_account`), so they do not depend on what earlier tests left behind."""
from __future__ import annotations

import base64
import glob
import itertools
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from dnslib.server import DNSServer
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from directory.db import db, write_lock
from directory.models import Account, GroupMember, ParentLink
from tests.conftest import (  # noqa: F401 (is_postgres: re-exported to this folder's tests)
    fresh_database,
    is_postgres,
    make_app,
    migrate_and_load_demo,
    missing,
)

from . import dns_zone

DOMAIN = "ent.test"
_serial = itertools.count(1)


@pytest.fixture(scope="session")
def live_database(tmp_path_factory) -> str:
    """The test database's name + `_mailgate` on PostgreSQL (made anew), else a SQLite file."""
    return fresh_database(tmp_path_factory, "mailgate")


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Sink:
    """An aiosmtpd relay that records what it accepts; `refuse` maps a recipient address to
    the replies to give it, one per attempt (then it accepts)."""

    port: int = 0
    received: list[Delivery] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, options):
        with self.lock:
            replies = self.refuse.get(address.lower())
            if replies:
                return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if address in d.recipients]

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.refuse.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def sink_server():
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def sink(sink_server):
    sink_server.reset()
    yield sink_server
    sink_server.reset()


@pytest.fixture(scope="session")
def rsa_key(tmp_path_factory) -> tuple[str, bytes]:
    """(path of a fresh private key in PEM, the DNS TXT record publishing its public half)."""
    if shutil.which("openssl") is None:
        missing("openssl not installed")
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return str(key), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture(scope="session")
def dns_server(rsa_key):
    """A DNS server on a loopback port serving the zone of tests/mailgate/dns_zone.py."""
    zone = dns_zone.Zone(rsa_key[1])
    server = DNSServer(zone, address="127.0.0.1", port=free_port(), logger=dns_zone.Quiet())
    server.start_thread()
    yield server.server.server_address[1]
    server.stop()


@pytest.fixture(scope="session")
def mail_app(live_database, sink_server, dns_server, tmp_path_factory):
    """The gateway trusts 127.0.0.1 only: tests that connect from 127.0.0.2 are outsiders,
    whose senders are checked against the loopback DNS server."""
    app = make_app(tmp_path_factory.mktemp("mailgate-instance"), live_database)
    app.config["PREAU"].update(SMARTHOST=f"smtp://127.0.0.1:{sink_server.port}",
                               TRUSTED_NETWORKS="127.0.0.1/32, ::1",
                               DNS_SERVERS=f"127.0.0.1:{dns_server}", DNS_TIMEOUT="1s")
    migrate_and_load_demo(app)
    return app


@pytest.fixture(autouse=True)
def mail_ctx(mail_app):
    """Every test here talks to the live database in an app context of its own."""
    with mail_app.app_context():
        yield mail_app
        db.session.rollback()


@pytest.fixture(scope="session")
def gateway(mail_app):
    from mailgate.gateway import GatewayThread

    running = GatewayThread(mail_app).start()
    yield running
    running.stop()


@pytest.fixture
def smtp(gateway):
    """A connected smtplib client (EHLO done)."""
    client = smtplib.SMTP("127.0.0.1", gateway.port, timeout=30)
    client.ehlo("client.example.org")
    yield client
    try:
        client.quit()
    except smtplib.SMTPServerDisconnected:
        pass


def account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def new_account(profile, *, redirect: str | None = None, group_of: str | None = None,
                child_of: str | None = None, parent_of: str | None = None,
                suspended: bool = False) -> Account:
    """A fresh committed account; `group_of`: put it in every group of that login. On SQLite
    the write lock is taken first: the gateway's indexer thread commits after the 250s, and
    a transaction that read before its commit could no longer write."""
    from directory.accounts import create_account

    db.session.rollback()
    started = time.monotonic()
    try:
        write_lock()
    except OperationalError as error:
        raise AssertionError(f"write lock refused after {time.monotonic() - started:.1f} s: "
                             f"{error}\n{_lock_holders()}") from error

    n = next(_serial)
    person = create_account(login=f"mg-{os.getpid()}-{n}", first_name="Test",
                            last_name=f"Passerelle{os.getpid()}x{n}", profile=profile,
                            password="Preau-demo-2026!",
                            schools=list(account("zoe.le-gall").schools))
    person.redirect_address = redirect
    person.redirect_verified = redirect is not None
    person.suspended = suspended
    db.session.flush()
    if group_of:
        groups = db.session.scalars(select(GroupMember.group_id).where(
            GroupMember.account_id == account(group_of).id)).all()
        for group_id in groups:
            db.session.add(GroupMember(group_id=group_id, account_id=person.id))
    if child_of:
        db.session.add(ParentLink(parent_id=account(child_of).id, child_id=person.id))
    if parent_of:
        db.session.add(ParentLink(parent_id=person.id, child_id=account(parent_of).id))
    db.session.commit()
    return person


def _lock_holders() -> str:
    """Who else has the SQLite file open, and what this process's threads are doing: said
    when a test cannot take the write lock (it waits up to the busy timeout first)."""
    path = os.path.realpath(db.engine.url.database or "")
    lines = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.path.realpath(os.readlink(fd)).startswith(path):
                pid = fd.split("/")[2]
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    lines.append(f"pid {pid} {os.readlink(fd)}: "
                                 f"{cmdline.read().replace(bytes(1), b' ').decode()[:200]}")
        except OSError:
            continue
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        stack = "".join(traceback.format_stack(frame, limit=8)) if frame else ""
        lines.append(f"thread {thread.name}:\n{stack}")
    return "\n".join(sorted(set(lines)))


def address_of(person: Account) -> str:
    return f"{person.address}@{DOMAIN}"

