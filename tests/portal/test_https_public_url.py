"""Behind a TLS proxy whose X-Forwarded-Proto is not believed (PREAU_TRUSTED_PROXIES left at
0), every request looks like plain http; PREAU_PUBLIC_URL in https:// still says that browsers
are on https, so the cookies are Secure and HSTS is sent (portal/security.py)."""
from __future__ import annotations

import pytest

from portal.auth import DEVICE_COOKIE
from tests.conftest import DEMO_PASSWORD, page_text, post_form


@pytest.fixture
def public_https(app, monkeypatch):
    monkeypatch.setitem(app.config["PREAU"], "PUBLIC_URL", "https://ent.example.org")
    monkeypatch.setitem(app.config["PREAU"], "TRUSTED_PROXIES", "0")


def set_cookie(response, name: str) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie")
               if value.startswith(f"{name}=")]
    assert cookies, f"no {name} cookie set"
    return cookies[-1]


def test_with_an_https_public_url_cookies_are_secure_and_hsts_is_sent_over_plain_http(
        app, public_https):
    browser = app.test_client()         # http://localhost, as the proxy forwards it
    form = browser.get("/connexion")
    assert form.status_code == 200 and "Connexion" in page_text(form)
    # the CSRF token lives in the session cookie, set with the form
    assert "Secure" in set_cookie(form, "session")
    assert form.headers["Strict-Transport-Security"] == "max-age=31536000"

    response = post_form(browser, "/connexion",
                         {"login": "zoe.le-gall", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    for name in ("session", DEVICE_COOKIE):
        cookie = set_cookie(response, name)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Bonjour Zoé" in page_text(browser.get("/"))


def test_with_an_http_public_url_cookies_over_plain_http_stay_without_secure(app, monkeypatch):
    """A portal served over plain http on purpose (a test machine) still gets its cookies."""
    monkeypatch.setitem(app.config["PREAU"], "PUBLIC_URL", "http://ent.example.org")
    browser = app.test_client()
    response = post_form(browser, "/connexion",
                         {"login": "zoe.le-gall", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "HttpOnly" in set_cookie(response, "session")
    assert "Secure" not in set_cookie(response, "session")
    assert "Secure" not in set_cookie(response, DEVICE_COOKIE)
    assert "Strict-Transport-Security" not in response.headers
