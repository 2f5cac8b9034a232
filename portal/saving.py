"""Saving a change from a view: run it, commit, and on a refusal the user caused roll back
and show its words — the one place for the try / commit / except / rollback / flash block."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash

from directory.db import db
from directory.errors import InvalidInput, PreauError

from .i18n import said

FAILED = object()


def saved(work: Callable[[], object], *, errors: list[str] | None = None,
          catch: type[PreauError] = InvalidInput,
          describe: Callable[[PreauError], str] = said) -> object:
    """Run `work` and commit; returns what it returns. On a `catch` error nothing is
    written, its words go to `errors` (a form's error list) or are flashed, and FAILED is
    returned. NotFound is not caught by default: someone else's id stays a 404."""
    try:
        result = work()
        db.session.commit()
    except catch as error:
        db.session.rollback()
        if errors is None:
            flash(describe(error), "error")
        else:
            errors.append(describe(error))
        return FAILED
    return result
