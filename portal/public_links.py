"""Links that leave the portal — mailed, in feeds, in calendar files: they begin with
`config.link_origin`, the rule of the « mot de passe oublié » link: PREAU_PUBLIC_URL when it
is set (the address people open the portal at, as a proxy in front may rewrite the request's
host), else the request's own host only when it is this machine. Never any other Host header:
the client writes it, and a member who posts an event with `Host: evil.example` would
otherwise have every reader mailed a genuine notice whose links (and one-click tokens) go to
evil.example. When there is no such origin the link keeps only its path, which points
nowhere else, and an error is logged, as for the password reset (whose mail is not sent:
here the notice, the mailing or the feed still goes, without an address to open)."""
from __future__ import annotations

import functools
import logging

from flask import current_app, has_request_context, request, url_for

from . import config

log = logging.getLogger("preau.portal")


def public_url_for(endpoint: str, **values) -> str:
    if not has_request_context():       # no Host header: SERVER_NAME, the configuration's
        configured = current_app.config["PREAU"].get("PUBLIC_URL", "").strip().rstrip("/")
        return configured + url_for(endpoint, **values) if configured else \
            url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values)
    origin = config.link_origin(current_app.config["PREAU"], request.host, request.scheme)
    if origin is None:
        _say_without_address(request.host)
        return path
    return origin + path


@functools.lru_cache(maxsize=64)
def _say_without_address(host: str) -> None:
    """Logged once per host and process, not once per link (a feed of 500 events polled
    every quarter of an hour would write 48,000 lines a day)."""
    log.error("links left without an address (their path only): PREAU_PUBLIC_URL is not set, "
              "and the request's host %r is not this machine", host)
