"""The real `preau worker` and `preau serve` at their edges: a Ctrl-C while a batch is out
to the relay, and a portal listening on an IPv6 address."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from directory.db import db
from mailgate.models import EntryState, OutboundEntry

from .conftest import free_port
from .test_processes import _queue_forwards, preau_env, start, stop, wait_for_port


class SlowRelay:
    """A relay that takes `pause` seconds to accept each message, and records whom."""

    def __init__(self, pause: float):
        self.pause = pause
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.pause)
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"

    def received(self) -> list[str]:
        with self.lock:
            return list(self.recipients)


@pytest.mark.parametrize("command", [["worker"], ["worker", "--drain"]])
def test_ctrl_c_while_a_batch_is_out_records_what_the_relay_accepted_then_stops(
        mail_app, live_database, command):
    """Ctrl-C raised KeyboardInterrupt wherever the worker was, mostly waiting for its
    sending threads: nothing of the batch was recorded, and once the lease passed the next
    start sent it all again, what the relay had accepted included. The worker sends nothing
    more once told, records what the relay accepted and gives the rest back, due at once
    (250 entries: a batch is 200)."""
    relay = SlowRelay(pause=0.03)
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    addresses = _queue_forwards(250, f"arret{os.getpid()}-{len(command)}-")
    env = preau_env(mail_app, live_database, PREAU_SEND_THREADS="2",
                    PREAU_SMARTHOST=f"smtp://127.0.0.1:{controller.port}")
    worker = start(command, env)
    try:
        deadline = time.monotonic() + 120
        mine = set(addresses)       # the queue may hold older tests' entries, sent first
        while len(mine.intersection(relay.received())) < 10 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()
            time.sleep(0.02)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(60) == 0, worker.stderr.read().decode()
    finally:
        stop(worker)
        controller.stop()
    received = [address for address in relay.received() if address in mine]
    assert len(received) == len(set(received)) and 10 <= len(received) < 250
    db.session.rollback()
    states = dict(db.session.execute(select(OutboundEntry.address, OutboundEntry.state)
                                     .where(OutboundEntry.address.in_(addresses))).all())
    assert {a for a, state in states.items() if state == EntryState.SENT} == set(received)
    assert {state for a, state in states.items() if a not in received} == {EntryState.PENDING}


def test_serve_on_an_ipv6_address_binds_it_and_prints_its_url(mail_app, live_database):
    """`[::1]:8000` reached gunicorn as `::1:8000`, which it cannot read: the portal never
    started, and serve restarted it again and again."""
    web_port, smtp_port = free_port(), free_port()
    env = preau_env(mail_app, live_database, PREAU_WEB_LISTEN=f"[::1]:{web_port}",
                    PREAU_SMTP_LISTEN=f"127.0.0.1:{smtp_port}")
    serve = subprocess.Popen([sys.executable, "-m", "portal.cli", "serve"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(smtp_port, serve)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("::1", web_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the portal never listened on [::1]"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://[::1]:{web_port}/connexion", timeout=30) as page:
            assert page.status == 200
    finally:
        serve.terminate()
        out, _ = serve.communicate(timeout=60)
    assert f"  Portail : http://[::1]:{web_port}/\n" in out
