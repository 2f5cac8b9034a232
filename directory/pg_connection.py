"""The psycopg connection Préau opens on PostgreSQL: statements stay prepared across ROLLBACK.

psycopg prepares a statement on the server once a connection has run it a few times, so the
server stops parsing and planning it (the Annuaire's search statement on 473,764 accounts:
0.8 ms of planning for 2.1 ms of execution). But psycopg forgets everything it prepared at each ROLLBACK, in case the
transaction dropped or recreated an object a statement refers to; and every request that only
read ends with a ROLLBACK (its session closing). So the statements of the search pages were
never prepared: each request parsed and planned them again.

Préau changes the schema only in migrations, which commit. A ROLLBACK of a healthy
transaction is therefore sent here without clearing psycopg's cache; PostgreSQL keeps prepared
statements across it (PREPARE is not transactional) and replans one whose tables changed. A
transaction in error, or in pipeline mode, goes through psycopg's own rollback, which forgets.
"""
from __future__ import annotations

import psycopg
from psycopg.pq import ExecStatus, PipelineStatus, TransactionStatus
from sqlalchemy import event


class KeepsPrepared(psycopg.Connection):
    def rollback(self) -> None:
        if (self.info.transaction_status != TransactionStatus.INTRANS
                or self.info.pipeline_status != PipelineStatus.OFF):
            super().rollback()
            return
        with self.lock:
            result = self.pgconn.exec_(b"ROLLBACK")
        if result.status != ExecStatus.COMMAND_OK:
            raise psycopg.OperationalError(
                "ROLLBACK failed: " + self.pgconn.error_message.decode(errors="replace"))


def keep_prepared_statements(engine) -> None:
    """Make `engine` open its connections as `KeepsPrepared`."""

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return KeepsPrepared.connect(*cargs, **cparams)
