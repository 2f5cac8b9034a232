"""HTTP security headers, the session cookie's Secure flag, and which redirect targets are
safe."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None. Browsers drop tabs and line breaks
    from a URL and read `\\` as `/`, so `/%09/evil.example` or `/\\evil.example` lead to
    another site: those characters are removed before checking that no scheme, no host and
    no leading `//` remain."""
    cleaned = _CONTROL.sub("", target or "")
    if not cleaned.startswith("/") or cleaned[1:2] in ("/", "\\"):
        return None
    parts = urlsplit(cleaned.replace("\\", "/"))
    if parts.scheme or parts.netloc:
        return None
    return cleaned


class SessionInterface(SecureCookieSessionInterface):
    """Marks the cookie Secure whenever the request came over HTTPS (or behind a TLS proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return app.config.get("SESSION_COOKIE_SECURE", False) or request.is_secure


def add_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def install(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(add_headers)
