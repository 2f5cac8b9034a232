"""Who writes a gateway process's messages: its own committer, or one writer process shared by
several gateway processes.

SQLite has one writer at a time. Two gateway processes with a committer each waited 6.8–8.1 ms
per batch for each other's lock, so on SQLite one process served every session, bound by one
core while the sessions, the committer and the indexer shared its interpreter. With a shared
writer (`preau mailgate --processes N` on SQLite), N processes run the SMTP sessions and their
reads, and hand each job over a Unix socket to one writer process, whose committer
(mailgate/committer.py) and indexer (mailgate/indexer.py) write for all of them: its batches
gather the messages of every process, and no two writers wait for each other.

A session still answers 250 only after the writer's commit that holds its message returned.
If the writer dies, the jobs waiting on it fail, the sessions answer 451 (the client sends the
message again), and the next job connects again once the writer is back.

Jobs travel pickled, their authors (`Account`) as their ids: the writer reads each once per
`IDENTITY_TTL` (pickling the account itself cost 0.09 ms of CPU a message). The socket answers only processes that know the writer's secret
(`SECRET_VARIABLE`, set by the process that starts them all), checked before anything is
unpickled; the socket itself sits in a directory only its user may enter.
"""
from __future__ import annotations

import asyncio
import hmac
import io
import itertools
import logging
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from directory.db import db, dialect_name
from directory.models import Account

from . import identity, indexer, store
from .cache import IDENTITY_TTL, TimedCache
from .committer import Committer
from .routing import RoutingResult
from .turns import Turns, no_turns

log = logging.getLogger("preau.mailgate")
SECRET_VARIABLE = "PREAU_WRITER_SECRET"
_HEADER = struct.Struct("!IQ")      # a frame's length, then its job's number
CONNECT_FOR = 30.0      # seconds a job waits for the writer to (re)start before failing


class WriterGone(ConnectionError):
    """The shared writer closed the connection, or could not be reached."""


def durable_sqlite(app) -> None:
    """On SQLite the writer's connections use synchronous=FULL: a message answered 250
    survives a power cut, not only a crash (the indexer's transactions excepted: what they
    write is derived from the message)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _full_sync):
        return
    event.listen(engine, "connect", _full_sync)
    event.listen(engine, "checkout", _sync_level)   # out of any transaction, as SQLite wants
    engine.dispose()


def _full_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def _sync_level(dbapi_connection, _record, _proxy) -> None:
    """FULL (a 250 survives a power cut), except for the indexer's transactions, whose
    writes can be derived again from the message (a lost one leaves it unindexed, and it is
    indexed again): their commits need not wait for the disk."""
    level = "NORMAL" if indexer.DERIVED_WRITES.get() else "FULL"
    dbapi_connection.execute(f"PRAGMA synchronous={level}")


class OwnWriter:
    """This process's committer and indexer thread: the committer hands each committed
    batch's stored messages to the indexer."""

    def __init__(self, app):
        durable_sqlite(app)
        store.remember_folders(app)
        with app.app_context():
            turn = Turns() if dialect_name() == "sqlite" else no_turns
        self.indexer = indexer.Indexer(app, turn=turn)
        self.committer = Committer(app, after_commit=self._index, turn=turn)

    def _index(self, results: list) -> None:
        self.indexer.add(r.message_id for r in results
                         if isinstance(r, RoutingResult) and r.message_id)

    async def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        return await self.committer.run(function, *args, **kwargs)

    async def run_many(self, function: Callable[[list], list], item: Any) -> Any:
        return await self.committer.run_many(function, item)

    def stop(self) -> None:
        self.committer.stop()
        self.indexer.stop()


class SharedWriter:
    """The writer process, seen from a gateway process: `run` and `run_many` as the committer's,
    over one connection that many sessions use at once (each job numbered, answered in any
    order). Made and used on the gateway's event loop."""

    def __init__(self, path: str, secret: bytes, connect_for: float = CONNECT_FOR):
        self.path, self.secret, self.connect_for = path, secret, connect_for
        self.numbers = itertools.count()
        self.waiting: dict[int, asyncio.Future] = {}
        self.stream: asyncio.StreamWriter | None = None
        self.connecting: asyncio.Lock | None = None

    async def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        return await self._ask(False, function, args, kwargs)

    async def run_many(self, function: Callable[[list], list], item: Any) -> Any:
        return await self._ask(True, function, (item,), {})

    async def _ask(self, many: bool, function, args: tuple, kwargs: dict) -> Any:
        stream = await self._connected()
        number = next(self.numbers)
        answer = self.waiting[number] = asyncio.get_running_loop().create_future()
        payload = _dumps((many, function, args, kwargs))
        stream.writelines((_HEADER.pack(len(payload), number), payload))
        try:
            return await answer
        finally:
            self.waiting.pop(number, None)

    async def _connected(self) -> asyncio.StreamWriter:
        if self.connecting is None:
            self.connecting = asyncio.Lock()
        async with self.connecting:
            if self.stream is None or self.stream.is_closing():
                reader, self.stream = await self._connect()
                self.stream.write(self.secret)
                asyncio.get_running_loop().create_task(self._read_answers(reader, self.stream))
            return self.stream

    async def _connect(self):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_for
        while True:
            try:
                return await asyncio.open_unix_connection(self.path)
            except OSError as error:
                if loop.time() >= deadline:
                    raise WriterGone(f"shared writer unreachable at {self.path}") from error
                await asyncio.sleep(0.1)

    async def _read_answers(self, reader: asyncio.StreamReader,
                            stream: asyncio.StreamWriter) -> None:
        try:
            while True:
                number, payload = await _frame(reader)
                answer = self.waiting.get(number)
                if answer is None or answer.done():
                    continue
                try:
                    result, error = pickle.loads(payload)
                except Exception as failure:       # an exception this side cannot rebuild
                    result, error = None, failure
                if error is not None:
                    answer.set_exception(error)
                else:
                    answer.set_result(result)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            stream.close()
            for answer in list(self.waiting.values()):
                if not answer.done():
                    answer.set_exception(WriterGone("the shared writer went away"))
            self.waiting.clear()

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _dumps(job: tuple) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    # Looked up by type in C for every object, where `persistent_id` would be a Python call
    # for each of them (20 µs a message).
    pickler.dispatch_table = _AS_IDS
    pickler.dump(job)
    return out.getvalue()


