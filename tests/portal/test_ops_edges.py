"""Starting and stopping Préau's processes at their edges: listen addresses with IPv6, the
secret key two processes make at once, `preau serve` with a setting it cannot use, a
supervisor that cannot start all its children or is interrupted twice, and a `preau demo`
that fails midway."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import click
import pytest
import sqlalchemy as sa

from portal import config
from portal.processes import Supervisor, host_port, split_listen
from tests.portal.test_cli import (  # noqa: F401 (fresh_db, live_database: fixtures)
    account_count,
    fresh_db,
    initialised,
    live_database,
    preau,
)

# --- listen addresses -----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "host", "port", "written"), [
    ("127.0.0.1:5000", "127.0.0.1", 5000, "127.0.0.1:5000"),
    ("localhost:8080", "localhost", 8080, "localhost:8080"),
    ("[::1]:8000", "::1", 8000, "[::1]:8000"),
    (" [2001:DB8::5]:443 ", "2001:db8::5", 443, "[2001:db8::5]:443"),
])
def test_a_listen_address_is_read_and_written_back_with_ipv6_in_brackets(value, host, port,
                                                                        written):
    assert split_listen(value, "PREAU_WEB_LISTEN") == (host, port)
    assert host_port(host, port) == written


@pytest.mark.parametrize("value", ["::1:8000", "[::1]", "[::1]8000", "[::1]:", "[ent.test]:80",
                                   "127.0.0.1", ":5000", "hôte:0", "hôte:65536", "a b:80",
                                   "hôte:http"])
def test_a_listen_address_that_cannot_be_read_is_one_line_naming_it(value):
    with pytest.raises(click.ClickException) as refused:
        split_listen(value, "PREAU_WEB_LISTEN")
    line = refused.value.format_message()
    assert "\n" not in line
    assert line == ("PREAU_WEB_LISTEN doit être de la forme hôte:port ou [adresse IPv6]:port, "
                    f"pas « {value} ».")


# --- the secret key -------------------------------------------------------------------------

def test_processes_starting_at_once_all_read_the_one_secret_key_kept(tmp_path, monkeypatch):
    """`preau serve` starts three processes which each make the app: each wrote a key of its
    own, and read its own, another's or an empty half-written file."""
    monkeypatch.delenv("PREAU_SECRET_KEY", raising=False)
    for round_ in range(20):
        folder = tmp_path / f"instance-{round_}"
        together = threading.Barrier(6)
        keys = []

        def start(folder=folder, together=together, keys=keys):
            together.wait()
            keys.append(config._secret_key(folder))

        threads = [threading.Thread(target=start) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kept = (folder / "secret_key").read_text()
        assert len(kept) == 64 and keys == [kept] * 6
        assert (folder / "secret_key").stat().st_mode & 0o077 == 0
        assert [p.name for p in folder.iterdir()] == ["secret_key"]


# --- preau serve and its supervisor ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_with_a_setting_it_cannot_use_starts_nothing_and_says_it_in_one_line(tmp_path):
    """Each part failed alone, again and again, under « Préau est démarré » (a traceback in
    each gunicorn worker), and serve never ended."""
    env = {**os.environ, "PREAU_INSTANCE_PATH": str(tmp_path), "PREAU_SECRET_KEY": "x",
           "PREAU_SMARTHOST": "smtp//relais:s3cret@mx.example.org",
           "PREAU_WEB_LISTEN": f"127.0.0.1:{free_port()}",
           "PREAU_SMTP_LISTEN": f"127.0.0.1:{free_port()}"}
    serve = subprocess.Popen([sys.executable, "-m", "portal.cli", "serve"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = serve.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(serve.pid, signal.SIGKILL)
        out, err = serve.communicate()
        raise AssertionError(f"serve did not stop: {out}{err}") from None
    assert serve.returncode == 1
    assert err.strip().splitlines() == [
        "Erreur : PREAU_SMARTHOST invalide : « smtp//relais:***@mx.example.org » "
        "(smtp://hôte:port, smtps://hôte:port, capture: ou capture:DOSSIER)."]
    assert "Préau est démarré" not in out


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_child_that_cannot_be_started_stops_those_already_started(tmp_path):
    supervisor = Supervisor({"first": SLEEPER, "second": [str(tmp_path / "absent")]})
    with pytest.raises(click.ClickException) as refused:
        supervisor.run()
    assert refused.value.format_message().startswith("second : impossible de démarrer (")
    first = supervisor.children["first"]
    assert first.returncode is not None        # stopped and waited for, not left running


def test_a_second_ctrl_c_stops_every_child_at_once(tmp_path):
    """The first Ctrl-C sends SIGTERM and waits; a second one during that wait left the
    children that had not ended yet running after the supervisor."""
    pid_file = tmp_path / "child.pid"
    stubborn = textwrap.dedent(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(120)
    """)
    script = ("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "from portal.processes import Supervisor\n"
              f"Supervisor({{'stubborn': [{sys.executable!r}, '-c', {stubborn!r}]}}, "
              f"grace=120).run()\n")
    supervisor = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
    child = None
    try:
        deadline = time.monotonic() + 30
        while child is None and time.monotonic() < deadline:
            child = int(pid_file.read_text()) if pid_file.exists() and \
                pid_file.read_text() else None
            time.sleep(0.05)
        assert child is not None, supervisor.stderr.read()
        supervisor.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert supervisor.poll() is None        # waiting for the child to end
        supervisor.send_signal(signal.SIGINT)
        supervisor.wait(10)
        time.sleep(0.2)
        assert not alive(child)
    finally:
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent (reaped by init once orphaned)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- preau demo -----------------------------------------------------------------------------

def refuse_articles(url: str) -> str:
    """A trigger that makes the database refuse any article, the last thing `preau demo`
    writes; returns the statement that removes it."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_articles BEFORE INSERT ON article "
                "BEGIN SELECT RAISE(ABORT, 'refusé par le test'); END")
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refusé par le test'; END $$")
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_articles BEFORE INSERT ON article "
                "FOR EACH ROW EXECUTE FUNCTION refuse()")
    engine.dispose()
    return "DROP TRIGGER refuse_articles" + ("" if url.startswith("sqlite") else " ON article")


def test_a_demo_that_fails_midway_leaves_nothing_and_a_second_run_loads_it(fresh_db):  # noqa: F811
    """The people were committed before the messages, events and articles: a failure after
    them left a region without life, and `preau demo` (`make run`'s `--if-empty`) refused or
    skipped it from then on."""
    env, url = initialised(fresh_db)
    remove = refuse_articles(url)
    failed = invoke_catching(env, "demo", "--users", "60")
    assert failed.exit_code != 0
    assert "refusé par le test" in failed.output + str(failed.exception)
    assert account_count(url) == 0
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(remove)
    engine.dispose()
    again = preau(env, "demo", "--users", "60")
    assert again.exit_code == 0, again.output
    assert "Région de démonstration chargée" in again.output
    assert account_count(url) > 50


def invoke_catching(env: dict[str, str], *args: str):
    """The command's result, its exception caught: the refusal is a line on PostgreSQL, a
    traceback on SQLite (an IntegrityError, which the CLI does not word)."""
    from click.testing import CliRunner

    from portal.cli import main

    return CliRunner().invoke(main, list(args), env=env)
