"""The gateway's certificate (PREAU_TLS_CERT, PREAU_TLS_KEY) is read only where SMTP is served,
`preau mailgate` and `preau serve`, which still refuse to start in one line when they cannot
use it. Every other process left it alone: a key readable by the gateway's user alone (mode
0600), or kept on the gateway's machines alone, stopped the portal, the worker and every
command at start."""
from __future__ import annotations

import os
import signal
import socket
import subprocess

import pytest

from .test_cli import (  # noqa: F401 (fresh_db and live_database: fixtures)
    PREAU,
    fresh_db,
    live_database,
    preau,
)

UNUSABLE = "PREAU_TLS_CERT / PREAU_TLS_KEY inutilisables"


@pytest.fixture
def certificates(tmp_path) -> list[str]:
    """A certificate that is not there, and one that is not a certificate."""
    broken = tmp_path / "cert.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    return [str(tmp_path / "missing.pem"), str(broken)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`preau ARGS` as a process of its own (`serve` and `mailgate` install signal handlers),
    in a session of its own: killed with all it started if it has not ended within a minute,
    as a gateway that started would not."""
    child = subprocess.Popen([str(PREAU), *args], env={**os.environ, **env}, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        pytest.fail(f"preau {' '.join(args)} did not stop:\n{out}{err}")
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_a_certificate_the_gateway_alone_can_read_stops_no_other_process(
        fresh_db, certificates):  # noqa: F811
    env, _ = fresh_db()
    for cert in certificates:
        result = preau({**env, "PREAU_TLS_CERT": cert}, "init")
        assert result.exit_code == 0, result.output
        assert "Base de données prête" in result.output
    drained = run({**env, "PREAU_TLS_CERT": certificates[0]}, "worker", "--drain")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "[worker] 0 envoi(s) traité(s)." in drained.stdout


def test_the_gateway_refuses_to_start_with_a_certificate_it_cannot_use(
        fresh_db, certificates):  # noqa: F811
    env, _ = fresh_db()
    env |= {"PREAU_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
            "PREAU_WEB_LISTEN": f"127.0.0.1:{free_port()}"}
    for cert in certificates:
        for command in (["mailgate"], ["mailgate", "--processes", "2"], ["serve"]):
            done = run({**env, "PREAU_TLS_CERT": cert}, *command)
            assert done.returncode == 1, done.stdout + done.stderr
            assert done.stdout == "" and "Traceback" not in done.stderr
            (line,) = done.stderr.strip().splitlines()
            assert UNUSABLE in line and cert in line
