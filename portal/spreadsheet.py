"""CSV files that a spreadsheet opens as is: UTF-8 with a BOM (Excel reads the accents),
semicolons (the French Excel's separator), and no cell read as a formula (CSV injection)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response


def cell(text: str) -> str:
    """A spreadsheet must not read a name or a comment as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(header: Sequence[str], rows: Iterable[Sequence[str]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    writer.writerows([cell(str(value)) for value in row] for row in rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
