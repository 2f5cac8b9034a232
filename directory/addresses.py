"""Universal address allocation: once, never reused (SPEC §1)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert

from .allocation import allocate
from .clock import utcnow
from .db import db
from .models import AllocatedAddress
from .naming import address_base


def allocate_address(first_name: str, last_name: str) -> str:
    """Reserve the next free local part for this name in the current transaction."""
    return allocate_addresses([(first_name, last_name)])[0]


def allocate_addresses(names: Sequence[tuple[str, str]]) -> list[str]:
    """Reserve one local part for each (first name, last name), in order, in one INSERT.

    Every variant ever given out stays in allocated_address, so the first free number is one
    that nobody ever had."""
    if not names:
        return []
    locals_ = allocate(AllocatedAddress.local_part,
                       [address_base(first, last) for first, last in names])
    now = utcnow()
    db.session.execute(insert(AllocatedAddress),
                       [{"local_part": local, "allocated_at": now} for local in locals_])
    return locals_
