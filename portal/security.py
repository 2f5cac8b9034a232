"""HTTP security headers, the session cookie's Secure flag, which redirect targets are safe,
and no NUL character in what a request sends."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest

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


def over_https(app: Flask) -> bool:
    """Whether browsers reach the portal over HTTPS: the request came so (directly, or through
    a proxy PREAU_TRUSTED_PROXIES believes), or PREAU_PUBLIC_URL says https. Behind a TLS proxy
    whose X-Forwarded-Proto is not believed the request looks like plain http, yet browsers
    are on https: their cookies must not travel over a downgraded http:// request."""
    return (app.config.get("SESSION_COOKIE_SECURE", False) or request.is_secure
            or app.config["PREAU"].get("PUBLIC_URL", "").startswith("https://"))


class SessionInterface(SecureCookieSessionInterface):
    """Marks the cookie Secure whenever browsers reach the portal over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return over_https(app)


def add_headers(response):
    if "_user_id" in session and request.endpoint != "static":
        # a member's pages stay out of caches: a school's shared computer, the next pupil
        # going back in the browser's history after « Se déconnecter »
        response.headers.setdefault("Cache-Control", "no-store")
    if over_https(current_app):     # browsers keep to HTTPS
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


class NulCharacter(BadRequest):
    """A request carrying U+0000 (errors.py explains it in the reader's language)."""


def refuse_nul_characters():
    """No text a person types contains U+0000, and PostgreSQL cannot store it: a request
    carrying one in a form field, a query parameter or a file name is refused (400) before any
    view sees it, instead of failing deep inside with a 500."""
    fields = (*request.args.lists(), *request.form.lists())
    names = (upload.filename or "" for _, uploads in request.files.lists() for upload in uploads)
    if any("\x00" in key or any("\x00" in value for value in values) for key, values in fields) \
            or any("\x00" in name for name in names):
        raise NulCharacter()


def install(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.before_request(refuse_nul_characters)
    app.after_request(add_headers)
