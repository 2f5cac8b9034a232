"""CPU per forwarded message of the relay stage alone (`preau worker`), in process.

    .venv/bin/python bench/relay_cpu.py [--db sqlite|postgresql] [--batch 200] [--rounds 15]
        [--size 10240] [--threads 4] [--dkim] [--profile FILE]

A fresh database (SQLite in a temporary folder, or PREAU_BENCH_PG_URL, by default
postgresql+psycopg://postgres@127.0.0.1/preau_smtp_bench, dropped and created again) with the
demo region; one message of `--size` bytes is stored, and each round queues `--batch` FORWARD
entries of it to claire.bernard@example.net (a teacher's redirect address, as
bench/smtp.py --forwarding does through the gateway), then times one `worker.run_once()`
against Postfix's smtp-sink on loopback (a process of its own, so its CPU is not counted).
Printed: this process's CPU (user + system, all its threads: claim, prepare, sending threads,
record) per message, median of the rounds, and the wall time of a round. On PostgreSQL the
backend's CPU is not counted. `--profile FILE` writes cProfile stats of all rounds (the
sending threads are not seen by cProfile: it follows the main thread only).
"""
from __future__ import annotations

import argparse
import cProfile
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.smtp import free_port, fresh_database  # noqa: E402


def dkim_key(folder: Path) -> str:
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    return str(key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument("--profile")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from directory.clock import utcnow
    from directory.db import db
    from directory.demo import load_demo
    from directory.models import Account
    from mailgate import queue, system_mail, worker
    from mailgate.models import EntryKind, EntryState, OutboundEntry
    from mailgate.settings import current
    from portal import create_app

    with tempfile.TemporaryDirectory(prefix="preau-relay-") as tmp:
        folder = Path(tmp)
        port = free_port()
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "256"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            app = create_app({"INSTANCE_PATH": str(folder), "SECRET_KEY": "bench",
                              "SQLALCHEMY_DATABASE_URI": fresh_database(args.db, folder),
                              "PREAU": {"MAIL_DOMAIN": "ent.test", "QUEUE_LIFETIME": "5d",
                                        "SMARTHOST": f"smtp://127.0.0.1:{port}"}})
            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
                load_demo(users=60)
                settings = replace(current(), send_threads=args.threads,
                                   dkim_key=dkim_key(folder) if args.dkim else "",
                                   dkim_selector="bench" if args.dkim else "")
                app.extensions["mailgate.settings"] = settings
                teacher = db.session.scalar(select(Account.id).where(
                    Account.address == "claire.bernard@ent.test"))
                line = "Bonjour, voici le compte rendu du conseil de classe. " * 2 + "\n"
                message = system_mail.build(
                    to="claire.bernard@ent.test", subject="Compte rendu",
                    body=line * (args.size // len(line)), domain="ent.test")
                system_mail.send(message)
                db.session.flush()
                message_id = db.session.scalar(select(OutboundEntry.message_id).order_by(
                    OutboundEntry.id.desc()).limit(1))
                queue.enqueue([{"kind": EntryKind.FORWARD, "message_id": message_id,
                                "account_id": teacher, "author_id": None,
                                "address": "garde@example.net"}], lifetime=queue.LEASE,
                              now=utcnow() + timedelta(days=1))   # keeps the message stored
                db.session.commit()
                worker.drain()                          # the system mail itself, warm-up
                profiler = cProfile.Profile() if args.profile else None
                cpu, wall = [], []
                for _ in range(args.rounds + 1):
                    queue.enqueue([{"kind": EntryKind.FORWARD, "message_id": message_id,
                                    "account_id": teacher, "author_id": None,
                                    "address": "claire.bernard@example.net"}] * args.batch,
                                  lifetime=queue.LEASE * 100)
                    db.session.commit()
                    started, clock = time.process_time(), time.perf_counter()
                    if profiler:
                        profiler.enable()
                    handled = worker.run_once(limit=args.batch)
                    if profiler:
                        profiler.disable()
                    cpu.append((time.process_time() - started) / handled)
                    wall.append(time.perf_counter() - clock)
                    assert handled == args.batch, handled
                    pending = db.session.scalar(select(func.count()).where(
                        OutboundEntry.state != EntryState.SENT))
                    assert pending == 1, f"{pending - 1} entries not sent"
                cpu, wall = cpu[1:], wall[1:]           # the first round opens connections
                worker.senders().close()
                app.extensions.pop("mailgate.senders")
                if profiler:
                    profiler.dump_stats(args.profile)
        finally:
            sink.terminate()
            sink.wait()
    print(f"relay stage in process, {args.db}, batch {args.batch}, {args.threads} threads, "
          f"{args.size} B{', DKIM' if args.dkim else ''}: CPU/msg median "
          f"{statistics.median(cpu) * 1e6:.0f} µs (min {min(cpu) * 1e6:.0f}, max "
          f"{max(cpu) * 1e6:.0f}); round wall median {statistics.median(wall) * 1000:.0f} ms "
          f"= {args.batch / statistics.median(wall):.0f} msgs/s", flush=True)


if __name__ == "__main__":
    main()
