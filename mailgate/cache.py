"""A small per-process memory with a time limit, for the SMTP hot path only.

A burst from one sender to one recipient would otherwise ask the database the same questions
(whose redirect address is this? may they write to her? which is her inbox folder?) for every
message. Answers are kept for a few seconds, so a change (suspension, a right removed) reaches
the gateway within `IDENTITY_TTL` seconds; refusals are never kept, and quota is never taken
from here: `routing.deliver` reserves it in SQL for every message. `InFlight` makes the
sessions that miss together (20 of them when an answer expires under a burst) wait for one
query instead of sending one each.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

IDENTITY_TTL = 2.0
FOLDER_TTL = 60.0
_MAX_ENTRIES = 50_000


class TimedCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self.entries: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> Any | None:
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, value: Any) -> None:
        if len(self.entries) >= _MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.ttl, value)

    def get_or(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = compute()
            if value is not None:
                self.put(key, value)
        return value

    def clear(self) -> None:
        self.entries.clear()


class InFlight:
    """One computation per key at a time (asyncio): who asks while it runs gets its answer."""

    def __init__(self):
        self.running: dict[Hashable, asyncio.Future] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        running = self.running.get(key)
        if running is None:
            running = self.running[key] = asyncio.ensure_future(compute())
            running.add_done_callback(lambda _: self.running.pop(key, None))
        return await asyncio.shield(running)
