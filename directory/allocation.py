"""Handing out unique names in bulk: logins and universal addresses (SPEC §1, §8).

A name wished for (`base`) that is taken gets the first free number: `base2`, `base3`…
Taken variants are read with one query per 200 bases, each base a range of its index
(`column >= base||'0' AND column < base||':'` holds every `base` followed by a digit), so a
file of ten thousand people costs fifty queries, never one per person nor a scan of the region.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select

from .naming import with_suffix

CHUNK = 200


def taken_variants(column, bases: Sequence[str]) -> set[str]:
    """The values of `column` that are one of `bases` or one of them followed by digits."""
    from .db import db

    distinct = sorted(set(bases))
    taken: set[str] = set()
    for start in range(0, len(distinct), CHUNK):
        chunk = distinct[start:start + CHUNK]
        ranges = [and_(column >= base + "0", column < base + ":") for base in chunk]
        taken.update(db.session.scalars(select(column).where(or_(column.in_(chunk), *ranges))))
    return taken


def next_free(bases: Sequence[str], taken: set[str]) -> list[str]:
    """For each base in order, the first of `base`, `base2`… neither taken nor given to an
    earlier base of the list (`taken` grows with what is handed out)."""
    cursor: dict[str, int] = {}
    result = []
    for base in bases:
        n = cursor.get(base, 1)
        while with_suffix(base, n) in taken:
            n += 1
        value = with_suffix(base, n)
        taken.add(value)
        cursor[base] = n + 1
        result.append(value)
    return result


def allocate(column, bases: Sequence[str]) -> list[str]:
    return next_free(bases, taken_variants(column, bases))
