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

import sqlalchemy as sa
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql

from .db import db


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def any_of(column, ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """SQL: `column` is one of the integers `ids`."""
    values = sorted({int(i) for i in ids})
    if _postgresql():
        return column == sa.any_(sa.literal(values, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(bindparam("ids", values, expanding=True, literal_execute=True))


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


def _pg_type(column) -> str:
    return column.type.compile(dialect=postgresql.dialect())


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
    arrays = ", ".join(f"CAST(:c{i} AS {_pg_type(table.c[name])}[])"
                       for i, name in enumerate(names))
    sql = (f'INSERT INTO "{table.name}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
           f"SELECT * FROM unnest({arrays})")
    if ignore_duplicates:
        sql += " ON CONFLICT DO NOTHING"
    connection.execute(text(sql), {f"c{i}": [_plain(row[name]) for row in rows]
                                   for i, name in enumerate(names)})


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
    connection.execute(text(
        f'UPDATE "{table.name}" SET "{column}" = "{column}" + u.amount '
        f"FROM unnest(CAST(:keys AS INTEGER[]), CAST(:amounts AS BIGINT[])) AS u(k, amount) "
        f'WHERE "{table.name}"."{key}" = u.k'),
        {"keys": keys, "amounts": [amounts[k] for k in keys]})
