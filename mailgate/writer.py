"""Who writes a gateway process's messages: its own committer and indexer (`OwnWriter`), or
one writer process shared by several gateway processes (mailgate/shared_writer.py), which
runs an `OwnWriter` for all of them. Either way a session answers 250 only after the commit
that holds its message has returned."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from directory.db import db, dialect_name

from . import indexer, store
from .committer import Committer
from .routing import RoutingResult
from .turns import Turns, no_turns


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
