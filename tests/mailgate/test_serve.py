"""`preau serve` keeps its parts running (issue 10, item 9): a gateway or worker killed with
SIGKILL is started again, with a line on stderr, while the portal keeps answering; only
SIGTERM (or Ctrl-C) stops the tree."""
from __future__ import annotations

import os
import signal
import smtplib
import time
import urllib.request
from pathlib import Path

from .conftest import free_port
from .test_processes import preau_env, start, wait_for_port


def parts_of(pid: int) -> dict[str, int]:
    """The children of `pid` by the `preau` command they run (web, mailgate, worker)."""
    parts = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            arguments = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"portal.cli" in arguments:
            parts[arguments[arguments.index(b"portal.cli") + 1].decode()] = int(child)
    return parts


def wait_for_new(pid: int, old: dict[str, int], seconds: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        parts = parts_of(pid)
        # A child just forked, not yet exec'd, still reads as the supervisor (`serve`).
        if set(parts) == set(old) and all(parts[name] != old[name]
                                          for name in ("mailgate", "worker")):
            return parts
        time.sleep(0.2)
    raise AssertionError(f"not restarted: {parts_of(pid)}")


def test_serve_restarts_a_dead_part_and_stops_only_on_sigterm(mail_app, live_database):
    web_port, smtp_port = free_port(), free_port()
    serve = start(["serve"], preau_env(mail_app, live_database,
                                       PREAU_WEB_LISTEN=f"127.0.0.1:{web_port}",
                                       PREAU_SMTP_LISTEN=f"127.0.0.1:{smtp_port}"))
    try:
        wait_for_port(web_port, serve)
        wait_for_port(smtp_port, serve)
        first = parts_of(serve.pid)
        assert set(first) == {"web", "mailgate", "worker"}

        os.kill(first["worker"], signal.SIGKILL)
        os.kill(first["mailgate"], signal.SIGKILL)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/connexion", timeout=30) as page:
            assert page.status == 200
        second = wait_for_new(serve.pid, first)
        assert second["web"] == first["web"]
        wait_for_port(smtp_port, serve)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            assert client.noop()[0] == 250
        assert serve.poll() is None
    finally:
        serve.terminate()
        serve.wait(60)
    assert serve.returncode == 0
    log = serve.stderr.read().decode()
    assert "[serve] worker s'est arrêté (code -9) ; redémarrage dans 1 s." in log
    assert "[serve] mailgate s'est arrêté (code -9)" in log
    assert "[serve] worker redémarré" in log
    for pid in second.values():
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
