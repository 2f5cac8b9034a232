"""One writer process for several gateway processes: `preau mailgate --processes N`.

SQLite has one writer at a time: two gateway processes with a committer each waited 6.8–8.1 ms
per batch for each other's lock, so one process served every session, bound by one core; on
PostgreSQL two committers waited on the same mailbox rows. Here N processes run the SMTP
sessions and their reads, and hand each job over a Unix socket to one writer process, whose
committer (mailgate/committer.py) and indexer (mailgate/indexer.py) write for all of them:
its batches gather the messages of every process, and no two writers wait for each other.

A session answers 250 only after the writer's commit that holds its message has returned. If
the writer dies, the jobs waiting on it fail and their sessions answer 451 (the client sends
the message again); the jobs that come while it is away wait together for one attempt to
reach it again, up to CONNECT_FOR seconds, then answer 451. A job unanswered after ANSWER_WITHIN
seconds (a writer that hangs) is answered 451 too.

Jobs travel pickled, so handlers' functions must be importable by name (module-level). An
author (`Account`) is sent whole the first time, then for IDENTITY_TTL / 2 seconds as its id,
which the writer finds among the accounts it received (pickling an account costs 0.13 ms of
CPU, its id nothing; reading it again from the database, which the writer does only if it
lost it, costs more). The socket sits in a directory only the gateway's user may enter, and
answers only processes that know the writer's secret (SECRET_VARIABLE, drawn by the process
that starts them all), checked before anything is unpickled.
"""
from __future__ import annotations

import asyncio
import hmac
import io
import itertools
import logging
import os
import pickle
import struct
from collections.abc import Callable
from typing import Any

from directory.db import db
from directory.models import Account

from . import identity
from .cache import IDENTITY_TTL, TimedCache
from .committer import settle
from .service import ServiceThread, until_stopped
from .writer import OwnWriter

log = logging.getLogger("preau.mailgate")
SECRET_VARIABLE = "PREAU_WRITER_SECRET"
_HEADER = struct.Struct("!IQ")      # a frame's length, then its job's number
CONNECT_FOR = 30.0
ANSWER_WITHIN = 300.0       # aiosmtpd's own session timeout
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class WriterGone(ConnectionError):
    """The shared writer closed the connection, could not be reached, or did not answer."""


class Outbox:
    """The frames written to one stream in one turn of the event loop, sent together at the
    next: the jobs of sessions that end their DATA at the same moment, and the answers of one
    group commit, go in one system call, which wakes the other side once, instead of one
    each."""

    def __init__(self, stream: asyncio.StreamWriter):
        self.stream = stream
        self.frames: list[bytes] = []

    def put(self, number: int, payload: bytes) -> None:
        if not self.frames:
            asyncio.get_running_loop().call_soon(self.flush)
        self.frames += (_HEADER.pack(len(payload), number), payload)

    def flush(self) -> None:
        frames, self.frames = self.frames, []
        if frames and not self.stream.is_closing():
            self.stream.writelines(frames)


class SharedWriter:
    """The writer process, seen from a gateway process: `run` and `run_many` as the committer's,
    over one connection that many sessions use at once (each job numbered, answered in any
    order). Made and used on the gateway's event loop."""

    def __init__(self, path: str, secret: bytes, connect_for: float = CONNECT_FOR):
        self.path, self.secret, self.connect_for = path, secret, connect_for
        self.numbers = itertools.count()
        self.stream: asyncio.StreamWriter | None = None
        self.outbox: Outbox | None = None
        self.waiting: dict[int, asyncio.Future] = {}     # this connection's jobs
        self.connecting: asyncio.Future | None = None
        self.sent = TimedCache(IDENTITY_TTL / 2)      # accounts sent whole lately, by object

    async def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        return await self._ask(False, function, args, kwargs)

    async def run_many(self, function: Callable[[list], list], item: Any) -> Any:
        return await self._ask(True, function, (item,), {})

    async def _ask(self, many: bool, function, args: tuple, kwargs: dict) -> Any:
        outbox, waiting = await self._connected()
        payload = self._dumps((many, function, args, kwargs))
        number = next(self.numbers)
        loop = asyncio.get_running_loop()
        answer = waiting[number] = loop.create_future()
        expiry = loop.call_later(ANSWER_WITHIN, _fail, answer, "did not answer")
        outbox.put(number, payload)
        try:
            return await answer
        finally:
            expiry.cancel()
            waiting.pop(number, None)

    def _dumps(self, job: tuple) -> bytes:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, _PROTOCOL)
        # Looked up by type in C for every object, where `persistent_id` would be a Python
        # call for each of them.
        pickler.dispatch_table = {Account: self._account}
        pickler.dump(job)
        return out.getvalue()

    def _account(self, account: Account):
        if self.sent.get(id(account)) is account:
            return account_by_id, (account.id,)
        self.sent.put(id(account), account)
        return account_sent_whole, (pickle.dumps(account, _PROTOCOL),)

    async def _connected(self) -> tuple[Outbox, dict[int, asyncio.Future]]:
        if self.stream is None or self.stream.is_closing():
            if self.connecting is None or self.connecting.done():
                self.connecting = asyncio.ensure_future(self._connect())
            # Every job that comes meanwhile waits for this one attempt and its deadline.
            await asyncio.shield(self.connecting)
            # Lost again before this job's turn: the answers of that connection have all
            # been failed already, this one would never come.
            if self.stream.is_closing():
                raise WriterGone("the shared writer went away")
        return self.outbox, self.waiting

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_for
        while True:
            try:
                reader, stream = await asyncio.open_unix_connection(self.path)
                break
            except OSError as error:
                if loop.time() >= deadline:
                    raise WriterGone(f"shared writer unreachable at {self.path}") from error
                await asyncio.sleep(0.1)
        stream.write(self.secret)
        self.stream, self.outbox, self.waiting = stream, Outbox(stream), {}
        self.sent.clear()       # a new writer knows no account yet
        loop.create_task(self._read_answers(reader, stream, self.waiting))

    async def _read_answers(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter,
                            waiting: dict[int, asyncio.Future]) -> None:
        try:
            while True:
                number, payload = await _frame(reader)
                answer = waiting.get(number)
                if answer is None or answer.done():
                    continue
                try:
                    result, error = pickle.loads(payload)
                except Exception as failure:       # an exception this side cannot rebuild
                    result, error = None, failure
                settle(answer, result, error)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            stream.close()
            for answer in list(waiting.values()):
                _fail(answer, "went away")
            waiting.clear()

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _fail(answer: asyncio.Future, why: str) -> None:
    if not answer.done():
        answer.set_exception(WriterGone(f"the shared writer {why}"))


