"""HTTP security headers and the session cookie's Secure flag."""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


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
