"""CPU per message of the SMTP session alone: the gateway's aiosmtpd subclass (PreauSMTP), each
session a copy of a template as the gateway makes them (`preau`) and made by the constructor as
aiosmtpd makes them (`preau-constructed`), against aiosmtpd's own SMTP class; each with a
handler that stores nothing and answers 250, on uvloop, loaded by Postfix's smtp-source (one
session per message, as it sends them; it says HELO).
`--client ehlo`: Python's smtplib instead, in threads of this process, which says EHLO as
mail servers and mail programs do (one session per message too).

    .venv/bin/python bench/smtp_session.py [--messages 3000] [--sessions 20] [--size 10240]
        [--rounds 3] [--client smtp-source|ehlo] [--kinds aiosmtpd,preau-constructed,preau]

Each round runs each of `--kinds` (by default all three), in that order, in a child process
of its own, and prints the child's CPU (user + system) per message and its msgs/s: what
reading, parsing and answering cost on the event loop, without the database, the committer or
the indexer.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# PreauSMTP as the gateway makes it (a copy of one template session, `PreauSMTP.fresh`) and
# made by aiosmtpd's constructor for every session.
KINDS = ("aiosmtpd", "preau-constructed", "preau")


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


async def serve(kind: str, port: int, ready) -> None:
    from aiosmtpd.smtp import SMTP

    from mailgate.gateway import PreauSMTP
    from mailgate.settings import Settings

    settings = Settings(domain="ent.test", quota_bytes=1, max_message_bytes=20 << 20,
                        queue_lifetime=None, smarthost="capture:", smtp_listen="",
                        instance_path=None, hostname="mail.ent.test")
    handler, loop = Handler(), asyncio.get_running_loop()

    def session():
        if kind == "aiosmtpd":
            return SMTP(handler, data_size_limit=settings.max_message_bytes,
                        enable_SMTPUTF8=True, hostname="x", loop=loop)
        return PreauSMTP(handler, settings=settings, data_size_limit=settings.max_message_bytes,
                         enable_SMTPUTF8=True, hostname="x", loop=loop)

    server = await loop.create_server(session().fresh if kind == "preau" else session,
                                      "127.0.0.1", port)
    ready()
    await asyncio.Event().wait()
    server.close()


def child(kind: str, port: int) -> None:
    import uvloop

    uvloop.run(serve(kind, port, lambda: print("ready", flush=True)))


def measure(kind: str, args) -> tuple[float, float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--child", kind, "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()
        stat = Path(f"/proc/{server.pid}/stat")
        tick = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = stat.read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / tick

        before, started = cpu(), time.perf_counter()
        if args.client == "ehlo":
            ehlo_sessions(port, args)
        else:
            subprocess.run(["smtp-source", "-s", str(args.sessions), "-m", str(args.messages),
                            "-l", str(args.size), "-f", "a@example.org", "-t", "b@ent.test",
                            f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL)
        elapsed, used = time.perf_counter() - started, cpu() - before
    finally:
        server.terminate()
        server.wait(10)
    return used / args.messages * 1000, args.messages / elapsed


def ehlo_sessions(port: int, args) -> None:
    """`args.messages` messages over `args.sessions` threads, each message in a session of its
    own: EHLO, MAIL, RCPT, DATA, QUIT (smtplib)."""
    body = b"Subject: mesure\r\n\r\n" + (b"x" * 76 + b"\r\n") * (args.size // 78)
    failures: list[BaseException] = []

    def sender(count: int) -> None:
        try:
            for _ in range(count):
                with smtplib.SMTP("127.0.0.1", port) as client:
                    client.sendmail("a@example.org", ["b@ent.test"], body)
        except (OSError, smtplib.SMTPException) as error:
            failures.append(error)

    each, extra = divmod(args.messages, args.sessions)
    threads = [threading.Thread(target=sender, args=(each + (n < extra),))
               for n in range(args.sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} sessions failed, the first: {failures[0]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=("smtp-source", "ehlo"), default="smtp-source")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="which sessions to measure, in this order (comma-separated)")
    parser.add_argument("--child", choices=KINDS)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    if args.child:
        child(args.child, args.port)
        return
    for round_number in range(1, args.rounds + 1):
        figures = {kind: measure(kind, args) for kind in args.kinds.split(",")}
        print(f"round {round_number}: " + "; ".join(
            f"{kind} {cpu:.2f} ms CPU per message, {rate:.0f} msgs/s"
            for kind, (cpu, rate) in figures.items())
            + f"; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
            flush=True)


if __name__ == "__main__":
    main()
