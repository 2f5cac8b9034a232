"""Long-running parts: `preau web`, `preau mailgate`, `preau worker`, and `preau serve` which
runs the three as one process tree for a single machine, restarting any part that dies."""
from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import click

DEMO_LOGINS = ("zoe.le-gall (Élève)", "lucas.martin (Élève)", "joseph.fabre (Parent)",
               "claire.bernard (Enseignante)", "paul.durand (Personnel)", "admin (Administrateur)")


def split_listen(value: str, option: str) -> tuple[str, int]:
    """`hôte:port`, or `[adresse IPv6]:port`: an IPv6 address must be in brackets, as in a
    URL, since its last group could be read as the port (`::1:8000` is an address)."""
    host, port = _host_and_port(value.strip())
    if host is None or not port.isdecimal() or not 0 < int(port) < 65536:
        raise click.ClickException(f"{option} doit être de la forme hôte:port ou "
                                   f"[adresse IPv6]:port, pas « {value} ».")
    return host, int(port)


def _host_and_port(value: str) -> tuple[str | None, str]:
    """(host, port as written); host None when it cannot be one."""
    if value.startswith("["):
        address, _, port = value[1:].partition("]:")
        try:
            return str(ipaddress.IPv6Address(address)), port
        except ValueError:
            return None, port
    host, _, port = value.rpartition(":")
    return (host if host and not set(host) & set(":[] ") else None), port


def host_port(host: str, port: int) -> str:
    """`host:port` as a URL or a bind address writes it: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ensure_free(host: str, port: int, what: str) -> None:
    """Fail with one line when the port is taken, before any worker starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "déjà utilisé" if error.errno == errno.EADDRINUSE else error.strerror
            raise click.ClickException(
                f"{what} : le port {host_port(host, port)} est {reason}.") from None


def _listen(env_name: str, default: str) -> str:
    return os.environ.get(env_name) or default


