"""SMTP throughput of the gateway, and its peers measured in the same run.

    .venv/bin/python bench/smtp.py [--db sqlite|postgresql|both] [--messages 20000]
        [--sessions 20] [--size 10240] [--processes 2] [--no-peers]

For each database: a fresh database (SQLite file in a temporary folder, or the PostgreSQL
database named by PREAU_BENCH_PG_URL, dropped and created again) with the demo region;
`preau mailgate --processes N`; Postfix's `smtp-source` sends the burst from
joseph@example.org (a parent's verified redirect address) to zoe.le-gall@ent.test (his
daughter, a student): identity, rights and quota are checked for every message and each one
is in her inbox, committed, before its 250. Printed: accepted msgs/s (= delivered: internal
delivery is the commit), the count found in the inbox afterwards, the gateway processes' peak
RSS, then a second, smaller burst from a Python client (20 sessions) giving the latency of
each message (MAIL..250 after DATA) as p50/p95.
The quota is raised to 2 Go for the run (20,000 × 10 Ko would not fit in 45 Mo).
Peers, same machine, same load, right after: ../shared/bench/smtp_ceiling.sh (smtp-sink,
bare aiosmtpd, aiosmtpd + SQLite) and ../shared/bench/postfix_e2e.sh (Postfix into a maildir).

Forwarding (`--forwarding`, issue 16): the same burst to claire.bernard@ent.test, a teacher
whose mail goes to her verified redirect address, so each message is accepted, queued and
relayed by `preau worker` to a smarthost: Postfix's `smtp-sink` on loopback, which counts
what it receives. Timed from the first connection to the last message received by the sink.
Measured against Postfix (needs root: it rewrites /etc/postfix/main.cf and starts Postfix)
relaying the same burst with `relayhost` = the same sink, in interleaved rounds
(`--rounds`): Préau SQLite, Préau PostgreSQL, Postfix, then again.
"""
from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The peers' scripts (postfix_e2e.sh, smtp_ceiling.sh): PREAU_BENCH_PEERS, else the shared
# folder beside the repository.
PEERS = Path(os.environ.get("PREAU_BENCH_PEERS", ROOT.parent / "shared" / "bench"))
SENDER, RECIPIENT = "joseph@example.org", "zoe.le-gall@ent.test"
FORWARDED = "claire.bernard@ent.test"  # her mail goes to claire.bernard@example.net


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    import sqlalchemy as sa

    url = sa.engine.make_url(os.environ.get(
        "PREAU_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/preau_bench"))
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()
    return url.render_as_string(hide_password=False)


def environment(url: str, folder: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PREAU_DATABASE_URL": url, "PREAU_INSTANCE_PATH": str(folder),
            "PREAU_SECRET_KEY": "bench", "PREAU_MAIL_DOMAIN": "ent.test",
            "PREAU_SMTP_LISTEN": f"127.0.0.1:{port}", "PREAU_QUOTA_MB": "2048",
            "PREAU_SMARTHOST": "capture:"}


def preau(env: dict[str, str], *arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "portal.cli", *arguments], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the gateway never listened on {port}")


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return found


def peak_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])      # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def inbox_count(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.exec_driver_sql(
            "SELECT count(*) FROM mailbox_item i JOIN mail_folder f ON f.id = i.folder_id "
            "JOIN account a ON a.id = i.account_id "
            "WHERE a.login = 'zoe.le-gall' AND f.kind = 'inbox'").scalar()
    engine.dispose()
    return count


