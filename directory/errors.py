"""Errors a user can cause, each carrying a French message for the adapter to show."""
from __future__ import annotations

from typing import Any

from .wording import Reason


class PreauError(Exception):
    """Base of the errors we turn into a form error, a 4xx page, an SMTP reply or a CLI line.

    Built from a French sentence, or from a `Reason` (a code of directory/wording.py and
    its parameters) that the web words in the reader's language (`portal.i18n.said`)."""

    def __init__(self, message: str | Reason):
        self.why = message if isinstance(message, Reason) else None
        self.message = str(message)
        super().__init__(self.message)

    @classmethod
    def of(cls, code: str, **params: Any) -> PreauError:
        """The error for a code of directory/wording.py."""
        return cls(Reason(code, params))


class NotFound(PreauError):
    pass


class InvalidInput(PreauError):
    pass
