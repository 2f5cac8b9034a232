"""The mail domain (PREAU_MAIL_DOMAIN): the one setting every part reads, and the one function
that writes a universal address (`local part@domain`)."""
from __future__ import annotations

DEFAULT_MAIL_DOMAIN = "ent.test"


def mail_domain(app=None) -> str:
    """The domain of the universal addresses, lower-cased, from the app's PREAU settings."""
    if app is None:
        from flask import current_app

        app = current_app
    return (app.config.get("PREAU", {}).get("MAIL_DOMAIN") or DEFAULT_MAIL_DOMAIN).lower()


def universal(local_part: str, domain: str | None = None) -> str:
    """`local_part@domain`, the domain being the app's unless given."""
    return f"{local_part}@{domain or mail_domain()}"
