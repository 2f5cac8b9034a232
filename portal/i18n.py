"""Translation helpers of the portal (Flask-Babel does the translating)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext

from directory.clock import local_time
from directory.errors import PreauError
from directory.wording import N_, WORDING, Reason

__all__ = ["N_", "day_at_time", "said"]


def day_at_time(when: datetime) -> str:
    """A moment the database keeps (naive UTC) as its reader reads it, in the portal's time
    zone: « 12/05/2026 à 08:00 », « 12/05/2026 at 08:00 »."""
    local = local_time(when)
    return gettext("%(day)s à %(time)s", day=f"{local:%d/%m/%Y}", time=f"{local:%H:%M}")


def said(what: Reason | PreauError | str | None) -> str:
    """A reason of the business packages, or the error carrying it, in the reader's
    language (directory/wording.py holds the French text, the catalog entry)."""
    if isinstance(what, PreauError):
        what = what.why or what.message
    if isinstance(what, Reason):
        params = {name: said(value) if isinstance(value, Reason) else value
                  for name, value in what.params.items()}
        return gettext(WORDING[what.code], **params)
    return what or ""
