"""CPU time of one directory search request in process (issue 16), less disturbed by a loaded
machine than wall-clock figures: the Annuaire's and the picker's name searches through Flask's
test client (no network, no gunicorn), the floor's page (bench/directory_floor.py) and a static
file through Préau (what any page costs: session, account, Flask) in the same run.

    PREAU_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/directory_cpu.py [login]

Prints, per page, the median and p90 of `time.process_time` over BENCH_REQUESTS requests
(default 200, the same 20 name prefixes as the HTTP bench in turn) and the SQL statements of
one request. Logging in records the account's last access; nothing else is written.
"""
from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.db import db  # noqa: E402
from portal import create_app  # noqa: E402

PASSWORD = "Preau-demo-2026!"
PREFIXES = ("mar", "ber", "du", "le+g", "lef", "zo", "n%27d", "da+s", "rob", "pet", "moreau",
            "gar", "ch", "fo", "vin", "lu", "cl", "bo", "gi", "rou")
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def cpu_ms(client, path: str) -> list[float]:
    samples = []
    for n in range(REQUESTS):
        url = path + PREFIXES[n % len(PREFIXES)]
        start = time.process_time()
        response = client.get(url)
        samples.append((time.process_time() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def statements_of(app, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    seen = []

    def record(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def line(label: str, samples: list[float], statements: str = "") -> None:
    samples = sorted(samples)
    print(f"{label:<34} median {statistics.median(samples):6.2f}  "
          f"p90 {samples[int(len(samples) * 0.9)]:6.2f} ms CPU  {statements}")


def main() -> None:
    login = sys.argv[1] if len(sys.argv) > 1 else "paul.durand"
    app = create_app()
    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    response = client.post("/connexion", data={"csrf_token": CSRF.search(page).group(1),
                                               "login": login, "password": PASSWORD})
    assert response.status_code == 302, f"login {login} failed"
    os.environ.setdefault("PREAU_FLOOR_DSN", os.environ["PREAU_DATABASE_URL"].replace(
        "postgresql+psycopg:", "postgresql:"))
    from bench.directory_floor import app as floor_app
    floor = floor_app.test_client()
    pages = (("Annuaire", client, "/annuaire/?nom="),
             ("picker", client, "/messagerie/destinataires?nom="),
             ("floor", floor, "/annuaire/?nom="),
             ("static file through Préau", client, "/static/style.css?"))
    for _label, who, path in pages:     # warm: caches, templates, connections
        cpu_ms(who, path)
    for label, who, path in pages:
        count = "" if who is floor else \
            f"{statements_of(app, who, path + 'mar')} statements"
        line(label, cpu_ms(who, path), count)


if __name__ == "__main__":
    main()
