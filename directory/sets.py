"""Statements over many ids or rows, in one round trip and with a handful of parameters.

A thousand ids written as `IN (:p1, …, :p1000)` cost the driver (psycopg converts every
parameter of every statement) and the planner more than the work itself; a thousand rows
inserted with executemany cost a thousand parameter sets. On PostgreSQL these become one
array parameter per column: `col = ANY(:ids)`, `INSERT … SELECT * FROM unnest(:a, :b, …)`,
`UPDATE … FROM unnest(…)`. SQLite has no arrays: there the ids are written as literal
integers (they come from the database, never from a user) and rows go through executemany,
which costs nothing on an in-process database.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from functools import lru_cache

import sqlalchemy as sa
from psycopg.types.numeric import Int4 as PostgresInt4
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .db import db, dialect_name


def _postgresql() -> bool:
    return dialect_name() == "postgresql"


def any_of(column, ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """SQL: `column` is one of the integers `ids`."""
    values = sorted({int(i) for i in ids})
    if _postgresql():
        return column == sa.any_(sa.literal(values, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(bindparam("ids", values, expanding=True, literal_execute=True))


def ids_parameter(column, name: str = "ids") -> sa.ColumnElement[bool]:
    """`any_of` for a statement built once: the ids are its parameter `name` (a list of
    integers) at each execution, not part of the statement. Building a statement and its
    cache key again at every call costs more than running it: the gateway's quota read took
    0.26 ms of CPU a call on PostgreSQL, 0.17 ms built once."""
    if _postgresql():
        return column == sa.any_(bindparam(name, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(bindparam(name, expanding=True, literal_execute=True))


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


_POSTGRESQL = postgresql.dialect()


@lru_cache(maxsize=512)
def _pg_type(column) -> str:
    return column.type.compile(dialect=_POSTGRESQL)


def insert_rows(table: sa.Table, rows: Sequence[dict], *,
                ignore_duplicates: bool = False) -> None:
    """INSERT the rows (dicts with the same keys), on the session's connection."""
    if not rows:
        return
    db.session.flush()
    connection = db.session.connection()
    if not _postgresql():
        statement = table.insert()
        if ignore_duplicates:
            statement = statement.prefix_with("OR IGNORE")
        connection.execute(statement, list(rows))
        return
    names = list(rows[0])
    columns = {name: [_plain(row[name]) for row in rows] for name in names}
    # a value shared by every row (the message, the time…) is one parameter, not an array
    shared = {name for name, values in columns.items() if values.count(values[0]) == len(values)}
    varying = [name for name in names if name not in shared]
    if not varying:
        varying, shared = [names[0]], shared - {names[0]}
    parameters = {f"c{i}": columns[name] for i, name in enumerate(varying)}
    parameters.update({f"s{i}": columns[name][0] for i, name in enumerate(names)
                       if name in shared})
    connection.execute(_insert_statement(table, tuple(names), tuple(varying),
                                         ignore_duplicates), parameters)


@lru_cache(maxsize=256)
def _insert_statement(table: sa.Table, names: tuple[str, ...], varying: tuple[str, ...],
                      ignore_duplicates: bool) -> sa.TextClause:
    """`insert_rows`' statement for these columns, built once: building it anew (the text,
    its parsing for parameters, SQLAlchemy's cache key) was a tenth of its cost."""
    arrays = ", ".join(f"CAST(:c{i} AS {_pg_type(table.c[name])}[])"
                       for i, name in enumerate(varying))
    chosen = ", ".join(f"u.c{varying.index(name)}" if name in varying
                       else f"CAST(:s{i} AS {_pg_type(table.c[name])})"
                       for i, name in enumerate(names))
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT {chosen} FROM unnest({arrays}) '
           f"AS u({', '.join(f'c{i}' for i in range(len(varying)))})")
    if ignore_duplicates:
        sql += " ON CONFLICT DO NOTHING"
    return text(sql)


def add_to(table: sa.Table, key: str, column: str, amounts: dict[int, int]) -> None:
    """`column` += amount for the row whose integer `key` is each key of `amounts`."""
    amounts = {k: v for k, v in amounts.items() if v}
    if not amounts:
        return
    db.session.flush()
    connection = db.session.connection()
    if not _postgresql():
        connection.execute(
            sa.update(table).where(table.c[key] == bindparam("k"))
            .values({column: table.c[column] + bindparam("amount")}),
            [{"k": k, "amount": v} for k, v in amounts.items()])
        return
    keys = sorted(amounts)
    connection.execute(_add_statement(table, key, column),
                       {"keys": keys, "amounts": [amounts[k] for k in keys]})


@lru_cache(maxsize=64)
def _add_statement(table: sa.Table, key: str, column: str) -> sa.TextClause:
    return text(
        f'UPDATE "{table.name}" SET "{column}" = "{column}" + u.amount '
        f"FROM unnest(CAST(:keys AS INTEGER[]), CAST(:amounts AS BIGINT[])) AS u(k, amount) "
        f'WHERE "{table.name}"."{key}" = u.k')