def account_by_id(account_id: int) -> Account:
    """What an `Account` is pickled as; only `_AccountsFromIds` knows where to read it."""
    raise pickle.UnpicklingError("an account travels as its id to the shared writer only")


_AS_IDS = {Account: lambda account: (account_by_id, (account.id,))}


class _AccountsFromIds(pickle.Unpickler):
    def __init__(self, payload: bytes, accounts: Callable[[int], Account]):
        super().__init__(io.BytesIO(payload))
        self.accounts = accounts

    def find_class(self, module: str, name: str):
        if module == __name__ and name == account_by_id.__name__:
            return self.accounts
        return super().find_class(module, name)


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """A job's number and its pickle."""
    length, number = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return number, await reader.readexactly(length)


class WriterServer:
    """The writer process's side: every gateway process's jobs, run by one `OwnWriter`."""

    def __init__(self, app, path: str, secret: bytes):
        self.app, self.path, self.secret = app, path, secret
        self.writer = OwnWriter(app)
        self.authors = TimedCache(IDENTITY_TTL)
        self.tasks: set[asyncio.Task] = set()
        self.streams: set[asyncio.StreamWriter] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if os.path.exists(self.path):       # left by a writer that was killed
            os.unlink(self.path)
        self.server = await asyncio.start_unix_server(self._serve, path=self.path)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        self.streams.add(stream)
        try:
            given = await reader.readexactly(len(self.secret))
            if not hmac.compare_digest(given, self.secret):
                log.warning("shared writer: a connection without the secret was closed")
                return
            while True:
                number, payload = await _frame(reader)
                task = asyncio.get_running_loop().create_task(
                    self._answer(stream, number, payload))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self.streams.discard(stream)
            stream.close()

    def _author(self, account_id: int) -> Account:
        author = self.authors.get(account_id)
        if author is None:
            with self.app.app_context():
                try:
                    author = identity.author_by_id(account_id)
                finally:
                    db.session.close()
            if author is None:
                raise LookupError(f"account {account_id} is gone")
            self.authors.put(account_id, author)
        return author

    async def _answer(self, stream: asyncio.StreamWriter, number: int, payload: bytes) -> None:
        """Run one job and send its result, or the exception that stopped it (its author
        gone, for instance): that session answers 451, the others go on."""
        try:
            many, function, args, kwargs = _AccountsFromIds(payload, self._author).load()
            if many:
                result, error = await self.writer.run_many(function, args[0]), None
            else:
                result, error = await self.writer.run(function, *args, **kwargs), None
        except Exception as failure:
            result, error = None, failure
        try:
            answer = pickle.dumps((result, error), pickle.HIGHEST_PROTOCOL)
        except Exception:
            answer = pickle.dumps((None, RuntimeError(repr(error or result))),
                                  pickle.HIGHEST_PROTOCOL)
        if not stream.is_closing():
            stream.writelines((_HEADER.pack(len(answer), number), answer))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=30)
        for stream in list(self.streams):
            stream.close()
        self.writer.stop()
        if os.path.exists(self.path):
            os.unlink(self.path)


def secret_from_environment() -> bytes:
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < 32:
        raise RuntimeError(f"{SECRET_VARIABLE} must hold the shared writer's secret")
    return secret.encode()


def run(app, path: str) -> None:
    """The shared writer process until SIGTERM or Ctrl-C."""
    from .gateway import event_loop_runner, settle

    async def main():
        server = WriterServer(app, path, secret_from_environment())
        settle()
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"[mailgate] écrivain partagé à l'écoute sur {path}", flush=True)
        await stop.wait()
        await server.stop()

    event_loop_runner()(main())


class WriterThread:
    """The shared writer on its own loop in a thread of this process (tests)."""

    def __init__(self, app, path: str, secret: bytes):
        from .gateway import new_event_loop

        self.server = WriterServer(app, path, secret)
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="preau-writer",
                                       daemon=True)

    def start(self) -> WriterThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
