"""Links that leave the portal — mailed, in feeds, in calendar files: they begin with
PREAU_PUBLIC_URL when it is set (the address people open the portal at, as a proxy in front
may rewrite the request's host), else with the request's own. The « mot de passe oublié »
link, asked by someone not signed in, follows a stricter rule: `config.link_origin`."""
from __future__ import annotations

from flask import current_app, url_for


def public_url_for(endpoint: str, **values) -> str:
    configured = current_app.config["PREAU"].get("PUBLIC_URL", "")
    if configured:
        return configured + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
