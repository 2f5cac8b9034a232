"""SMTP throughput of the gateway, and its peers measured in the same run.

    .venv/bin/python bench/smtp.py [--db sqlite|postgresql|both] [--messages 20000]
        [--sessions 20] [--size 10240] [--processes N] [--no-peers]

For each database: a fresh database (SQLite file in a temporary folder, or the PostgreSQL
database named by PREAU_BENCH_PG_URL, dropped and created again) with the demo region;
`preau mailgate --processes N` (by default one per core, with their shared writer process;
`--writer own`: each process writes its own);
Postfix's `smtp-source` sends the burst from joseph@example.org (a parent's verified
redirect address) to zoe.le-gall@ent.test (his daughter, a student): identity, rights and
quota are checked for every message and each one is in her inbox, committed, before its 250. Printed: accepted msgs/s (= delivered: internal
delivery is the commit), the count found in the inbox afterwards, the gateway processes' peak
RSS, then a second, smaller burst from a Python client (20 sessions) giving the latency of
each message (MAIL..250 after DATA) as p50/p95.
The quota is raised to 2 Go for the run (20,000 × 10 Ko would not fit in 45 Mo).
Peers, same machine, same load, right after: bench/peers/smtp_ceiling.sh (smtp-sink,
bare aiosmtpd, aiosmtpd + SQLite) and bench/peers/postfix_e2e.sh (Postfix into a maildir).

Forwarding (`--forwarding`, issue 16): the same burst to claire.bernard@ent.test, a teacher
whose mail goes to her verified redirect address, so each message is accepted, queued and
relayed by `preau worker` to a smarthost: Postfix's `smtp-sink` on loopback, which counts
what it receives. Timed from the first connection to the last message received by the sink.
Measured against Postfix relaying the same burst with `relayhost` = the same sink, in
interleaved rounds (`--rounds`): Préau SQLite, Préau PostgreSQL, Postfix, then again, each
round ending with the ratios and every line with the load average. The Postfix is an instance
of the bench's own (/etc/postfix-preau-forwarding, needs root), so the system's Postfix and
another bench's are left alone. `--profile PREFIX` samples Préau's gateway and worker. Each
Préau line is followed by the CPU per message of the gateway, the worker and the PostgreSQL
backends, the Postfix line by that of all Postfix's processes. `--relay-stage` measures the
relay alone: the burst queued with no worker running, then one worker started (Postfix: the
burst held by defer_transports, then `postqueue -f`).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
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
# The peers' scripts (bench/peers/: postfix_e2e.sh, smtp_ceiling.sh and its aiosmtpd_anchor.py),
# or another copy of them named by PREAU_BENCH_PEERS.
PEERS = Path(os.environ.get("PREAU_BENCH_PEERS", ROOT / "bench" / "peers"))
SENDER, RECIPIENT = "joseph@example.org", "zoe.le-gall@ent.test"
FORWARDED = "claire.bernard@ent.test"  # her mail goes to claire.bernard@example.net


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Dropped and created again at every round: a name of its own, so that it is never the
# half-million-account database the directory benchmarks read.
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1/preau_smtp_bench"


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    import sqlalchemy as sa

    url = sa.engine.make_url(os.environ.get("PREAU_BENCH_PG_URL", DEFAULT_PG_URL))
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


def background(env: dict[str, str], *arguments: str) -> subprocess.Popen:
    """A `preau` command running in the background (the gateway, the worker)."""
    return subprocess.Popen([sys.executable, "-m", "portal.cli", *arguments], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def forwarding_instance(kind: str):
    """What a forwarding round needs: a fresh database of `kind` with the demo region, a free
    port for the gateway and an smtp-sink smarthost, as (url, port, sink, env); the sink is
    stopped and the instance folder removed at the end."""
    with tempfile.TemporaryDirectory(prefix="preau-bench-") as tmp:
        folder = Path(tmp)
        url = fresh_database(kind, folder)
        port = free_port()
        sink = Sink()
        try:
            env = {**environment(url, folder, port),
                   "PREAU_SMARTHOST": f"smtp://127.0.0.1:{sink.port}"}
            preau(env, "init")
            preau(env, "demo")
            yield url, port, sink, env
        finally:
            sink.stop()


def wait_for(port: int, seconds: float = 180) -> None:
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

    def _newest_id(self) -> int:
        with self.engine.connect() as connection:
            return connection.exec_driver_sql(
                "SELECT coalesce(max(id), 0) FROM mail_message").scalar()

    def _found(self, word: str, after_id: int) -> bool:
        """Whether the search text of a message stored after `after_id` holds `word`: only
        the messages of the last moments are read, so the probe does not compete with the
        gateway for the CPU by scanning every body stored (on SQLite a full scan of 150 MB
        every 20 ms took a quarter of a core)."""
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            return bool(connection.execute(sa.text(
                "SELECT count(*) FROM mail_message WHERE id > :after AND search_text LIKE :word"),
                {"after": after_id, "word": f"%{word}%"}).scalar())

    def _run(self) -> None:
        n = 0
        while not self.stopping.wait(0.5):
            n += 1
            word = f"sondeindex{os.getpid()}x{n}"
            body = (f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: sonde\r\n\r\n"
                    f"Le mot {word}.\r\n").encode()
            before = self._newest_id()
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as client:
                    client.sendmail(SENDER, [RECIPIENT], body)
            except (OSError, smtplib.SMTPException):
                continue
            answered = time.perf_counter()
            while not self._found(word, before) and time.perf_counter() - answered < 120:
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
                             "--output", output, "--nonblocking", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_frames(collapsed: str, count: int = 15) -> str:
    """The functions most often on top of the stack (self time), as % of the samples."""
    own: dict[str, int] = {}
    total = 0
    for line in Path(collapsed).read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not (stack and samples.isdigit()):     # py-spy writes a damaged line at times
            continue
        frame = stack.rsplit(";", 1)[-1]
        own[frame] = own.get(frame, 0) + int(samples)
        total += int(samples)
    best = sorted(own.items(), key=lambda item: -item[1])[:count]
    return "\n".join(f"  {100 * n / total:5.1f}%  {frame}" for frame, n in best)


def gateway_processes(kind: str, args) -> int:
    """`--processes`, else what the README advises: one per core (they hand their writes to
    one shared writer process, `preau mailgate`'s default)."""
    return args.processes or os.cpu_count() or 1


def gateway_arguments(kind: str, args) -> list[str]:
    """`preau mailgate`'s arguments for this run."""
    writer = {"shared": ["--shared-writer"], "own": ["--own-writers"]}.get(args.writer, [])
    return ["mailgate", "--processes", str(gateway_processes(kind, args)), *writer]


def bench(kind: str, args) -> float:
    """One delivery run on a fresh database of `kind`; returns its accepted msgs/s."""
    with tempfile.TemporaryDirectory(prefix="preau-bench-") as tmp:
        folder = Path(tmp)
        url = fresh_database(kind, folder)
        port = free_port()
        env = environment(url, folder, port)
        preau(env, "init")
        preau(env, "demo")
        count = gateway_processes(kind, args)
        gateway = background(env, *gateway_arguments(kind, args))
        try:
            wait_for(port)
            time.sleep(1.0 if count > 1 else 0.2)
            profiler = profile(gateway.pid, f"{args.profile}-{kind}") if args.profile else None
            probe = IndexingProbe(port, url)
            processes = descendants(gateway.pid)
            cpu_before = sum(cpu_seconds(processes).values())
            elapsed = smtp_source(port, args.messages, args.sessions, args.size)
            cpu_burst = sum(cpu_seconds(processes).values()) - cpu_before
            indexing = probe.summary(probe.backlog())
            cpu_all = sum(cpu_seconds(processes).values()) - cpu_before
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
              f"sessions, {count} gateway process(es); accepted = delivered "
              f"{args.messages / elapsed:.0f} msgs/s; {stored} in the inbox; "
              f"peak RSS {rss:.0f} MB; latency ({len(times)} msgs) p50 "
              f"{cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms; load average {load_average()}\n"
              f"  {indexing}\n  gateway CPU per message: {cpu_burst / args.messages * 1000:.2f} ms "
              f"during the burst, {cpu_all / args.messages * 1000:.2f} ms with the indexing "
              f"after it", flush=True)
    return args.messages / elapsed