def smtp_source(port: int, messages: int, sessions: int, size: int,
                recipient: str = RECIPIENT) -> float:
    started = time.perf_counter()
    subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                    "-f", SENDER, "-t", recipient, f"127.0.0.1:{port}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def latencies(port: int, messages: int, sessions: int, size: int) -> list[float]:
    body = ("From: joseph@example.org\r\nTo: zoe.le-gall@ent.test\r\nSubject: latence\r\n\r\n"
            + ("x" * 78 + "\r\n") * (size // 80)).encode()
    measured: list[float] = []
    lock = threading.Lock()

    def session() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for _ in range(messages // sessions):
                started = time.perf_counter()
                client.sendmail(SENDER, [RECIPIENT], body)
                with lock:
                    measured.append(time.perf_counter() - started)

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measured


class IndexingProbe:
    """During the burst, one message at a time with a word of its own, and how long after its
    250 the search finds it (mail_message.search_text holds the word: mailgate/indexer.py);
    after the burst, how long until no message waits for the indexer."""

    def __init__(self, port: int, url: str):
        import sqlalchemy as sa

        self.port = port
        self.engine = sa.create_engine(url)
        self.lags: list[float] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _found(self, word: str) -> bool:
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            return bool(connection.execute(sa.text(
                "SELECT count(*) FROM mail_message WHERE search_text LIKE :word"),
                {"word": f"%{word}%"}).scalar())

    def _run(self) -> None:
        n = 0
        while not self.stopping.wait(0.5):
            n += 1
            word = f"sondeindex{os.getpid()}x{n}"
            body = (f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: sonde\r\n\r\n"
                    f"Le mot {word}.\r\n").encode()
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as client:
                    client.sendmail(SENDER, [RECIPIENT], body)
            except (OSError, smtplib.SMTPException):
                continue
            answered = time.perf_counter()
            while not self._found(word) and time.perf_counter() - answered < 120:
                time.sleep(0.02)
            self.lags.append(time.perf_counter() - answered)

    def backlog(self) -> float:
        """Seconds from now until no message waits for the indexer."""
        self.stopping.set()
        self.thread.join(180)
        started = time.perf_counter()
        with self.engine.connect() as connection:
            columns = connection.exec_driver_sql(
                "SELECT * FROM mail_message WHERE 0 = 1").keys()
        if "indexed_at" not in columns:
            return 0.0
        while True:
            with self.engine.connect() as connection:
                if not connection.exec_driver_sql(
                        "SELECT count(*) FROM mail_message WHERE indexed_at IS NULL").scalar():
                    break
            time.sleep(0.05)
        self.engine.dispose()
        return time.perf_counter() - started

    def summary(self, backlog: float) -> str:
        lags = sorted(self.lags) or [0.0]
        return (f"indexing lag under the burst: {len(self.lags)} probes, found by search "
                f"p50 {lags[len(lags) // 2] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms "
                f"after their 250; backlog indexed {backlog:.1f} s after the burst's end")


def profile(pid: int, output: str) -> subprocess.Popen:
    """py-spy (pip install py-spy) sampling the gateway processes for the burst's first 10 s,
    as collapsed stacks in `output`."""
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen([str(spy) if spy.exists() else "py-spy", "record", "--pid", str(pid), "--subprocesses",
                             "--duration", "10", "--rate", "200", "--format", "raw",
                             "--output", output, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_frames(collapsed: str, count: int = 15) -> str:
    """The functions most often on top of the stack (self time), as % of the samples."""
    own: dict[str, int] = {}
    total = 0
    for line in Path(collapsed).read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frame = stack.rsplit(";", 1)[-1]
        own[frame] = own.get(frame, 0) + int(samples)
        total += int(samples)
    best = sorted(own.items(), key=lambda item: -item[1])[:count]
    return "\n".join(f"  {100 * n / total:5.1f}%  {frame}" for frame, n in best)


def bench(kind: str, args) -> None:
    with tempfile.TemporaryDirectory(prefix="preau-bench-") as tmp:
        folder = Path(tmp)
        url = fresh_database(kind, folder)
        port = free_port()
        env = environment(url, folder, port)
        preau(env, "init")
        preau(env, "demo")
        gateway = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "mailgate", "--processes", str(args.processes)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            wait_for(port)
            time.sleep(1.0 if args.processes > 1 else 0.2)
            profiler = profile(gateway.pid, f"{args.profile}-{kind}") if args.profile else None
            probe = IndexingProbe(port, url)
            processes = descendants(gateway.pid)
            cpu_before = cpu_seconds(processes)
            elapsed = smtp_source(port, args.messages, args.sessions, args.size)
            cpu_burst = cpu_seconds(processes) - cpu_before
            indexing = probe.summary(probe.backlog())
            cpu_all = cpu_seconds(processes) - cpu_before
            if profiler is not None:
                profiler.wait(60)
                print(top_frames(f"{args.profile}-{kind}"), flush=True)
            stored = inbox_count(url)
            times = latencies(port, args.latency_messages, args.sessions, args.size)
            rss = peak_rss_mb(descendants(gateway.pid))
        finally:
            gateway.terminate()
            gateway.wait(30)
        cuts = statistics.quantiles(times, n=100)
        print(f"preau/{kind}: {args.messages} msgs of {args.size} B over {args.sessions} "
              f"sessions, {args.processes} gateway process(es); accepted = delivered "
              f"{args.messages / elapsed:.0f} msgs/s; {stored} in the inbox; "
              f"peak RSS {rss:.0f} MB; latency ({len(times)} msgs) p50 "
              f"{cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms; {load_average()}\n"
              f"  {indexing}\n  gateway CPU per message: {cpu_burst / args.messages * 1000:.2f} ms "
              f"during the burst, {cpu_all / args.messages * 1000:.2f} ms with the indexing "
              f"after it", flush=True)


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def peers(args, scripts=("smtp_ceiling.sh", "postfix_e2e.sh")) -> None:
    for script in scripts:
        path = PEERS / script
        if not path.exists():
            print(f"{script}: not found in {PEERS}")
            continue
        done = subprocess.run(["bash", str(path), str(args.messages), str(args.sessions),
                               str(args.size)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PY": sys.executable})
        print((done.stdout.strip() or done.stderr.strip()[-500:]) + f"; {load_average()}",
              flush=True)


class Sink:
    """Postfix's smtp-sink on a free port, counting the messages it has received (-c prints
    a running count of completed DATA commands)."""

    def __init__(self):
        self.port = free_port()
        self.count = 0
        self.process = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(self.port)

    def _read(self) -> None:
        digits = b""
        while chunk := self.process.stdout.read1(4096):
            for byte in chunk:
                if 48 <= byte <= 57:
                    digits += bytes([byte])
                elif digits:
                    self.count, digits = int(digits), b""

    def wait_until(self, expected: int, seconds: float = 900) -> float:
        deadline = time.monotonic() + seconds
        while self.count < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return time.perf_counter()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def forward_preau(kind: str, args) -> None:
    with tempfile.TemporaryDirectory(prefix="preau-bench-") as tmp:
        folder = Path(tmp)
        url = fresh_database(kind, folder)
        port = free_port()
        sink = Sink()
        env = {**environment(url, folder, port), "PREAU_SMARTHOST": f"smtp://127.0.0.1:{sink.port}"}
        preau(env, "init")
        preau(env, "demo")
        command = [sys.executable, "-m", "portal.cli"]
        children = [subprocess.Popen(command + ["mailgate", "--processes", str(args.processes)],
                                     env=env, cwd=ROOT, stdout=subprocess.DEVNULL),
                    subprocess.Popen(command + ["worker"], env=env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL)]
        try:
            wait_for(port)
            time.sleep(1.0 if args.processes > 1 else 0.2)
            started = time.perf_counter()
            accepted = smtp_source(port, args.messages, args.sessions, args.size, FORWARDED)
            finished = sink.wait_until(args.messages)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(30)
            sink.stop()
        print(f"forwarding preau/{kind}: {args.messages} msgs of {args.size} B, "
              f"{args.processes} gateway process(es) + 1 worker; accepted "
              f"{args.messages / accepted:.0f} msgs/s; SMTP in → smarthost end to end "
              f"{args.messages / (finished - started):.0f} msgs/s ({sink.count} received by "
              f"the sink in {finished - started:.1f} s)", flush=True)


def forward_postfix(args) -> None:
    """Postfix on 127.0.0.1:25 relaying everything from loopback to the sink (relayhost)."""
    sink = Sink()
    subprocess.run(["postconf", "-e", "myhostname=localhost", "mydestination=",
                    "inet_interfaces=loopback-only", "inet_protocols=ipv4",
                    "mynetworks=127.0.0.0/8", "maillog_file=/var/log/postfix.log",
                    "virtual_mailbox_domains=", "relay_domains=",
                    f"relayhost=[127.0.0.1]:{sink.port}", "smtpd_client_connection_rate_limit=0",
                    "default_process_limit=100",
                    "smtpd_recipient_restrictions=permit_mynetworks,reject_unauth_destination",
                    "compatibility_level=3.6"], check=True)
    subprocess.run(["postfix", "stop"], capture_output=True)
    subprocess.run(["postfix", "start"], capture_output=True, check=True)
    try:
        wait_for(25)
        time.sleep(1)
        started = time.perf_counter()
        accepted = smtp_source(25, args.messages, args.sessions, args.size, FORWARDED)
        finished = sink.wait_until(args.messages)
    finally:
        subprocess.run(["postfix", "stop"], capture_output=True)
        subprocess.run(["postconf", "-e", "relayhost="], capture_output=True)
        sink.stop()
    print(f"forwarding postfix: {args.messages} msgs of {args.size} B, relayhost = the sink; "
          f"accepted {args.messages / accepted:.0f} msgs/s; SMTP in → smarthost end to end "
          f"{args.messages / (finished - started):.0f} msgs/s ({sink.count} received by the "
          f"sink in {finished - started:.1f} s)", flush=True)


def forwarding(args) -> None:
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for round_number in range(1, args.rounds + 1):
        print(f"-- forwarding, round {round_number}", flush=True)
        for kind in kinds:
            forward_preau(kind, args)
        if not args.no_peers:
            forward_postfix(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-messages", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--forwarding", action="store_true",
                        help="SMTP in → queue → smarthost, against Postfix with a relayhost")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="py-spy the gateway during the burst; top frames printed")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds: Postfix, then Préau on each database")
    args = parser.parse_args()
    if shutil.which("smtp-source") is None:
        raise SystemExit("smtp-source is missing: apt-get install postfix")
    if args.forwarding:
        forwarding(args)
        return
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for round_number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"-- delivery, round {round_number}", flush=True)
        if not args.no_peers and args.rounds > 1:
            peers(args, ("postfix_e2e.sh",))
        for kind in kinds:
            bench(kind, args)
        args.profile = None     # py-spy in the first round only
    if not args.no_peers and args.rounds == 1:
        peers(args)


if __name__ == "__main__":
    main()
