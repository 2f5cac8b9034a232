"""Login, throttling, suspended accounts, the forced password change, the session cookie,
last access and logout — through HTTP, on the real database."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account, LoginAttempt
from directory.passwords import verify_password
from portal import throttle, trust_proxies
from tests.conftest import DEMO_PASSWORD, csrf_token, login, page_text, post_form

BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
THROTTLED = re.compile(r"Trop de tentatives de connexion échouées\. Réessayez dans (\d+) "
                       r"(?:minute|seconde)s?\.")




def set_account(app, login_name: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == login_name).values(**values))
        db.session.commit()


def get_account(app, login_name: str, *columns):
    with app.app_context():
        return db.session.execute(
            select(*(getattr(Account, c) for c in columns)).where(Account.login == login_name)
        ).one()


def attempts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginAttempt))


def age_attempts(app, minutes: float) -> None:
    """Move every recorded failure `minutes` into the past (instead of waiting)."""
    with app.app_context():
        for attempt in db.session.scalars(select(LoginAttempt)):
            attempt.at -= timedelta(minutes=minutes)
        db.session.commit()


def add_failures(app, login_name: str | None, addresses: list[str]) -> None:
    """Failures recorded a moment ago, as that many attempts would have left them."""
    with app.app_context():
        for n, address in enumerate(addresses):
            db.session.add(LoginAttempt(login=login_name or f"inconnu{n}", client=address,
                                        at=utcnow() - timedelta(milliseconds=10)))
        db.session.commit()


def clear_attempts(app) -> None:
    with app.app_context():
        db.session.execute(delete(LoginAttempt))
        db.session.commit()


def login_from(client, address: str, login_name: str, password: str = DEMO_PASSWORD):
    return post_form(client, "/connexion", {"login": login_name, "password": password},
                     environ_base={"REMOTE_ADDR": address})


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


# --- wrong password, CSRF, over-long input --------------------------------------------------

@pytest.mark.parametrize("login_name", ["zoe.le-gall", "personne.inconnue"])
def test_wrong_password_or_unknown_login_same_message_and_one_failure_recorded(
        app, client, login_name):
    response = login(client, login_name, "Mauvais-mot-2026")
    assert response.status_code == 400
    assert BAD_CREDENTIALS in page_text(response)
    assert attempts(app) == 1
    assert not is_logged_in(client)


def test_right_password_logs_in_and_clears_the_logins_failures(app, client):
    login(client, "zoe.le-gall", "Mauvais-mot-2026")
    response = login(client, "zoe.le-gall")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert attempts(app) == 0
    assert "Bonjour Zoé" in page_text(client.get("/"))


@pytest.mark.parametrize("token", ["forged-token", None])
def test_login_with_forged_or_missing_csrf_token_is_refused_in_french(app, client, token):
    client.get("/connexion")
    data = {"login": "zoe.le-gall", "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token
    response = client.post("/connexion", data=data)
    assert response.status_code == 400
    text = page_text(response)
    assert "jeton CSRF invalide" in text and "Requête invalide" in text
    assert attempts(app) == 0
    assert not is_logged_in(client)


def test_token_of_another_session_is_refused(app, client):
    other = app.test_client()
    stolen = csrf_token(other.get("/connexion").get_data(as_text=True))
    client.get("/connexion")
    response = client.post("/connexion", data={"csrf_token": stolen, "login": "zoe.le-gall",
                                               "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_ten_thousand_character_login_gets_a_clear_message_and_writes_nothing(app, client):
    response = login(client, "z" * 10_000, "Mauvais-mot-2026")
    assert response.status_code == 400
    assert "Le champ ne peut pas contenir plus de 120 caractères." in page_text(response)
    assert attempts(app) == 0


def test_empty_fields_are_named(client):
    response = login(client, "", "")
    text = page_text(response)
    assert "Saisissez votre identifiant." in text and "Saisissez votre mot de passe." in text


def test_next_parameter_only_leads_inside_the_portal(client):
    page = client.get("/connexion?next=//evil.example/x").get_data(as_text=True)
    response = client.post("/connexion?next=//evil.example/x", data={
        "csrf_token": csrf_token(page), "login": "zoe.le-gall", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", [
    "/%09/127.0.0.9/phish", "/%0a/127.0.0.9/phish", "/%0d%0a/evil.example",
    "/%5Cevil.example", "/%09%5Cevil.example", "%09//evil.example", "https://evil.example/",
    "javascript:alert(1)", "//evil.example", "/%7F/evil.example"])
def test_next_with_hidden_characters_or_another_host_goes_home(client, target):
    page = client.get(f"/connexion?next={target}").get_data(as_text=True)
    response = client.post(f"/connexion?next={target}", data={
        "csrf_token": csrf_token(page), "login": "zoe.le-gall", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_next_leads_to_a_page_of_the_portal_with_its_query(client):
    page = client.get("/connexion?next=/messagerie/%3Fq%3Dsortie").get_data(as_text=True)
    response = client.post("/connexion?next=/messagerie/%3Fq%3Dsortie", data={
        "csrf_token": csrf_token(page), "login": "zoe.le-gall", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/messagerie/?q=sortie"


def test_the_language_switch_returns_only_to_a_page_of_the_portal(client):
    response = post_form(client, "/langue/en", {"next": "/\t/evil.example"}, page="/connexion")
    assert response.headers["Location"] == "/"
    response = post_form(client, "/langue/fr", {"next": "/connexion"}, page="/connexion")
    assert response.headers["Location"] == "/connexion"


# --- throttling -------------------------------------------------------------------------------

def test_five_failures_from_one_address_lock_that_address_for_that_login(app, client):
    for _ in range(5):
        response = login_from(client, "192.0.2.1", "zoe.le-gall", "Mauvais-mot-2026")
        assert BAD_CREDENTIALS in page_text(response)
    assert attempts(app) == 5

    response = login_from(client, "192.0.2.1", "zoe.le-gall")
    match = THROTTLED.search(page_text(response))
    assert match, page_text(response)
    assert match.group(1) == "15"   # the failures just happened: the whole window is left
    assert not is_logged_in(client)
    # The password was not checked: a wrong one is not even counted.
    login_from(client, "192.0.2.1", "zoe.le-gall", "Mauvais-mot-2026")
    assert attempts(app) == 5
    # The same address may still log in to other accounts.
    assert login_from(client, "192.0.2.1", "lucas.martin").status_code == 302


def test_failures_from_strangers_only_slow_the_owner_down(app, client):
    """Strangers failing from many addresses: the owner, elsewhere, waits at most a minute,
    then logs in — a stranger can never lock an account."""
    add_failures(app, "zoe.le-gall", [f"203.0.113.{n}" for n in range(40)])
    response = login_from(client, "192.0.2.99", "zoe.le-gall")
    match = re.search(r"Réessayez dans (\d+) secondes\.", page_text(response))
    assert match and 30 <= int(match.group(1)) <= 60, page_text(response)
    assert not is_logged_in(client)
    age_attempts(app, 61 / 60)
    assert login_from(client, "192.0.2.99", "zoe.le-gall").status_code == 302


def test_the_delay_per_account_doubles_from_its_fifth_failure_up_to_one_minute():
    delays = [throttle.delay_after(n).total_seconds() for n in (0, 4, 5, 6, 7, 10, 11, 12, 400)]
    assert delays == [0, 0, 1, 2, 4, 32, 60, 60, 60]


def test_a_school_behind_one_address_is_not_blocked_by_typos(app, client):
    for name in ("a.inconnu", "b.inconnu", "lucas.martin", "paul.durand", "c.inconnu"):
        login_from(client, "198.51.100.7", name, "Mauvais-mot-2026")
    assert login_from(client, "198.51.100.7", "zoe.le-gall").status_code == 302


def test_one_hundred_failures_from_one_address_block_it_across_logins(app, client):
    add_failures(app, None, ["198.51.100.7"] * 100)
    response = login_from(client, "198.51.100.7", "zoe.le-gall")
    assert THROTTLED.search(page_text(response))
    assert not is_logged_in(client)
    assert login_from(client, "198.51.100.8", "zoe.le-gall").status_code == 302


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(app, client):
    """No proxy is trusted unless PREAU_TRUSTED_PROXIES says so: the header is ignored."""
    for n in range(5):
        post_form(client, "/connexion", {"login": "zoe.le-gall", "password": "Mauvais-mot-2026"},
                  environ_base={"REMOTE_ADDR": "198.51.100.9"},
                  headers={"X-Forwarded-For": f"10.0.0.{n}"})
    response = post_form(client, "/connexion", {"login": "zoe.le-gall",
                                                "password": DEMO_PASSWORD},
                         environ_base={"REMOTE_ADDR": "198.51.100.9"},
                         headers={"X-Forwarded-For": "10.0.0.200"})
    assert THROTTLED.search(page_text(response))


def test_the_message_counts_down_the_minutes_left(app, client):
    for _ in range(5):
        login_from(client, "192.0.2.1", "zoe.le-gall", "Mauvais-mot-2026")
    age_attempts(app, 10)
    match = THROTTLED.search(page_text(login_from(client, "192.0.2.1", "zoe.le-gall")))
    assert match and match.group(1) == "5"


def test_login_works_again_once_the_window_has_passed(app, client):
    for _ in range(5):
        login_from(client, "203.0.113.5", "zoe.le-gall", "Mauvais-mot-2026")
    assert THROTTLED.search(page_text(login_from(client, "203.0.113.5", "zoe.le-gall")))
    age_attempts(app, 15.5)
    response = login_from(client, "203.0.113.5", "zoe.le-gall")
    assert response.status_code == 302
    assert is_logged_in(client)


def test_four_failures_do_not_block(app, client):
    for _ in range(4):
        login_from(client, "203.0.113.6", "zoe.le-gall", "Mauvais-mot-2026")
    assert login_from(client, "203.0.113.6", "zoe.le-gall").status_code == 302


# --- suspended accounts -----------------------------------------------------------------------

def test_suspended_account_is_refused_with_a_clear_message(app, client):
    set_account(app, "zoe.le-gall", suspended=True)
    response = login(client, "zoe.le-gall")
    assert response.status_code == 400
    assert "Ce compte est suspendu. Adressez-vous à l'administrateur de votre établissement." \
        in page_text(response)
    assert not is_logged_in(client)


def test_suspension_ends_an_open_session(app, student):
    assert is_logged_in(student)
    set_account(app, "zoe.le-gall", suspended=True)
    response = student.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_suspended_account_with_wrong_password_reveals_nothing(app, client):
    set_account(app, "zoe.le-gall", suspended=True)
    response = login(client, "zoe.le-gall", "Mauvais-mot-2026")
    assert BAD_CREDENTIALS in page_text(response)
    assert "suspendu" not in page_text(response)


# --- forced password change -------------------------------------------------------------------

NEW_PASSWORD = "Nouveau-Secret-2026"


def change(client, current: str, new: str, confirm: str | None = None):
    return post_form(client, "/mot-de-passe", {"current": current, "new": new,
                                                "confirm": new if confirm is None else confirm})


@pytest.mark.parametrize("path", ["/", "/preferences/", "/annuaire/", "/nimporte-quoi"])
def test_must_change_password_is_sent_to_the_change_page_from_any_page(app, client, path):
    set_account(app, "zoe.le-gall", must_change_password=True)
    assert login(client, "zoe.le-gall").status_code == 302
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/mot-de-passe"
    page = client.get("/mot-de-passe")
    assert page.status_code == 200
    assert "choisissez un nouveau mot de passe avant de continuer" in page_text(page)


def test_weak_new_password_names_every_unmet_rule_and_changes_nothing(app, client):
    set_account(app, "zoe.le-gall", must_change_password=True)
    login(client, "zoe.le-gall")
    (old_hash,) = get_account(app, "zoe.le-gall", "password_hash")
    response = change(client, DEMO_PASSWORD, "abc")
    assert response.status_code == 400
    text = page_text(response)
    assert "au moins 8 caractères" in text
    assert "au moins une lettre majuscule" in text
    assert "au moins un caractère non alphanumérique" in text
    assert "au moins une lettre minuscule" not in text
    response = change(client, DEMO_PASSWORD, "ABCDEFGHIJ")
    text = page_text(response)
    assert "au moins une lettre minuscule" in text and "non alphanumérique" in text
    assert "au moins 8 caractères" not in text
    assert get_account(app, "zoe.le-gall", "password_hash", "must_change_password") \
        == (old_hash, True)
    assert client.get("/").headers["Location"] == "/mot-de-passe"


def test_change_needs_the_current_password_and_matching_confirmation(app, client):
    set_account(app, "zoe.le-gall", must_change_password=True)
    login(client, "zoe.le-gall")
    response = change(client, "Pas-le-bon-2026", NEW_PASSWORD)
    assert response.status_code == 400
    assert "Le mot de passe actuel est incorrect." in page_text(response)
    response = change(client, DEMO_PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert "Les deux mots de passe diffèrent." in page_text(response)
    password_hash, flag = get_account(app, "zoe.le-gall", "password_hash", "must_change_password")
    assert flag and verify_password(password_hash, DEMO_PASSWORD)


def test_after_the_change_the_flag_is_cleared_and_the_new_password_works(app, client):
    set_account(app, "zoe.le-gall", must_change_password=True)
    login(client, "zoe.le-gall")
    response = change(client, DEMO_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert get_account(app, "zoe.le-gall", "must_change_password") == (False,)
    assert client.get("/preferences/").status_code == 200

    post_form(client, "/deconnexion", {}, page="/")
    assert BAD_CREDENTIALS in page_text(login(client, "zoe.le-gall"))
    assert login(client, "zoe.le-gall", NEW_PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_forced_change_page_still_lets_the_person_log_out(app, client):
    set_account(app, "zoe.le-gall", must_change_password=True)
    login(client, "zoe.le-gall")
    response = post_form(client, "/deconnexion", {}, page="/mot-de-passe")
    assert response.headers["Location"] == "/connexion"


# --- session cookie, last access, logout -------------------------------------------------------

def session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie")
               if value.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(client):
    cookie = session_cookie(login(client, "zoe.le-gall"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(client):
    response = post_form(client, "/connexion",
                         {"login": "zoe.le-gall", "password": DEMO_PASSWORD},
                         base_url="https://localhost")
    assert "Secure" in session_cookie(response)


@pytest.fixture
def behind_one_proxy(app, monkeypatch):
    """The app as configured with PREAU_TRUSTED_PROXIES=1 (restored after the test)."""
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)
    monkeypatch.setitem(app.config["PREAU"], "TRUSTED_PROXIES", "1")
    trust_proxies(app)


def test_a_trusted_proxy_gives_the_client_address_to_the_throttle(app, client,
                                                                    behind_one_proxy):
    for _ in range(5):
        post_form(client, "/connexion", {"login": "lucas.martin", "password": "Mauvais-mot-2026"},
                  environ_base={"REMOTE_ADDR": "10.0.0.1"},
                  headers={"X-Forwarded-For": "198.51.100.10"})
    blocked = post_form(client, "/connexion", {"login": "lucas.martin", "password": DEMO_PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"},
                        headers={"X-Forwarded-For": "198.51.100.10"})
    assert THROTTLED.search(page_text(blocked))
    age_attempts(app, 2 / 60)       # past the one-second delay of the account
    other = post_form(client, "/connexion", {"login": "lucas.martin", "password": DEMO_PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.0.0.1"},
                      headers={"X-Forwarded-For": "198.51.100.11"})
    assert other.status_code == 302


def test_session_cookie_is_secure_behind_an_https_proxy(client, behind_one_proxy):
    response = post_form(client, "/connexion",
                         {"login": "zoe.le-gall", "password": DEMO_PASSWORD},
                         headers={"X-Forwarded-Proto": "https"})
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_last_access_is_written_at_most_once_a_minute(app, student):
    recent = utcnow().replace(microsecond=0) - timedelta(seconds=30)
    set_account(app, "zoe.le-gall", last_access_at=recent)
    student.get("/")
    student.get("/preferences/")
    assert get_account(app, "zoe.le-gall", "last_access_at") == (recent,)

    older = utcnow().replace(microsecond=0) - timedelta(minutes=2)
    set_account(app, "zoe.le-gall", last_access_at=older)
    before = utcnow() - timedelta(seconds=1)
    student.get("/")
    (refreshed,) = get_account(app, "zoe.le-gall", "last_access_at")
    assert refreshed >= before


def test_login_records_the_last_access(app, client):
    before = utcnow() - timedelta(seconds=1)
    login(client, "zoe.le-gall")
    (last_access,) = get_account(app, "zoe.le-gall", "last_access_at")
    assert last_access is not None and last_access >= before


def test_logout_is_a_post_with_csrf(app, student):
    assert student.get("/deconnexion").status_code == 405
    assert student.post("/deconnexion").status_code == 400
    assert student.post("/deconnexion", data={"csrf_token": "forged"}).status_code == 400
    assert is_logged_in(student)

    response = post_form(student, "/deconnexion", {}, page="/")
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "Vous êtes déconnecté." in page_text(student.get("/connexion"))
    home = student.get("/")
    assert home.status_code == 302
    assert home.headers["Location"].startswith("/connexion")


def test_failures_older_than_the_window_are_dropped_when_a_new_one_is_counted(app, client):
    for _ in range(3):
        login_from(client, "203.0.113.7", "zoe.le-gall", "Mauvais-mot-2026")
    age_attempts(app, 16)
    login_from(client, "203.0.113.8", "lucas.martin", "Mauvais-mot-2026")
    assert attempts(app) == 1


def test_the_chosen_language_survives_login_and_logout(client):
    post_form(client, "/langue/en", {"next": "/connexion"}, page="/connexion")
    assert login(client, "zoe.le-gall").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in home and "Hello Zoé" in home
    post_form(client, "/deconnexion", {}, page="/")
    assert '<html lang="en">' in client.get("/connexion").get_data(as_text=True)


def test_the_new_password_must_differ_from_the_current_one(app, client):
    """A password handed out by an administrator (on a sheet, in a mail) stays known: the
    forced change must change it."""
    set_account(app, "zoe.le-gall", must_change_password=True)
    login(client, "zoe.le-gall")
    response = change(client, DEMO_PASSWORD, DEMO_PASSWORD)
    assert response.status_code == 400
    assert "Choisissez un mot de passe différent de l'actuel." in page_text(response)
    assert get_account(app, "zoe.le-gall", "must_change_password") == (True,)


def test_guesses_of_the_current_password_are_throttled_as_logins(app, client):
    """A session left open on a shared computer must not let one guess the password that
    guards the redirect address: after five wrong ones, even the right one waits."""
    login(client, "joseph.fabre")
    for _ in range(5):
        response = change(client, "Pas-le-bon-2026", NEW_PASSWORD)
        assert "Le mot de passe actuel est incorrect." in page_text(response)
    response = post_form(client, "/preferences/", {"address": "pirate@example.com",
                                                   "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "Trop de tentatives" in page_text(response)
    assert get_account(app, "joseph.fabre", "pending_redirect_address") == (None,)


@pytest.mark.parametrize("kind", ["own", "temporary", "generated", "none", "unknown"])
def test_a_login_password_is_checked_whatever_the_hash_s_cost(kind):
    from directory.passwords import (
        NO_PASSWORD,
        hash_generated_password,
        hash_password,
        hash_temporary_password,
        verify_login,
    )

    made = {"own": hash_password, "temporary": hash_temporary_password,
            "generated": hash_generated_password}
    stored = made[kind]("Secret-2026!") if kind in made else \
        (NO_PASSWORD if kind == "none" else None)
    assert verify_login(stored, "Secret-2026!") is (kind in made)
    assert verify_login(stored, "Autre-2026!") is False


def test_an_ipv6_client_is_counted_by_its_network(app, client):
    """A subscriber picks any address of its /64: five failures from five of them lock the
    pair as from one address; an IPv4 address written as IPv6 counts as itself."""
    for n in range(1, 6):
        login_from(client, f"2001:db8:1:2::{n:x}", "zoe.le-gall", "Mauvais-mot-2026")
    assert THROTTLED.search(page_text(login_from(client, "2001:db8:1:2:ffff::1", "zoe.le-gall")))
    age_attempts(app, 2 / 60)       # past the login's own delay, not the pair's lock
    assert login_from(client, "2001:db8:1:3::1", "zoe.le-gall").status_code == 302
    post_form(client, "/deconnexion", {}, page="/")
    for _ in range(5):
        login_from(client, "::ffff:192.0.2.44", "lucas.martin", "Mauvais-mot-2026")
    assert THROTTLED.search(page_text(login_from(client, "192.0.2.44", "lucas.martin")))
