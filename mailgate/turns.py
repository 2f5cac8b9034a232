"""Turns at SQLite's write lock for the writing threads of one gateway process.

The committer and the indexer of a gateway process both write. Left to SQLite, a writer that
finds the lock taken sleeps 1, 2, 5, 10… ms between tries (its busy handler), while the
committer, freeing the lock and taking it again at once for its next batch, keeps winning:
under a burst on SQLite the indexer waited 0.5 to 1.1 s (p50) to write what it had read. Taking
turns here, in the order asked, hands the lock over at once and in order. On PostgreSQL,
whose writers do not exclude each other, `no_turns` is used instead.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


class Turns:
    """A ticket lock: `with turns():` waits for the turns asked before this one."""

    def __init__(self):
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def waiting(self) -> int:
        """How many turns were asked and not yet given (the one being served excluded)."""
        with self._changed:
            return max(self._next_ticket - self._serving - 1, 0)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._serving += 1
                self._changed.notify_all()


def no_turns():
    return nullcontext()
