"""How the Messagerie writes dates and sizes: times in the readers' time zone (the database
keeps naive UTC; `directory.clock.local_time` converts), sizes in Ko and Mo with a French decimal comma (KB and MB with a point in
English)."""
from __future__ import annotations

from datetime import datetime
from email.utils import getaddresses
from math import ceil

from babel.numbers import format_decimal
from flask_babel import get_locale, gettext

from directory.clock import local_time, utcnow

KB, MB = 1024, 1024 * 1024


def list_date(when: datetime, now: datetime | None = None) -> str:
    """Time today, date otherwise."""
    when, today = local_time(when), local_time(now or utcnow()).date()
    return when.strftime("%H:%M") if when.date() == today else when.strftime("%d/%m/%Y")


def full_date(when: datetime) -> str:
    return local_time(when).strftime("%d/%m/%Y %H:%M")


def size_kb(size: int) -> str:
    return gettext("%(size)s Ko", size=max(1, ceil(size / KB)))


def size_text(size: int) -> str:
    """'22 Ko' below one megabyte, '3,2 Mo' above, '45 Mo' when round."""
    if size < MB:
        return gettext("%(size)s Ko", size=ceil(size / KB))
    text = format_decimal(round(size / MB, 1), "0.#", locale=get_locale() or "fr")
    return gettext("%(size)s Mo", size=text)


def names(addresses: str, limit: int = 3) -> str:
    """'Zoé Le Gall <zoe.le-gall@…>, Lucas Martin <…>' → 'Zoé Le Gall, Lucas Martin' (the
    first `limit`, then "+N")."""
    people = [name or address for name, address in getaddresses([addresses]) if address]
    shown = ", ".join(people[:limit])
    return shown + (f" +{len(people) - limit}" if len(people) > limit else "")