def account_by_id(account_id: int) -> Account:
    """What an account already sent is pickled as; only `_JobReader` reads it."""
    raise pickle.UnpicklingError("an account travels as its id to the shared writer only")


def account_sent_whole(pickled: bytes) -> Account:
    """What an account is pickled as the first time; only `_JobReader` reads it."""
    raise pickle.UnpicklingError("an account travels whole to the shared writer only")


class _JobReader(pickle.Unpickler):
    """Unpickles a job, its accounts through the writer's memory of them."""

    def __init__(self, payload: bytes, server: WriterServer):
        super().__init__(io.BytesIO(payload))
        self.server = server

    def find_class(self, module: str, name: str):
        if module == __name__ and name == account_by_id.__name__:
            return self.server.account
        if module == __name__ and name == account_sent_whole.__name__:
            return self.server.remember_account
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
        self.accounts = TimedCache(IDENTITY_TTL)
        self.readers: set[asyncio.Task] = set()     # one per connection
        self.tasks: set[asyncio.Task] = set()       # one per job
        self.outboxes: dict[asyncio.StreamWriter, Outbox] = {}
        self.server: asyncio.AbstractServer | None = None
        self.stopping = False

    async def start(self) -> None:
        if os.path.exists(self.path):       # left by a writer that was killed
            os.unlink(self.path)
        self.server = await asyncio.start_unix_server(self._serve, path=self.path)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        self.readers.add(asyncio.current_task())
        outbox = self.outboxes[stream] = Outbox(stream)
        try:
            given = await reader.readexactly(len(self.secret))
            if not hmac.compare_digest(given, self.secret):
                log.warning("shared writer: a connection without the secret was closed")
                return
            while True:
                number, payload = await _frame(reader)
                task = asyncio.get_running_loop().create_task(
                    self._answer(outbox, number, payload))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except (asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass        # the peer left, or `stop` stopped reading: answers go on below
        finally:
            self.readers.discard(asyncio.current_task())
            if not self.stopping:       # `stop` closes the streams once all is answered
                self.outboxes.pop(stream, None)
                stream.close()

    def account(self, account_id: int) -> Account:
        """An account a gateway process sent whole lately; else read again (a new writer)."""
        account = self.accounts.get(account_id)
        if account is None:
            with self.app.app_context():
                try:
                    account = identity.author_by_id(account_id)
                finally:
                    db.session.close()
            if account is None:
                raise LookupError(f"account {account_id} is gone")
            self.accounts.put(account_id, account)
        return account

    def remember_account(self, pickled: bytes) -> Account:
        account = pickle.loads(pickled)
        self.accounts.put(account.id, account)
        return account

    async def _answer(self, outbox: Outbox, number: int, payload: bytes) -> None:
        """Run one job and send its result, or the exception that stopped it (its author
        gone, for instance): that session answers 451, the others go on."""
        try:
            many, function, args, kwargs = _JobReader(payload, self).load()
            if many:
                result, error = await self.writer.run_many(function, args[0]), None
            else:
                result, error = await self.writer.run(function, *args, **kwargs), None
        except Exception as failure:
            result, error = None, failure
        try:
            answer = pickle.dumps((result, error), _PROTOCOL)
        except Exception:
            answer = pickle.dumps((None, RuntimeError(repr(error or result))), _PROTOCOL)
        outbox.put(number, answer)

    async def stop(self) -> None:
        """No new job is read; those read are committed and answered; then the connections
        are closed (a session whose job was cut short answers 451, nothing is stored)."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
        for reading in list(self.readers):
            reading.cancel()
        if self.readers:
            await asyncio.wait(list(self.readers), timeout=5)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=30)
        for stream, outbox in self.outboxes.items():
            outbox.flush()
            stream.close()
        if self.server is not None:
            await self.server.wait_closed()
        self.writer.stop()
        if os.path.exists(self.path):
            os.unlink(self.path)


def secret_from_environment() -> bytes:
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < 32:
        raise RuntimeError(f"{SECRET_VARIABLE} must hold the shared writer's secret")
    return secret.encode()


def run_writer(app, path: str) -> None:
    """The shared writer process until SIGTERM or Ctrl-C."""
    until_stopped(lambda: WriterServer(app, path, secret_from_environment()),
                  f"[mailgate] écrivain partagé à l'écoute sur {path}")


class WriterThread(ServiceThread):
    """The shared writer on its own loop in a thread of this process (tests)."""

    def __init__(self, app, path: str, secret: bytes):
        self.server = WriterServer(app, path, secret)
        super().__init__(self.server, "preau-writer")
