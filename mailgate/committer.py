"""Group commit: one thread writes the messages of every SMTP session of this process (in the
shared writer process, mailgate/shared_writer.py: of every gateway process).

Sessions hand their delivery job over and wait; the thread runs all the jobs that arrived while
it was busy, then commits once. Under load one commit (one fsync) serves many messages, and
no session answers 250 before the commit that holds its message has returned. Jobs handed over
with `run_many` are gathered per function, which then receives all their items at once (see
`routing.deliver_many`): the statements of a batch do not grow with its number of messages.
When a job of a batch fails, the batch is rolled back and its jobs are run again one by one,
so only the failing one gets an error.
"""
from __future__ import annotations

import asyncio
import logging
import queue as stdqueue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from directory.db import db, write_lock

from .turns import no_turns

log = logging.getLogger("preau.mailgate")
_STOP = object()


class Committer:
    def __init__(self, app, *, max_batch: int = 256,
                 after_commit: Callable[[list], None] | None = None,
                 turn: Callable[[], AbstractContextManager] = no_turns):
        self.app = app
        self.max_batch = max_batch
        self.turn = turn        # the process's turns at SQLite's lock (mailgate/turns.py)
        # Given the results of each committed batch (the gateway: to its indexer thread).
        self.after_commit = after_commit
        self.jobs: stdqueue.SimpleQueue = stdqueue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="preau-committer", daemon=True)
        self.thread.start()

    async def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """`function(*args, **kwargs)`, committed."""
        return await self._hand_over(Job(function, args, kwargs))

    async def run_many(self, function: Callable[[list], list], item: Any) -> Any:
        """`function([item, …])[i]`, committed: `function` takes a list of items and returns
        one result per item, in order; items of jobs waiting together go in one call."""
        return await self._hand_over(Job(function, (item,), many=True))

    async def _hand_over(self, job: Job) -> Any:
        job.loop = asyncio.get_running_loop()
        job.future = job.loop.create_future()
        self.jobs.put(job)
        return await job.future

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
                    with self.turn():
                        self._commit(batch)
                if stopping:
                    return

    def _commit(self, batch: list[Job]) -> None:
        try:
            write_lock()
            results = _execute(batch)
            db.session.commit()
        except Exception:
            db.session.rollback()
            results = [self._alone(job) for job in batch]
        finally:
            db.session.close()
        for job, (result, error) in zip(batch, results, strict=True):
            job.loop.call_soon_threadsafe(settle, job.future, result, error)
        if self.after_commit is not None:
            self.after_commit([result for result, error in results if error is None])

    def _alone(self, job: Job) -> tuple[Any, Exception | None]:
        try:
            write_lock()
            ((result, _),) = _execute([job])
            db.session.commit()
            return result, None
        except Exception as error:
            log.exception("delivery job failed")
            db.session.rollback()
            return None, error


@dataclass
class Job:
    function: Callable
    args: tuple
    kwargs: dict = field(default_factory=dict)
    many: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None


def _execute(batch: list[Job]) -> list[tuple[Any, None]]:
    """Results in the order of `batch`; `many` jobs of one function in one call."""
    results: dict[int, Any] = {}
    gathered: dict[Callable, list[int]] = {}
    for n, job in enumerate(batch):
        if job.many:
            gathered.setdefault(job.function, []).append(n)
        else:
            results[n] = job.function(*job.args, **job.kwargs)
    for function, positions in gathered.items():
        outcomes = function([batch[n].args[0] for n in positions])
        results.update(zip(positions, outcomes, strict=True))
    return [(results[n], None) for n in range(len(batch))]


def settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    """A job's outcome to the session waiting for it (on its loop), unless it gave up."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
        return
    try:
        future.set_exception(error)
    except TypeError:       # StopIteration, which a future cannot hold
        future.set_exception(RuntimeError(repr(error)))
