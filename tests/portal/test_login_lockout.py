"""Strangers' failures do not hold up the owner at a browser that logged in before (OWASP's
"device cookie", portal/throttle.py): through HTTP, on the real database."""
from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from directory.accounts import change_password, create_account, school_by_uai
from directory.db import db
from directory.models import Account, Profile
from directory.password_reset import password_stamp
from portal.auth import DEVICE_COOKIE
from tests.conftest import DEMO_PASSWORD, login, page_text, post_form

from .test_auth import THROTTLED, add_failures, attempts, get_account, login_from

WRONG = "Mauvais-mot-2026"
NEW_PASSWORD = "Nouveau-mot-2026!"
STRANGERS = [f"203.0.113.{n}" for n in range(40)]


def logout(client) -> None:
    assert post_form(client, "/deconnexion", {}, page="/").status_code == 302


@pytest.fixture
def owners_browser(app):
    """Zoé's own browser: she logged in there before, then logged out."""
    browser = app.test_client()
    assert login_from(browser, "192.0.2.50", "zoe.le-gall").status_code == 302
    assert browser.get_cookie(DEVICE_COOKIE) is not None
    logout(browser)
    return browser


def logs_in(client, address: str, login_name: str = "zoe.le-gall",
            password: str = DEMO_PASSWORD) -> bool:
    response = login_from(client, address, login_name, password)
    if response.status_code == 302:
        return True
    assert THROTTLED.search(page_text(response)), page_text(response)
    return False


def test_strangers_failures_hold_up_a_new_browser_but_not_the_owners(app, owners_browser):
    add_failures(app, "zoe.le-gall", STRANGERS)
    assert not logs_in(app.test_client(), "192.0.2.99")
    assert logs_in(owners_browser, "192.0.2.99")
    assert "Bonjour Zoé" in page_text(owners_browser.get("/"))


def test_a_stranger_locking_the_owners_school_address_does_not_lock_the_owner(app,
                                                                              owners_browser):
    """A pupil failing five times as Zoé from the school's one NAT address locks that pair;
    Zoé, at her own browser behind the same address, still logs in."""
    pupil = app.test_client()
    for _ in range(5):
        login_from(pupil, "198.51.100.7", "zoe.le-gall", WRONG)
    assert not logs_in(pupil, "198.51.100.7")
    assert logs_in(owners_browser, "198.51.100.7")


def test_the_device_cookie_is_httponly_lax_long_lived_and_secure_only_over_https(app):
    over_http = login(app.test_client(), "zoe.le-gall")
    over_https = post_form(app.test_client(), "/connexion",
                           {"login": "zoe.le-gall", "password": DEMO_PASSWORD},
                           base_url="https://localhost",
                           headers={"Referer": "https://localhost/connexion"})
    assert over_http.status_code == over_https.status_code == 302
    cookies = {scheme: next(c for c in response.headers.getlist("Set-Cookie")
                            if c.startswith(f"{DEVICE_COOKIE}="))
               for scheme, response in (("http", over_http), ("https", over_https))}
    for cookie in cookies.values():
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) >= 180 * 86400
    assert "Secure" not in cookies["http"] and "Secure" in cookies["https"]


def test_no_device_cookie_after_a_refused_login(app):
    browser = app.test_client()
    assert login_from(browser, "192.0.2.51", "zoe.le-gall", WRONG).status_code == 400
    assert browser.get_cookie(DEVICE_COOKIE) is None


def forged(app) -> str:
    """Zoé's device cookie to the letter, signed with another key."""
    account_id, password_hash = get_account(app, "zoe.le-gall", "id", "password_hash")
    return URLSafeTimedSerializer("not-our-key", salt="preau-known-device").dumps(
        {"account": account_id, "stamp": password_stamp(password_hash), "device": "x" * 22})


def lucas_device(app) -> str:
    browser = app.test_client()
    assert login(browser, "lucas.martin").status_code == 302
    return browser.get_cookie(DEVICE_COOKIE).value


@pytest.mark.parametrize("cookie", [forged, lucas_device, lambda app: "n'importe quoi"])
def test_a_forged_cookie_or_one_given_for_another_login_is_no_pass(app, cookie):
    value = cookie(app)
    add_failures(app, "zoe.le-gall", STRANGERS)
    stranger = app.test_client()
    stranger.set_cookie(DEVICE_COOKIE, value)
    assert not logs_in(stranger, "192.0.2.99")


