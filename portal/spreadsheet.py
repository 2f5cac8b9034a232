"""CSV files that a spreadsheet opens as is: UTF-8 with a BOM (Excel reads the accents),
semicolons (the French Excel's separator), and no cell read as a formula (CSV injection)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context
from sqlalchemy import Select, tuple_

from directory.db import db


def in_chunks(query: Select, order: Sequence, size: int) -> Iterator[list]:
    """The rows of `query`, in the order of `order` (columns it selects, naming one row),
    `size` at a time: each chunk is one statement starting after the last row of the one
    before, so no cursor stays open while a file downloads (Flask ends the request's
    transaction when the view returns). The first chunk is read at once, so an error there
    is still an error page. Not one snapshot: a row written meanwhile may be missed or read
    twice."""
    query = query.order_by(None).order_by(*order)
    first = db.session.execute(query.limit(size)).all()

    def chunks() -> Iterator[list]:
        chunk = first
        while chunk:
            yield chunk
            if len(chunk) < size:
                return
            last = tuple(getattr(chunk[-1], column.key) for column in order)
            chunk = db.session.execute(query.where(tuple_(*order) > last).limit(size)).all()
            db.session.rollback()   # read: no transaction stays open while the file goes

    return chunks()


def cell(text: str) -> str:
    """A spreadsheet must not read a name or a comment as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(header: Sequence[str], rows: Iterable[Sequence[str]], filename: str) -> Response:
    return Response("\ufeff" + _lines([header, *rows]), mimetype="text/csv",
                    headers=_attachment(filename))


def csv_stream(header: Sequence[str], chunks: Iterable[Iterable[Sequence[str]]],
               filename: str) -> Response:
    """The same file written while `chunks` (lists of rows) are read: however many rows, the
    process holds one chunk at a time. Once the answer has begun, an error cannot change its
    status: the download is cut short, which the browser reports as failed. So a caller
    reads its first chunk before calling this: an error there is still an error page."""
    def parts() -> Iterator[str]:
        yield "\ufeff" + _lines([header])
        for rows in chunks:
            yield _lines(rows)

    return Response(stream_with_context(parts()), mimetype="text/csv",
                    headers=_attachment(filename))


def _lines(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([cell(str(value)) for value in row]
                                             for row in rows)
    return out.getvalue()


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
