"""The gateway's turns at SQLite's write lock (mailgate/turns.py): given in the order asked,
one at a time, and given on even when a turn's work fails."""
from __future__ import annotations

import threading
import time

import pytest

from mailgate.turns import Turns


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_turns_are_given_in_the_order_they_were_asked_and_one_at_a_time():
    turns, served, inside = Turns(), [], []

    def writer(name: str) -> None:
        with turns():
            inside.append(name)
            assert len(inside) == 1, inside
            served.append(name)
            inside.remove(name)

    threads = []
    with turns():
        for n, name in enumerate(["indexer", "committer", "indexer again"], start=1):
            thread = threading.Thread(target=writer, args=(name,))
            thread.start()
            threads.append(thread)
            wait_until(lambda n=n: turns.waiting() == n)
        assert served == []
    for thread in threads:
        thread.join(5)
    assert served == ["indexer", "committer", "indexer again"]
    assert turns.waiting() == 0


def test_a_turn_whose_work_fails_is_given_on():
    turns = Turns()
    with pytest.raises(RuntimeError), turns():
        raise RuntimeError("écriture refusée")
    given = threading.Event()

    def next_writer() -> None:
        with turns():
            given.set()

    thread = threading.Thread(target=next_writer, daemon=True)
    thread.start()
    thread.join(5)
    assert given.is_set()