def test_the_owners_browser_is_locked_by_its_own_failures_only(app, owners_browser):
    """Five wrong passwords at the owner's browser lock that browser, wherever it connects
    from; they are not the login's failures, so another browser is not slowed by them."""
    for n in range(5):
        response = login_from(owners_browser, f"192.0.2.{60 + n}", "zoe.le-gall", WRONG)
        assert response.status_code == 400 and not THROTTLED.search(page_text(response))
    assert not logs_in(owners_browser, "192.0.2.70")
    assert logs_in(app.test_client(), "192.0.2.71")


def test_the_address_ceiling_holds_a_new_browser_but_not_the_owners(app, owners_browser):
    """A pupil filling the school NAT address's 100 failures with made-up logins: a browser
    that never logged in to Zoé's account is refused there, Zoé at her own browser is not."""
    add_failures(app, None, ["198.51.100.7"] * 100)
    assert not logs_in(app.test_client(), "198.51.100.7")
    assert logs_in(owners_browser, "198.51.100.7")
    assert "Bonjour Zoé" in page_text(owners_browser.get("/"))


def test_a_success_at_the_owners_browser_clears_its_failures(app, owners_browser):
    for _ in range(4):
        login_from(owners_browser, "192.0.2.60", "zoe.le-gall", WRONG)
    assert attempts(app) == 4
    assert logs_in(owners_browser, "192.0.2.60")
    assert attempts(app) == 0


def test_the_current_password_check_of_the_owners_browser_is_not_held_up(app, owners_browser):
    """Changing one's password while strangers pace guesses at the login: no wait either."""
    assert logs_in(owners_browser, "192.0.2.50")
    add_failures(app, "zoe.le-gall", STRANGERS)
    response = post_form(owners_browser, "/mot-de-passe",
                         {"current": DEMO_PASSWORD, "new": "Nouveau-mot-2026!",
                          "confirm": "Nouveau-mot-2026!"},
                         environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert response.status_code == 302, page_text(response)
    assert "Votre mot de passe a été changé." in page_text(owners_browser.get("/"))


def change_password_at(browser, address: str) -> None:
    response = post_form(browser, "/mot-de-passe",
                         {"current": DEMO_PASSWORD, "new": NEW_PASSWORD,
                          "confirm": NEW_PASSWORD},
                         environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302, page_text(response)


def test_a_device_cookie_given_before_a_password_change_is_no_pass_after_it(app,
                                                                           owners_browser):
    """Someone who once logged in with Zoé's stolen password keeps no pass once she has
    changed it; her own browser, where she changed it, keeps one."""
    thiefs_browser = app.test_client()
    assert logs_in(thiefs_browser, "203.0.113.200")
    logout(thiefs_browser)
    assert logs_in(owners_browser, "192.0.2.50")
    change_password_at(owners_browser, "192.0.2.50")
    logout(owners_browser)
    add_failures(app, "zoe.le-gall", STRANGERS)
    assert not logs_in(thiefs_browser, "203.0.113.200", password=NEW_PASSWORD)
    assert logs_in(owners_browser, "192.0.2.99", password=NEW_PASSWORD)


def test_a_password_reset_voids_the_owners_device_cookie(app, owners_browser):
    """A reset (a link, an administrator) changes the password away from any browser: the
    cookies given with the old one are no pass."""
    with app.app_context():
        change_password(db.session.scalar(select(Account).where(
            Account.login == "zoe.le-gall")), NEW_PASSWORD)
        db.session.commit()
    add_failures(app, "zoe.le-gall", STRANGERS)
    assert not logs_in(owners_browser, "192.0.2.99", password=NEW_PASSWORD)


def create_anouk(app) -> None:
    with app.app_context():
        create_account(login="anouk.verdier", first_name="Anouk", last_name="Verdier",
                       profile=Profile.STUDENT, password=DEMO_PASSWORD,
                       schools=[school_by_uai("0310024H")])
        db.session.commit()


def test_a_deleted_accounts_device_cookie_is_no_pass_for_the_new_holder_of_its_login(app):
    """Logins are handed out again once their account is deleted: the old holder's browser
    is a stranger's to the namesake who gets the login next."""
    create_anouk(app)
    old_holders_browser = app.test_client()
    assert logs_in(old_holders_browser, "192.0.2.80", "anouk.verdier")
    logout(old_holders_browser)
    with app.app_context():
        db.session.delete(db.session.scalar(select(Account).where(
            Account.login == "anouk.verdier")))
        db.session.commit()
    create_anouk(app)
    add_failures(app, "anouk.verdier", STRANGERS)
    assert not logs_in(old_holders_browser, "192.0.2.80", "anouk.verdier")