def web(listen: str | None, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    host, port = split_listen(listen or _listen("PREAU_WEB_LISTEN", "127.0.0.1:5000"),
                              "--listen" if listen else "PREAU_WEB_LISTEN")
    ensure_free(host, port, "Portail")
    checked_app()

    class Portal(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", host_port(host, port))
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")

        def load(self):
            from portal import worker_app

            return worker_app()

    Portal().run()


def mailgate(processes: int, shared_writer: bool, port_checked: bool,
             writer_socket: str | None, serve_writer: str | None) -> None:
    from mailgate import gateway
    from mailgate.shared_writer import SECRET_VARIABLE, run_writer

    if serve_writer:
        _run_part(lambda app: run_writer(app, serve_writer))
        return
    host, port = split_listen(_listen("PREAU_SMTP_LISTEN", "127.0.0.1:2525"), "PREAU_SMTP_LISTEN")
    if not port_checked:
        ensure_free(host, port, "Passerelle SMTP")
    if processes > 1:
        checked_app(tls=True)
        # Each child binds the port itself (SO_REUSEPORT); it was checked free here.
        command = [sys.executable, "-m", "portal.cli", "mailgate", "--port-checked"]
        if not shared_writer:
            Supervisor({f"mailgate {n + 1}": command for n in range(processes)}).run()
            return
        folder = tempfile.mkdtemp(prefix="preau-writer-")      # only this user may enter
        path = os.path.join(folder, "writer.sock")
        os.environ[SECRET_VARIABLE] = secrets.token_hex(32)      # for the children
        try:
            Supervisor({"mailgate writer": command + ["--serve-writer", path]}
                       | {f"mailgate {n + 1}": command + ["--writer-socket", path]
                          for n in range(processes)}).run()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    _run_part(lambda app: gateway.run(app, host, port, shared_writer=writer_socket), tls=True)


def checked_app(*, dkim: bool = False, tls: bool = False):
    """The app, made once to read every setting before anything starts: one that cannot be
    used stops the start in one line, instead of a traceback in each gunicorn worker or a
    part that `Supervisor` starts again and again. `dkim`: the worker's DKIM key too; `tls`:
    the gateway's certificate and key too, read only where SMTP is served (they may be
    readable by the gateway's user alone, or lie on its machines alone)."""
    from directory.errors import PreauError
    from mailgate import settings as mail_settings
    from mailgate import worker as outbound
    from portal import create_app

    try:
        app = create_app()
        if dkim:
            with app.app_context():
                outbound.signer()
        if tls:
            mail_settings.tls_context(mail_settings.from_app(app))
    except PreauError as error:
        raise click.ClickException(error.message) from None
    return app


def _run_part(run, *, tls: bool = False) -> None:
    from directory.errors import PreauError

    app = checked_app(tls=tls)
    try:
        run(app)
    except PreauError as error:       # a setting the gateway cannot use
        raise click.ClickException(error.message) from None


def worker(drain: bool) -> None:
    import threading

    from mailgate import worker as outbound

    app = checked_app(dkim=True)
    stop = threading.Event()
    stop_after_the_batch_on_signals(stop)
    with app.app_context():
        try:
            if drain:
                click.echo(f"[worker] {outbound.drain(stop=stop)} envoi(s) traité(s).")
                return
            click.echo("[worker] file d'envoi sortante en service.")
            outbound.run_forever(stop)
        except KeyboardInterrupt:       # a second Ctrl-C: at once
            pass


def stop_after_the_batch_on_signals(stop) -> None:
    """SIGTERM, or a first Ctrl-C, sets `stop`: the worker ends the batch it is sending and
    records it before leaving. Stopped mid-batch, it would have recorded nothing of it, and
    sent it all again once its lease passed, what the relay had accepted included. A second
    Ctrl-C stops at once (a relay that no longer answers can hold a batch for minutes)."""
    def interrupted(*_) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.set()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, interrupted)


class Supervisor:
    """Keeps child processes running until Ctrl-C or SIGTERM: a child that ends is started
    again after a pause that doubles from 1 second to 1 minute while it keeps dying, and goes
    back to 1 second once it has run for a minute. Each restart is logged on stderr. On
    Ctrl-C or SIGTERM every child gets SIGTERM, then SIGKILL after `grace` seconds, or at
    once on a second Ctrl-C. However `run` ends (a child that cannot be started included),
    it leaves no child behind."""

    FIRST_PAUSE, LONGEST_PAUSE, STEADY = 1.0, 60.0, 60.0

    def __init__(self, commands: dict[str, list[str]], grace: float = 15):
        self.commands, self.grace = commands, grace
        self.children: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.pause = dict.fromkeys(commands, self.FIRST_PAUSE)
        self.due: dict[str, float] = {}
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        try:
            for name in self.commands:
                self._start(name, time.monotonic())
            while not self.stopping:
                self._watch(time.monotonic())
                time.sleep(0.3)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop_all()

    def _start(self, name: str, now: float) -> None:
        try:
            self.children[name] = subprocess.Popen(self.commands[name])
        except OSError as error:
            raise click.ClickException(f"{name} : impossible de démarrer "
                                       f"({error.strerror}).") from None
        self.started[name] = now

    def _stop(self, *_) -> None:
        self.stopping = True

    def _watch(self, now: float) -> None:
        for name, child in self.children.items():
            if name in self.due:
                if now >= self.due[name]:
                    del self.due[name]
                    self._start(name, now)
                    _log(f"{name} redémarré (pid {self.children[name].pid}).")
                continue
            if child.poll() is None:
                continue
            if now - self.started[name] >= self.STEADY:
                self.pause[name] = self.FIRST_PAUSE
            pause = self.pause[name]
            self.pause[name] = min(pause * 2, self.LONGEST_PAUSE)
            self.due[name] = now + pause
            _log(f"{name} s'est arrêté (code {child.returncode}) ; redémarrage dans "
                 f"{pause:g} s.")

    def _stop_all(self) -> None:
        running = [c for c in self.children.values() if c.poll() is None]
        for child in running:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        try:
            for child in running:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            pass
        for child in running:
            if child.poll() is None:
                child.kill()
                child.wait()


# The worker's recording of its batch once sent: the entries sent, tried up to
# worker.SENT_RECORD_TRIES times, then the failures, each transaction first waiting its turn
# for up to SQLite's busy timeout (directory/db.py, 30 s).
BUSY_TIMEOUT = 30.0


def stop_grace() -> float:
    """How long `preau serve`'s parts have to finish after SIGTERM before they are killed.
    Told to stop, the worker starts no further message, but waits for those in flight: a
    relay may take up to `smarthost.LONGEST_SEND` over one (scanning a large attachment
    before its final answer, up to DATA_DONE_TIMEOUT), then the batch's outcome is recorded.
    Killed sooner, the worker has recorded nothing, and the whole batch (up to 200 messages)
    is sent again once its lease has passed. A prompt relay costs no wait: the supervisor
    stops waiting as soon as its parts have left; a second Ctrl-C kills at once."""
    from mailgate import smarthost, worker

    return smarthost.LONGEST_SEND + (worker.SENT_RECORD_TRIES + 1) * BUSY_TIMEOUT


def _log(line: str) -> None:
    click.echo(f"[serve] {line}", err=True)


def serve() -> None:
    """Start web, mailgate and worker as children, restart any that dies; Ctrl-C or SIGTERM
    stops all three. Ports and settings are checked before any starts: a mistake is one
    line, not three parts failing and started again and again."""
    portal_at = split_listen(_listen("PREAU_WEB_LISTEN", "127.0.0.1:5000"), "PREAU_WEB_LISTEN")
    gateway_at = split_listen(_listen("PREAU_SMTP_LISTEN", "127.0.0.1:2525"), "PREAU_SMTP_LISTEN")
    ensure_free(*portal_at, "Portail")
    ensure_free(*gateway_at, "Passerelle SMTP")
    checked_app(dkim=True, tls=True)
    command = [sys.executable, "-m", "portal.cli"]
    # The gateway's port was checked just above: a restarted gateway must not refuse to
    # start because its own dying predecessor still held the port a moment ago.
    supervisor = Supervisor({"web": command + ["web"],
                             "mailgate": command + ["mailgate", "--port-checked"],
                             "worker": command + ["worker"]},
                            grace=stop_grace())
    click.echo(f"\nPréau est démarré.\n  Portail : http://{host_port(*portal_at)}/\n"
               f"  Passerelle SMTP : {host_port(*gateway_at)}\n"
               f"  Comptes de démonstration (mot de passe Preau-demo-2026!) : "
               f"{', '.join(DEMO_LOGINS)}\n  Ctrl-C pour arrêter.\n")
    supervisor.run()


def register(group: click.Group) -> None:
    group.command("serve", short_help="Portail, passerelle SMTP et facteur ensemble.", help="Le portail, la passerelle SMTP et le facteur (file d'envoi) ensemble, "
                       "pour une seule machine.")(
        serve)
    group.command("web", help="Le portail seul (gunicorn).")(
        click.option("--listen", metavar="HÔTE:PORT", help="Adresse d'écoute (par défaut PREAU_WEB_LISTEN ou "
                                    "127.0.0.1:5000).")(
            click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
                         metavar="NOMBRE",
                         help="Processus du portail.")(
                click.option("--threads", default=4, show_default=True,
                             type=click.IntRange(1, 64), metavar="NOMBRE",
                             help="Fils par processus.")(web))))
    group.command("mailgate", help="La passerelle SMTP seule.")(
        click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
                     metavar="NOMBRE",
                     help="Processus de la passerelle, qui partagent le port "
                          "(SO_REUSEPORT).")(
            click.option("--shared-writer/--own-writers", default=True, show_default=True,
                         help="Avec plusieurs processus : un processus écrivain enregistre "
                              "les messages de tous, ou chacun enregistre les siens.")(
                click.option("--port-checked", is_flag=True, hidden=True)(
                    click.option("--writer-socket", hidden=True)(
                        click.option("--serve-writer", hidden=True)(mailgate))))))
    group.command("worker", help="Le facteur seul : il envoie la file des messages sortants.")(
        click.option("--drain", is_flag=True,
                     help="Envoyer ce qui est dû, puis s'arrêter (au lieu de "
                          "continuer).")(worker))
