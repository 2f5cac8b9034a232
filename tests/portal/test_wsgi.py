"""The WSGI entry point gunicorn loads (`gunicorn wsgi:app`), in a process of its own."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_web_process_settles_its_heap_once_its_app_is_made(tmp_path):
    """`portal.worker_app`, which `preau web` loads too (directory/heap.py): start-up's objects
    are frozen out of the cyclic collector's sight (a full collection walked them all, 46–88 ms
    in the middle of a request)."""
    probe = ("import gc, wsgi; "
             "print(type(wsgi.app).__name__, gc.get_freeze_count(), len(gc.get_objects(2)))")
    env = {**os.environ, "PREAU_INSTANCE_PATH": str(tmp_path),
           "PREAU_DATABASE_URL": f"sqlite:///{tmp_path / 'preau.db'}"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    kind, frozen, oldest = done.stdout.split()
    assert kind == "Portal"
    assert int(frozen) > 50_000 and int(oldest) < 1_000, done.stdout