def update_rows(table: sa.Table, rows: Sequence[dict], *, keys: Sequence[str],
                where: dict | None = None, also: dict | None = None) -> None:
    """UPDATE each row found by its integer `keys` (and the shared conditions `where`) with
    its other values, and the shared values `also`: one statement on PostgreSQL."""
    if not rows:
        return
    db.session.flush()
    connection = db.session.connection()
    where, also = where or {}, also or {}
    names = list(rows[0])
    if not _postgresql():
        condition = sa.and_(*[table.c[k] == bindparam(f"k_{k}") for k in keys],
                            *[table.c[k] == v for k, v in where.items()])
        values = {n: bindparam(f"v_{n}") for n in names if n not in keys}
        connection.execute(sa.update(table).where(condition).values({**values, **also}),
                           [{**{f"k_{k}": row[k] for k in keys},
                             **{f"v_{n}": _plain(row[n]) for n in names if n not in keys}}
                            for row in rows])
        return
    connection.execute(
        _update_statement(table, tuple(names), tuple(keys), tuple(where), tuple(also)),
        {**{f"c{i}": [_plain(row[n]) for row in rows] for i, n in enumerate(names)},
         **{f"a_{n}": v for n, v in also.items()}, **{f"w_{k}": v for k, v in where.items()}})


@lru_cache(maxsize=64)
def _update_statement(table: sa.Table, names: tuple[str, ...], keys: tuple[str, ...],
                      where: tuple[str, ...], also: tuple[str, ...]) -> sa.TextClause:
    arrays = ", ".join(f"CAST(:c{i} AS {_pg_type(table.c[n])}[])" for i, n in enumerate(names))
    sets = [f'"{n}" = u.c{i}' for i, n in enumerate(names) if n not in keys]
    sets += [f'"{n}" = CAST(:a_{n} AS {_pg_type(table.c[n])})' for n in also]
    conditions = [f'"{table.name}"."{k}" = u.c{names.index(k)}' for k in keys]
    conditions += [f'"{table.name}"."{k}" = :w_{k}' for k in where]
    return text(
        f'UPDATE "{table.name}" SET {", ".join(sets)} FROM unnest({arrays}) '
        f"AS u({', '.join(f'c{i}' for i in range(len(names)))}) "
        f"WHERE {' AND '.join(conditions)}")


class Int4(sa.types.TypeDecorator):
    """An integer parameter that PostgreSQL always receives as an integer (int4). psycopg
    binds a Python int as a smallint below 32,768 and as an integer above, and prepares a
    statement once per pattern of parameter types: a statement shared by many senders whose
    ids fall on both sides would be prepared, and planned, once per pattern."""

    impl = sa.Integer
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "postgresql":
            return value
        return PostgresInt4(value)


class IdList(sa.types.TypeDecorator):
    """A list of ids bound as one text parameter (see `among`)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        ids = ",".join(str(int(i)) for i in value)
        return f"{{{ids}}}" if dialect.name == "postgresql" else f"[{ids}]"


class among(FunctionElement):
    """`column` is one of the ids bound to `name` (a list of ints), as one parameter whatever
    the list: `= ANY(CAST(… AS INTEGER[]))` on PostgreSQL, `IN (SELECT value FROM
    json_each(…))` on SQLite. An IN of one parameter per id would be prepared by psycopg once
    per list of value types (it binds 7 as a smallint, 70,000 as an integer), each time
    planned anew, unless each is an `Int4`; one text parameter is one prepared statement.
    (PostgreSQL estimates such a list at ten items: where the estimate decides the plan, the
    rights engine binds its short lists one `Int4` per id, see rights.list_slots.)

    Untyped (NullType), not Boolean: SQLite has no boolean, and SQLAlchemy would write a
    Boolean condition as `(… IN …) = 1`, which SQLite's planner does not read as a lookup
    (it scans the table, or walks every name of the region, and tests each row)."""

    inherit_cache = True

    def __init__(self, column, name: str, values: Sequence[int] | None = None, *,
                 unique: bool = False):
        """`values`: the list itself, for a statement run once; without, it is given at each
        run of a statement built once. `unique`: SQLAlchemy names the parameter anew in each
        statement (`name_1`…)."""
        ids = sa.bindparam(name, type_=IdList(), unique=unique) if values is None else \
            sa.bindparam(name, list(values), type_=IdList(), unique=unique)
        super().__init__(column, ids)


@compiles(among, "postgresql")
def _any_of_array(element, compiler, **kw):
    column, ids = element.clauses
    return (f"{compiler.process(column, **kw)} = ANY(CAST({compiler.process(ids, **kw)} "
            f"AS INTEGER[]))")


@compiles(among, "sqlite")
def _in_json_each(element, compiler, **kw):
    column, ids = element.clauses
    return (f"{compiler.process(column, **kw)} IN (SELECT value FROM "
            f"json_each({compiler.process(ids, **kw)}))")


class ids_text(FunctionElement):
    """The ids of a group's rows as one text, separated by spaces (`"12 7 40"`), NULL when
    none: what a page writes into an attribute, aggregated by the database rather than sent
    a row per id. `string_agg` on PostgreSQL, `group_concat` on SQLite; in no given order."""

    type = sa.String()
    inherit_cache = True


@compiles(ids_text, "postgresql")
def _string_agg(element, compiler, **kw):
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ' ')"


@compiles(ids_text, "sqlite")
def _group_concat(element, compiler, **kw):
    return f"group_concat({compiler.process(element.clauses, **kw)}, ' ')"
