"""A request that lost SQLite's write lock race is run again from the start, as a writer.

The main write paths take the lock first (directory/db.py), but any request may read and then
write — folders created on a first visit, a message marked read — while the gateway commits
mail: SQLite then answers "database is locked" at once, and retrying the same way could lose
again and again under a steady stream. Nothing was written, so the request is run again, with
the session cookie and the uploaded files as they came, with every transaction taking the
write lock when it begins: it queues behind the gateway's committer (busy timeout) and cannot
be refused again. If the database stays locked past that, the answer is 503 (try again), never
500. PostgreSQL never raises this error, so nothing changes there.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from flask import Flask, g, request, session
from werkzeug.exceptions import ServiceUnavailable

from directory.db import db, is_lock_conflict, writing_from_the_start

log = logging.getLogger("preau.portal")
ATTEMPTS = 3
PAUSE = 0.01                # seconds, with jitter, before running a request again


def dispatch(run: Callable[[], object]) -> object:
    """`run` (Flask's full dispatch); run again as a writer if a lock conflict stopped it;
    ServiceUnavailable if that keeps happening."""
    cookie = dict(session)
    for attempt in range(ATTEMPTS):
        try:
            if attempt == 0:
                return run()
            with writing_from_the_start():
                return run()
        except Exception as error:
            if not is_lock_conflict(error):
                raise
            log.info("database busy (%s %s, attempt %d): %s", request.method, request.path,
                     attempt + 1, getattr(error, "statement", ""))
        db.session.rollback()
        _as_it_came(cookie)
        time.sleep(PAUSE * (0.5 + random.random()))
    raise ServiceUnavailable()


def _as_it_came(cookie: dict) -> None:
    """Undo what the failed attempt did to this request's state: the session cookie, what
    Flask-Login and others cached in `g`, the position in uploaded files."""
    session.clear()
    session.update(cookie)
    for name in list(g):
        g.pop(name)
    for _, files in request.files.lists():
        for upload in files:
            upload.stream.seek(0)


class Portal(Flask):
    def full_dispatch_request(self):
        try:
            return dispatch(super().full_dispatch_request)
        except ServiceUnavailable as busy:
            return self.finalize_request(self.handle_user_exception(busy))
