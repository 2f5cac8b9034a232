"""SELECTs run on the driver's own cursor: the few statements every directory search runs.

Executing a Core statement through SQLAlchemy costs more client CPU than its round trip on a
search page: at each run the statement's cache key is walked, an execution context built, the
result's metadata read from the cursor's description (psycopg makes a Column object per column
and per run) and each row passed through the result's machinery. A statement built once and
run thousands of times (portal/people_statements.py) does that work once here: `DriverRead`
compiles it for a database, keeps the SQL text, the order of its parameters and the
conversions its types apply to parameters and columns, and runs it on the DBAPI cursor of the
session's connection. In process, on PostgreSQL, a search's two statements went from 0.23 and
0.35 ms of CPU to 0.13 and 0.22 ms.

What SQLAlchemy does around a statement still happens: the engine's before_cursor_execute
and after_cursor_execute listeners see it (portal/reads_only.py turns autocommit off before a
write, the tests count statements), a driver error is raised as SQLAlchemy's (`DBAPIError`,
`OperationalError`…) and a connection found dead is invalidated, so that the pool replaces
it.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import exc


class DriverRead:
    """One SELECT compiled for one database (`dialect`); `rows()` runs it with the values of
    its bound parameters that have none in the statement (a typed name, a list of ids)."""

    def __init__(self, statement: sa.Select, dialect):
        self._dialect = dialect
        first = statement.compile(dialect=dialect)
        runtime = [name for name, bind in first.binds.items() if bind.required]
        if any(first.binds[name].expanding for name in runtime):
            raise ValueError("a list bound at each run would be a new statement each time: "
                             "bind it as one parameter (directory.search.among)")
        # The values written in the statement (limits, the lists of an IN) are bound once
        # here, each list as one parameter per item (`render_postcompile`).
        compiled = statement.params({name: None for name in runtime}).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True})
        if compiled.escaped_bind_names:
            raise ValueError("DriverRead takes no parameter whose name must be escaped")
        self.sql = compiled.string
        binds = compiled.binds
        self._runtime = tuple((name, _processor(binds[name].type, dialect))
                              for name in runtime)
        self._constants = {name: _processed(_bind_of(binds, name).type, dialect, value)
                           for name, value in compiled.construct_params().items()
                           if name not in runtime}
        self._names = tuple(compiled.positiontup) if compiled.positiontup else None
        columns = list(statement.selected_columns)
        self._results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                              for column in columns)
        self._convert = any(self._results)
        self._row = namedtuple("Row", [column.key for column in columns], rename=True)

    def rows(self, connection: sa.Connection, params: Mapping) -> list:
        """The rows of the statement with these parameters, as named tuples."""
        values = dict(self._constants)
        for name, processor in self._runtime:
            values[name] = params[name] if processor is None else processor(params[name])
        bound = values if self._names is None else tuple(values[n] for n in self._names)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, self.sql, bound, None, False)
            try:
                cursor.execute(self.sql, bound)
                for listener in connection.dispatch.after_cursor_execute:
                    listener(connection, cursor, self.sql, bound, None, False)
                found = cursor.fetchall()
            except self._dialect.loaded_dbapi.Error as error:
                raise self._wrapped(connection, cursor, bound, error) from error
        finally:
            cursor.close()
        make = self._row._make
        if not self._convert:
            return [make(row) for row in found]
        results = self._results
        return [make([value if convert is None or value is None else convert(value)
                      for convert, value in zip(results, row, strict=True)]) for row in found]

    def scalars(self, connection: sa.Connection, params: Mapping) -> list:
        """The first column of each row."""
        return [row[0] for row in self.rows(connection, params)]

    def _wrapped(self, connection, cursor, bound, error) -> exc.DBAPIError:
        dead = self._dialect.is_disconnect(error, connection.connection.dbapi_connection,
                                           cursor)
        if dead:
            connection.invalidate(error)
        return exc.DBAPIError.instance(self.sql, bound, error, self._dialect.loaded_dbapi.Error,
                                       connection_invalidated=dead, dialect=self._dialect)



def _processor(type_, dialect):
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _processed(type_, dialect, value):
    processor = _processor(type_, dialect)
    return value if processor is None else processor(value)


def _bind_of(binds, name: str):
    """The bound parameter of `name`, or of the list it is an item of (`name_3`: the third
    item of the list `name`, rendered by render_postcompile)."""
    if name in binds:
        return binds[name]
    base, _, position = name.rpartition("_")
    if position.isdigit() and base in binds and binds[base].expanding:
        return binds[base]
    raise ValueError(f"no bound parameter for {name}")
