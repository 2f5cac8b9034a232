"""Group commit: one thread writes the messages of every SMTP session of this process.

Sessions hand their delivery job over and wait; the thread runs all the jobs that arrived while
it was busy, then commits once. Under load one commit (one fsync) serves many messages, and
no session answers 250 before the commit that holds its message has returned. When a job of
a batch fails, the batch is rolled back and its jobs are run again one by one, so only the
failing one gets an error.
"""
from __future__ import annotations

import asyncio
import logging
import queue as stdqueue
import threading
from collections.abc import Callable
from typing import Any

from directory.db import db

from . import store

log = logging.getLogger("preau.mailgate")
_STOP = object()


class Committer:
    def __init__(self, app, *, max_batch: int = 256):
        self.app = app
        self.max_batch = max_batch
        self.jobs: stdqueue.SimpleQueue = stdqueue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="preau-committer", daemon=True)
        self.thread.start()

    async def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((function, args, kwargs, loop, future))
        return await future

    def stop(self) -> None:
        self.jobs.put(_STOP)
        self.thread.join(timeout=30)

    def _run(self) -> None:
        with self.app.app_context():
            while True:
                batch = [self.jobs.get()]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self.jobs.get_nowait())
                    except stdqueue.Empty:
                        break
                stopping = _STOP in batch
                batch = [job for job in batch if job is not _STOP]
                if batch:
                    self._commit(batch)
                if stopping:
                    return

    def _commit(self, batch: list) -> None:
        try:
            store.write_lock()
            results = [(job, function(*args, **kwargs), None)
                       for job in batch for function, args, kwargs, _, _ in [job]]
            db.session.commit()
        except Exception:
            db.session.rollback()
            results = [self._alone(job) for job in batch]
        finally:
            db.session.close()
        for (_, _, _, loop, future), result, error in results:
            loop.call_soon_threadsafe(_settle, future, result, error)

    def _alone(self, job) -> tuple:
        function, args, kwargs, _, _ = job
        try:
            store.write_lock()
            result = function(*args, **kwargs)
            db.session.commit()
            return job, result, None
        except Exception as error:
            log.exception("delivery job failed")
            db.session.rollback()
            return job, None, error


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
