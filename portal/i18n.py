"""Translation helpers of the portal (Flask-Babel does the translating)."""
from __future__ import annotations

from flask_babel import gettext

from directory.errors import PreauError
from directory.wording import N_, WORDING, Reason

__all__ = ["N_", "said"]


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