def peers(args, scripts=("smtp_ceiling.sh", "postfix_e2e.sh")) -> float | None:
    """Runs the peers' scripts; Postfix's accepted msgs/s, if postfix_e2e.sh ran."""
    postfix = None
    for script in scripts:
        path = PEERS / script
        if not path.exists():
            print(f"{script}: not found in {PEERS}")
            continue
        done = subprocess.run(["bash", str(path), str(args.messages), str(args.sessions),
                               str(args.size)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PY": sys.executable})
        print((done.stdout.strip() or done.stderr.strip()[-500:]) + f"; load average {load_average()}",
              flush=True)
        accepted = re.search(r"^postfix: .*accepted (\d+) msgs/s", done.stdout, re.MULTILINE)
        if accepted:
            postfix = float(accepted[1])
    return postfix


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


def forward_preau(kind: str, args) -> float:
    """One Préau round; returns its end-to-end msgs/s. With --profile, py-spy samples the
    worker (PREFIX-worker-KIND) and the gateway (PREFIX-gateway-KIND) for the first 10 s."""
    with forwarding_instance(kind) as (url, port, sink, env):
        expected = args.messages + scalar(url, "SELECT count(*) FROM outbound_entry "
                                               "WHERE state = 'pending'")   # the demo's own
        processes = gateway_processes(kind, args)
        children = [background(env, *gateway_arguments(kind, args)),
                    background(env, "worker")]
        profiles = []
        try:
            wait_for(port)
            time.sleep(1.0 if processes > 1 else 0.2)
            if args.profile:
                outputs = [f"{args.profile}-{part}-{kind}" for part in ("gateway", "worker")]
                profiles = [(output, profile(child.pid, output))
                            for output, child in zip(outputs, children, strict=True)]
            meter = CpuMeter({"gateway": lambda: descendants(children[0].pid),
                              "worker": lambda: [children[1].pid],
                              "database": lambda: database_backends(url)})
            began = time.perf_counter()
            accepted = smtp_source(port, args.messages, args.sessions, args.size, FORWARDED)
            finished = sink.wait_until(expected)
            cpu = meter.used()
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(30)
        rate = args.messages / (finished - began)
        print(f"forwarding preau/{kind}: {args.messages} msgs of {args.size} B, "
              f"{processes} gateway process(es) + 1 worker; accepted "
              f"{args.messages / accepted:.0f} msgs/s; SMTP in → smarthost end to end "
              f"{rate:.0f} msgs/s ({sink.count} received by the sink in "
              f"{finished - began:.1f} s); load average {load_average()}", flush=True)
        print(per_message(cpu, args.messages, kind), flush=True)
        for output, spy in profiles:
            spy.wait(60)
            print(f"  py-spy {output} (self time):\n{top_frames(output, 10)}", flush=True)
        return rate


class CpuMeter:
    """CPU seconds used by the parts of a run (each a function listing its pids) since the
    meter was made; `reaped`: with what their children that ended in between had used
    (Postfix's master reaps the smtpd, cleanup and smtp processes that end)."""

    def __init__(self, parts: dict, reaped: bool = False):
        self.parts, self.reaped = parts, reaped
        self.start = {part: cpu_seconds(pids(), reaped) for part, pids in parts.items()}

    def used(self) -> dict[str, float]:
        return {part: sum(seconds - self.start[part].get(pid, 0)
                          for pid, seconds in cpu_seconds(pids(), self.reaped).items())
                for part, pids in self.parts.items()}


def per_message(cpu: dict[str, float], messages: int, kind: str) -> str:
    return "  CPU per message: " + ", ".join(
        f"{part} {1000 * seconds / messages:.2f} ms" for part, seconds in cpu.items()) + (
        " (SQLite: inside the gateway and the worker)" if kind == "sqlite" else "")


def relay_preau(kind: str, args) -> float:
    """The relay stage alone: the burst is queued by the gateway with no worker running,
    then one worker is started; msgs/s from the first message the sink receives to the
    last (the worker's start-up left out)."""
    with forwarding_instance(kind) as (url, port, sink, env):
        gateway = background(env, *gateway_arguments(kind, args))
        try:
            wait_for(port)
            smtp_source(port, args.messages, args.sessions, args.size, FORWARDED)
        finally:
            gateway.terminate()
            gateway.wait(30)
        queued = scalar(url, "SELECT count(*) FROM outbound_entry WHERE state = 'pending'")
        worker = background(env, "worker")
        try:
            first = sink.wait_until(1, 120)
            meter = CpuMeter({"worker": lambda: [worker.pid],
                              "database": lambda: database_backends(url)})
            last = sink.wait_until(queued)
            cpu = meter.used()
        finally:
            worker.terminate()
            worker.wait(30)
    rate = (queued - 1) / (last - first)
    print(f"relay stage preau/{kind}: {queued} queued msgs of {args.size} B, 1 worker; "
          f"{rate:.0f} msgs/s ({sink.count} received by the sink); load average "
          f"{load_average()}", flush=True)
    print(per_message(cpu, queued, kind), flush=True)
    return rate


def relay_postfix(args) -> float:
    """Postfix's relay stage alone: the burst accepted while the smtp transport is deferred,
    then the queue flushed (postqueue -f); msgs/s from the first message the sink receives
    to the last."""
    sink = Sink()
    port = free_port()
    config = postfix_instance(port, sink.port, defer_transports="smtp")
    queue = config_value(config, "queue_directory")
    subprocess.run(["postfix", "-c", str(config), "stop"], capture_output=True)
    subprocess.run(["postfix", "-c", str(config), "start"], capture_output=True, check=True)
    try:
        wait_for(port)
        smtp_source(port, args.messages, args.sessions, args.size, FORWARDED)
        deadline = time.monotonic() + 300
        while (sum(1 for f in (queue / "deferred").rglob("*") if f.is_file()) < args.messages
               and time.monotonic() < deadline):
            time.sleep(0.2)
        subprocess.run(["postconf", "-c", str(config), "-e", "defer_transports="], check=True)
        subprocess.run(["postfix", "-c", str(config), "reload"], capture_output=True)
        subprocess.run(["postqueue", "-c", str(config), "-f"], capture_output=True)
        first = sink.wait_until(1, 120)
        last = sink.wait_until(args.messages)
    finally:
        subprocess.run(["postfix", "-c", str(config), "stop"], capture_output=True)
        sink.stop()
    rate = (args.messages - 1) / (last - first)
    print(f"relay stage postfix: {args.messages} queued msgs of {args.size} B, flushed to the "
          f"sink; {rate:.0f} msgs/s ({sink.count} received by the sink); load average "
          f"{load_average()}", flush=True)
    return rate


def scalar(url: str, query: str):
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(query).scalar()
    engine.dispose()
    return value


def database_backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving `url`'s database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        pids = connection.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = %(name)s "
            "AND pid <> pg_backend_pid()", {"name": name}).scalars().all()
    engine.dispose()
    return list(pids)


def cpu_seconds(pids: list[int], reaped: bool = False) -> dict[int, float]:
    """User + system CPU time of each of these processes so far (those gone are left out):
    what a part used in a while is the sum at the end less what the same processes had at the
    start (a process started in between counts from 0)."""
    tick, found = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        used = fields[11:15] if reaped else fields[11:13]     # utime stime [cutime cstime]
        found[pid] = sum(int(n) for n in used) / tick
    return found


POSTFIX_INSTANCE = Path("/etc/postfix-preau-forwarding")


def postfix_instance(port: int, relay_port: int, **extra: str) -> Path:
    """A Postfix instance of the bench's own (its config, queue and data directories), so
    the system's /etc/postfix and another bench's Postfix are left alone: smtpd on
    127.0.0.1:`port`, everything from loopback relayed to the sink, no chroot."""
    config, queue, data = (POSTFIX_INSTANCE, Path("/var/spool/postfix-preau-forwarding"),
                           Path("/var/lib/postfix-preau-forwarding"))
    for folder in (config, queue, data):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.chown(data, "postfix")
    shutil.copy("/etc/postfix/master.cf", config / "master.cf")
    (config / "main.cf").write_text("")
    settings = {"queue_directory": queue, "data_directory": data, "myhostname": "localhost",
                "mydestination": "", "inet_interfaces": "loopback-only",
                "inet_protocols": "ipv4", "mynetworks": "127.0.0.0/8",
                "maillog_file": "/var/log/postfix-preau-forwarding.log",
                "syslog_name": "postfix-preau-forwarding", "relay_domains": "",
                "relayhost": f"[127.0.0.1]:{relay_port}",
                "smtpd_client_connection_rate_limit": 0, "default_process_limit": 100,
                "smtpd_recipient_restrictions": "permit_mynetworks,reject_unauth_destination",
                "compatibility_level": "3.6", "multi_instance_enable": "yes",
                "multi_instance_name": "postfix-preau-forwarding", "defer_transports": "",
                **extra}
    postconf = ["postconf", "-c", str(config)]
    subprocess.run(postconf + ["-e", *(f"{k}={v}" for k, v in settings.items())], check=True)
    subprocess.run(postconf + ["-F", "*/*/chroot = n"], check=True)
    subprocess.run(postconf + ["-M#", "smtp/inet"], check=True)
    subprocess.run(postconf + ["-M", f"127.0.0.1:{port}/inet=127.0.0.1:{port} inet n - n - - "
                               "smtpd"], check=True)
    subprocess.run(["postfix", "-c", str(config), "set-permissions"], capture_output=True)
    return config


def forward_postfix(args) -> float:
    """Postfix relaying everything from loopback to the sink (relayhost), in an instance of
    its own (`postfix_instance`)."""
    sink = Sink()
    port = free_port()
    config = postfix_instance(port, sink.port)
    subprocess.run(["postfix", "-c", str(config), "stop"], capture_output=True)
    subprocess.run(["postfix", "-c", str(config), "start"], capture_output=True, check=True)
    try:
        wait_for(port)
        time.sleep(1)
        master = int((config_value(config, "queue_directory") / "pid" / "master.pid")
                     .read_text().split()[0])
        meter = CpuMeter({"postfix": lambda: descendants(master)}, reaped=True)
        started = time.perf_counter()
        accepted = smtp_source(port, args.messages, args.sessions, args.size, FORWARDED)
        finished = sink.wait_until(args.messages)
        cpu = meter.used()
    finally:
        subprocess.run(["postfix", "-c", str(config), "stop"], capture_output=True)
        sink.stop()
    rate = args.messages / (finished - started)
    print(f"forwarding postfix: {args.messages} msgs of {args.size} B, relayhost = the sink; "
          f"accepted {args.messages / accepted:.0f} msgs/s; SMTP in → smarthost end to end "
          f"{rate:.0f} msgs/s ({sink.count} received by the sink in "
          f"{finished - started:.1f} s); load average {load_average()}", flush=True)
    print(per_message(cpu, args.messages, "postfix"), flush=True)
    return rate


def config_value(config: Path, name: str) -> Path:
    return Path(subprocess.run(["postconf", "-c", str(config), "-h", name],
                               capture_output=True, text=True, check=True).stdout.strip())


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def forwarding(args) -> None:
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for round_number in range(1, args.rounds + 1):
        print(f"-- forwarding, round {round_number}", flush=True)
        measure, peer = (relay_preau, relay_postfix) if args.relay_stage \
            else (forward_preau, forward_postfix)
        rates = {kind: measure(kind, args) for kind in kinds}
        if not args.no_peers:
            postfix = peer(args)
            print("   ratio to Postfix: " + ", ".join(
                f"{kind} {rate / postfix:.2f}×" for kind, rate in rates.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-messages", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--processes", type=int,
                        help="gateway processes (default: one per core, as the README "
                             "advises)")
    parser.add_argument("--writer", choices=("shared", "own"),
                        help="with several processes: one shared writer process, or each its "
                             "own (default: `preau mailgate`'s, shared)")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--forwarding", action="store_true",
                        help="SMTP in → queue → smarthost, against Postfix with a relayhost")
    parser.add_argument("--relay-stage", action="store_true",
                        help="with --forwarding: the relay stage alone (queue filled first)")
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
        postfix = peers(args, ("postfix_e2e.sh",)) if not args.no_peers and args.rounds > 1 \
            else None
        rates = {kind: bench(kind, args) for kind in kinds}
        if postfix:
            print("   ratio to Postfix: " + ", ".join(
                f"{kind} {rate / postfix:.2f}×" for kind, rate in rates.items()), flush=True)
        args.profile = None     # py-spy in the first round only
    if not args.no_peers and args.rounds == 1:
        peers(args)


if __name__ == "__main__":
    main()
