"""Who may open the administration pages, stated once."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from directory.account_admin import may_administer


def administrator_required(view):
    """Region or school administrators; what each reaches is then filtered by the queries
    of directory.account_admin (another school's account answers 404)."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not may_administer(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped
