"""Translation helpers of the portal (Flask-Babel does the translating)."""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark `message` for extraction (`pybabel extract -k N_`) without translating it here:
    it is translated where it is shown, by gettext(variable) at run time."""
    return message
