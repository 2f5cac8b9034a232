"""Universal address allocation: once, never reused (SPEC §1)."""
from __future__ import annotations

from sqlalchemy import select

from .db import db
from .models import AllocatedAddress
from .naming import address_base, with_suffix


def allocate_address(first_name: str, last_name: str) -> str:
    """Reserve the next free local part for this name in the current transaction.

    One query reads every taken variant of the base (`base`, `base2`, …), so the cost does not
    grow with the number of homonyms looked at one by one.
    """
    base = address_base(first_name, last_name)
    taken = set(db.session.scalars(
        select(AllocatedAddress.local_part).where(
            (AllocatedAddress.local_part == base)
            | AllocatedAddress.local_part.like(_escape_like(base) + "%", escape="\\"))
    ))
    n = 1
    while with_suffix(base, n) in taken:
        n += 1
    local = with_suffix(base, n)
    db.session.add(AllocatedAddress(local_part=local))
    return local


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
