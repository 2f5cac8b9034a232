"""SELECTs run on the driver's own cursor: the few statements every directory search runs.

Executing a Core statement through SQLAlchemy costs more client CPU than its round trip on a
search page: at each run the statement's cache key is walked, an execution context built, the
result's metadata read from the cursor's description (psycopg makes a Column object per column
and per run) and each row passed through the result's machinery. A statement built once and
run thousands of times does that work once here: `DriverRead` keeps the SQL text, the order of
its parameters and the conversions its types apply to parameters and columns, taken from a
compilation of its own (the signed-in account, the picker's own groups) or from SQLAlchemy's
first run of it (a search page's statements, portal/people_statements.py), and runs it on the
DBAPI cursor of the session's connection. In process, on PostgreSQL, a search's two statements
went from 0.23 and 0.35 ms of CPU to 0.13 and 0.22 ms.

What SQLAlchemy does around a statement still happens: the engine's before_cursor_execute
and after_cursor_execute listeners see it (portal/reads_only.py turns autocommit off before a
write, the tests count statements), a driver error is raised as SQLAlchemy's (`DBAPIError`,
`OperationalError`…) and a connection found dead is invalidated, so that the pool replaces
it.
"""
from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy import exc


class DriverRead:
    """One SELECT for one database; `rows()` runs it with the values of its bound parameters
    that have none in the statement (a typed name, a list of ids). Built by compiling the
    statement (`compiled`: for a statement built once per process), or from SQLAlchemy's own
    execution of it (`of_execution`: nothing compiled again)."""

    def __init__(self, statement: sa.Select, dialect, sql: str, runtime: list[str],
                 runtime_types: dict, constants: dict, names: tuple[str, ...] | None):
        self._dialect = dialect
        self.sql = sql
        self._runtime = tuple((name, _processor(runtime_types[name], dialect))
                              for name in runtime)
        self._constants = constants
        self._names = names
        columns = list(statement.selected_columns)
        self._results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                              for column in columns)
        self._convert = any(self._results)
        self._row = namedtuple("Row", [column.key for column in columns])

    @classmethod
    def compiled(cls, statement: sa.Select, dialect) -> DriverRead:
        """Compile `statement` for `dialect` (a few milliseconds: once per process)."""
        first = statement.compile(dialect=dialect)
        runtime = _runtime_names(first)
        # The values written in the statement (limits, the lists of an IN) are bound once
        # here, each list as one parameter per item (`render_postcompile`).
        compiled = statement.params({name: None for name in runtime}).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True})
        if compiled.escaped_bind_names:
            raise ValueError("DriverRead takes no parameter whose name must be escaped")
        binds = compiled.binds
        constants = {name: _processed(_bind_of(binds, name).type, dialect, value)
                     for name, value in compiled.construct_params().items()
                     if name not in runtime}
        return cls(statement, dialect, compiled.string, runtime,
                   {name: binds[name].type for name in runtime}, constants,
                   tuple(compiled.positiontup) if compiled.positiontup else None)

    @classmethod
    def of_execution(cls, result: sa.CursorResult, statement: sa.Select) -> DriverRead | None:
        """The read of `statement` as SQLAlchemy has just run it (`result`): its SQL and its
        parameters as sent to the driver, the constant ones kept, the others bound again at
        each run. Nothing is compiled: SQLAlchemy compiled the statement, or found it in its
        cache under the same structure with other values, which building a DriverRead by
        compiling would not (5 to 15 ms for a search page's statements). None where the
        driver takes its parameters by position (SQLite): their order after the lists of
        an IN are expanded is SQLAlchemy's own business."""
        context = result.context
        sent = context.parameters[0] if context.parameters else {}
        if not isinstance(sent, Mapping) or context.compiled is None:
            return None
        binds = context.compiled.binds
        try:
            runtime = _runtime_names(context.compiled)
        except ValueError:          # such a statement stays SQLAlchemy's to run
            return None
        constants = {name: value for name, value in sent.items() if name not in runtime}
        return cls(statement, context.dialect, context.statement, runtime,
                   {name: binds[name].type for name in runtime}, constants, None)

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
            with contextlib.suppress(self._dialect.loaded_dbapi.Error):
                cursor.close()      # SQLite's, once its connection is invalidated, raises
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



def _runtime_names(compiled) -> list[str]:
    """The parameters without a value in the statement, bound at each run. A value computed
    at each execution (`callable_`) or a list expanded at each run would make each run
    another statement: refused."""
    runtime = []
    for name, bind in compiled.binds.items():
        if bind.callable is not None:
            raise ValueError(f"{name}: a value computed at each execution")
        if bind.required:
            if bind.expanding:
                raise ValueError("a list bound at each run would be a new statement each "
                                 "time: bind it as one parameter (directory.sets.among)")
            runtime.append(name)
    return runtime


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


class KeptStatement:
    """A statement built once (per shape of page, of rule) and run many times with other values. Its
    first run on a database goes through SQLAlchemy, which compiles it or finds it in its
    cache (statements that differ only in their values share one compilation, where compiling
    a DriverRead of its own would cost 5 to 15 ms); on PostgreSQL the next runs go on the
    driver's cursor as that first run was sent (`DriverRead.of_execution`). On SQLite every
    run stays SQLAlchemy's."""

    def __init__(self, statement: sa.Select):
        self.statement = statement
        self._reads: dict[str, DriverRead | bool] = {}

    def rows(self, connection: sa.Connection, params: Mapping) -> list:
        """The rows, with attribute access by column name."""
        database = connection.dialect.name
        read = self._reads.get(database)
        if read:
            return read.rows(connection, params)
        result = connection.execute(self.statement, params)
        rows = result.all()
        if read is None:
            self._reads[database] = DriverRead.of_execution(result, self.statement) or False
        return rows


def flushed_connection(session) -> sa.Connection:
    """The (scoped) session's connection, its pending changes flushed first as an ORM query
    would (`Session._autoflush`: not in `no_autoflush`, not while flushing): a read on the
    driver's cursor then sees them."""
    session()._autoflush()
    return session.connection()


def kept_per_database(build: Callable[[], sa.Select]) -> Callable[[object], DriverRead]:
    """`read(dialect)`: `DriverRead.compiled(build(), dialect)`, compiled once per database
    (for a statement every request runs)."""
    kept: dict[str, DriverRead] = {}

    def read(dialect) -> DriverRead:
        found = kept.get(dialect.name)
        if found is None:
            found = kept[dialect.name] = DriverRead.compiled(build(), dialect)
        return found

    return read
