"""An asyncio service (an object with `async start()` and `async stop()`: the SMTP gateway,
the shared writer) run for the life of a process, or in a thread of this process (tests,
`preau serve`), on uvloop where it is installed."""
from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Protocol

try:  # libuv's event loop, a drop-in for asyncio's (not built for Windows)
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

from directory.heap import settle


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def until_stopped(make: Callable[[], Service], banner: str) -> None:
    """The service `make()` returns, until SIGTERM or Ctrl-C."""
    async def main():
        service = make()
        settle()        # before the first session: the collection takes a while
        await service.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(banner, flush=True)
        await stop.wait()
        await service.stop()

    (uvloop.run if uvloop is not None else asyncio.run)(main())


class ServiceThread:
    """`service` on its own loop in a thread of this process."""

    def __init__(self, service: Service, name: str):
        self.service = service
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
