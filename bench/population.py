"""Population mailing at region scale, and Postfix fanning one message out, in the same run.

    .venv/bin/python bench/population.py [--sizes 10000,100000] [--rounds 2] [--no-peer]

Needs the PostgreSQL database PREAU_BENCH_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1/preau_rubrics_bench) filled beforehand with
`preau init && preau demo --users 500000` (3-5 minutes); `preau init` is run again here to
bring it to the current schema.

For each size: a rubric of the first school is opened to whole schools (every profile) until
its population reaches the size; Claire publishes an article there and sends it to that
population through the portal's form (Flask test client: "the click", which stores the message
once and writes one row per recipient with one INSERT … SELECT). A separate worker process,
started beforehand and idle, routes the job in batches exactly as `preau worker` does between
two sends (the forwards it queues are not sent here). Printed: the click's time, the time
from the click until every recipient is routed and queued, recipients per outcome, rows
written per table, and the worker's RSS when idle and at its peak.
Peer, right after each round: bench/postfix_fanout.sh, a throw-away Postfix delivering one
10 KB message to 10,000 virtual mailboxes (until the last maildir file is written).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)     # not bench/, whose directory.py would hide the package
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/preau_rubrics_bench"
TABLES = ("fanout_recipient", "mail_message", "mailbox_item", "outbound_entry",
          "mail_correspondent", "mailbox", "mail_folder")


def environment() -> dict[str, str]:
    return {**os.environ,
            "PREAU_DATABASE_URL": os.environ.get("PREAU_BENCH_PG_URL", DEFAULT_URL),
            "PREAU_INSTANCE_PATH": os.environ.get("PREAU_BENCH_INSTANCE",
                                                  "/tmp/preau-population-bench"),
            "PREAU_SECRET_KEY": "bench", "PREAU_MAIL_DOMAIN": "ent.test",
            "PREAU_SMARTHOST": "capture:", "PREAU_QUOTA_MB": "2048"}


def memory(field: str) -> int:
    """VmRSS / VmHWM of this process, in kB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+)", status, re.M)[1])


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (this one, or PostgreSQL's backend serving us)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_process() -> None:
    """The child: idle like `preau worker`, route every job that appears, report each, with
    the CPU time it and its PostgreSQL backend spent (the routing's work, whatever else the
    machine is doing: wall times on a shared machine are not)."""
    from sqlalchemy import text

    from directory.db import db
    from mailgate import fanout
    from mailgate.fanout_models import FanoutJob
    from portal import create_app

    app = create_app()
    with app.app_context():
        db.session.execute(db.select(FanoutJob.id).limit(1)).all()
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        db.session.commit()
        print(f"ready {memory('VmRSS')}", flush=True)
        while True:
            began, cpu = time.time(), (cpu_seconds(), cpu_seconds(backend))
            routed = fanout.run_batch()
            if routed:
                started = began     # the start of the job's first batch
                while fanout.run_batch():
                    pass
                spent = (cpu_seconds() - cpu[0], cpu_seconds(backend) - cpu[1])
                print(f"done {time.time():.6f} {started:.6f} {memory('VmHWM')} "
                      f"{memory('VmRSS')} {spent[0]:.2f} {spent[1]:.2f}", flush=True)
            else:
                time.sleep(0.02)


def counts(db) -> dict[str, int]:
    from sqlalchemy import text

    return {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}


def population(db, size: int, author_id: int):
    """A rubric of the first school open to as many whole schools as `size` needs."""
    from sqlalchemy import func, select

    from directory.enums import Profile
    from directory.models import AccountSchool, School
    from directory.rubric_models import Rubric, RubricManager, RubricPopulation

    per_school = db.session.execute(
        select(AccountSchool.school_id, func.count()).group_by(AccountSchool.school_id)
        .order_by(AccountSchool.school_id)).all()
    chosen, total = [], 0
    for school_id, people in per_school:
        chosen.append(school_id)
        total += people
        if total > size:
            break
    first = db.session.scalar(select(School).order_by(School.id).limit(1))
    rubric = Rubric(school_id=first.id, name=f"Banc d'essai {size} {time.time_ns()}")
    rubric.populations = [RubricPopulation(school_id=s, profile=p) for s in chosen
                          for p in Profile]
    db.session.add(rubric)
    db.session.flush()
    db.session.add(RubricManager(rubric_id=rubric.id, account_id=author_id))
    db.session.commit()
    return rubric, len(chosen)


def one_round(app, size: int, worker, round_number: int) -> None:
    from sqlalchemy import select

    from directory.db import db
    from directory.models import Account
    from mailgate import fanout
    from mailgate.fanout_models import FanoutJob
    from portal.rubriques import articles
    from portal.rubriques.models import CommentMode
    from tests.conftest import csrf_token, login

    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        rubric, schools = population(db, size, claire.id)
        article = articles.save(claire, rubric, articles.Draft(
            "Sortie au musée", "<p>" + "Texte de l'article. " * 500 + "</p>", True, None,
            CommentMode.OFF))
        db.session.commit()
        article_id, population_ids = article.id, [p.id for p in rubric.populations]
        before = counts(db)
    client = app.test_client()
    assert login(client, "claire.bernard").status_code == 302
    page = client.get(f"/rubriques/articles/{article_id}/envoyer").get_data(as_text=True)
    key = re.search(r'name="cle" type="hidden" value="([^"]+)"', page)[1]
    clicked = time.time()
    response = client.post(f"/rubriques/articles/{article_id}/envoyer", data={
        "csrf_token": csrf_token(page), "cle": key, "populations": population_ids,
        "texte": "Un nouvel article a été publié.", "confirmation": "y", "envoyer": "1"})
    answered = time.time()
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    line = worker.stdout.readline().split()
    finished, started, peak, rss = float(line[1]), float(line[2]), int(line[3]), int(line[4])
    worker_cpu, database_cpu = float(line[5]), float(line[6])
    with app.app_context():
        job = db.session.scalar(select(FanoutJob).where(FanoutJob.origin == f"article:{article_id}"))
        progress = fanout.progress(job)
        after = counts(db)
    print(f"\n[round {round_number}] population {job.total:,} ({schools} schools, all profiles)")
    print(f"  click (store once + INSERT … SELECT of the recipients): {answered - clicked:.2f} s")
    print(f"  click → everything routed and queued: {finished - clicked:.2f} s "
          f"(worker busy {finished - started:.2f} s from its first batch)")
    print(f"  routing work, CPU: worker {worker_cpu:.2f} s + its PostgreSQL backend "
          f"{database_cpu:.2f} s = {worker_cpu + database_cpu:.2f} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"  routed per second: {job.total / (finished - clicked):,.0f}")
    print("  outcomes: " + ", ".join(f"{state}{'/' + refusal if refusal else ''} {n:,}"
                                     for (state, refusal), n in sorted(progress.counts.items(),
                                                                       key=str)))
    print("  rows written: " + ", ".join(f"{t} +{after[t] - before[t]:,}" for t in TABLES))
    print(f"  worker RSS: idle {worker.idle_rss / 1024:.0f} MB, peak {peak / 1024:.0f} MB "
          f"(growth {(peak - worker.idle_rss) / 1024:.0f} MB), now {rss / 1024:.0f} MB")


def peer() -> None:
    script = ROOT / "bench" / "postfix_fanout.sh"
    done = subprocess.run(["bash", str(script), "10000", "10240"], capture_output=True,
                          text=True)
    print("  " + (done.stdout.strip() or done.stderr.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    env = environment()
    os.environ.update(env)
    if options.worker:
        worker_process()
        return
    subprocess.run([sys.executable, "-m", "portal.cli", "init"], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    from portal import create_app

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = True
    worker = subprocess.Popen([sys.executable, __file__, "--worker"], env=env, cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = worker.stdout.readline().split()
    worker.idle_rss = int(ready[1])
    try:
        for round_number in range(1, options.rounds + 1):
            for size in (int(s) for s in options.sizes.split(",")):
                one_round(app, size, worker, round_number)
            if not options.no_peer:
                print("\n[peer]")
                peer()
    finally:
        worker.stdin.close()
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
