"""Revocable sessions (issue 10, item 3): a cookie copied before "Se déconnecter" no longer
works; "Se déconnecter de tous les appareils" and every password change end the account's
other sessions, a stolen cookie included."""
from __future__ import annotations

from tests.conftest import DEMO_PASSWORD, csrf_token, login, post_form

from .messagerie_helpers import person
from .test_auth import page_text

NEW_PASSWORD = "Nouveau-Secret-2026"


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def replayed(app, cookie: str):
    """A new browser that was given a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def is_logged_in(client) -> bool:
    response = client.get("/")
    if response.status_code != 200:
        assert response.headers["Location"].startswith("/connexion")
        return False
    assert "Bonjour Zoé" in page_text(response)
    return True


def test_a_cookie_copied_before_logout_no_longer_works(app, client):
    assert login(client, "zoe.le-gall").status_code == 302
    cookie = cookie_of(client)
    assert is_logged_in(replayed(app, cookie))

    post_form(client, "/deconnexion", {}, page="/")
    assert not is_logged_in(client)
    assert not is_logged_in(replayed(app, cookie))


def test_two_tabs_opened_at_once_after_login_both_post_their_form(app, client):
    """Both tabs start from the login's cookie; the browser then keeps the cookie of the last
    answer. The first tab's message must still be sent: the session had its CSRF token from
    login, so neither page drew one of its own (the web-under-load test's rare « 400 »)."""
    assert login(client, "claire.bernard").status_code == 302
    cookie = cookie_of(client)
    first, second = replayed(app, cookie), replayed(app, cookie)
    first_page = first.get("/messagerie/ecrire").get_data(as_text=True)
    assert second.get("/messagerie/ecrire").status_code == 200
    browser = replayed(app, cookie_of(second))
    response = browser.post("/messagerie/ecrire", data={
        "csrf_token": csrf_token(first_page), "to": f"p:{person(app, 'zoe.le-gall')}",
        "subject": "Deux onglets", "body": "Bonjour.", "action": "envoyer"})
    assert response.status_code == 303


def test_logging_out_ends_only_this_session(app, client):
    assert login(client, "zoe.le-gall").status_code == 302
    other = app.test_client()
    assert login(other, "zoe.le-gall").status_code == 302
    post_form(client, "/deconnexion", {}, page="/")
    assert is_logged_in(other)


def test_logging_out_everywhere_ends_every_session_of_the_account(app, client):
    assert login(client, "zoe.le-gall").status_code == 302
    phone = app.test_client()
    assert login(phone, "zoe.le-gall").status_code == 302
    stolen = replayed(app, cookie_of(phone))
    brother = app.test_client()
    assert login(brother, "lucas.martin").status_code == 302

    page = client.get("/preferences/")
    assert "Se déconnecter de tous les appareils" in page_text(page)
    response = post_form(client, "/deconnexion-partout", {}, page="/preferences/")
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "Vous êtes déconnecté de tous les appareils." in page_text(client.get("/connexion"))
    for browser in (client, phone, stolen):
        assert not is_logged_in(browser)
    assert brother.get("/").status_code == 200
    assert login(client, "zoe.le-gall").status_code == 302
    assert is_logged_in(client)


def test_logging_out_everywhere_is_a_post_with_csrf(app, client):
    login(client, "zoe.le-gall")
    assert client.get("/deconnexion-partout").status_code == 405
    assert client.post("/deconnexion-partout", data={"csrf_token": "forged"}).status_code == 400
    assert is_logged_in(client)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client):
    assert login(client, "zoe.le-gall").status_code == 302
    stolen = replayed(app, cookie_of(client))
    laptop = app.test_client()
    assert login(laptop, "zoe.le-gall").status_code == 302

    response = post_form(client, "/mot-de-passe", {
        "current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(laptop)
    assert not is_logged_in(stolen)
    assert login(laptop, "zoe.le-gall", NEW_PASSWORD).status_code == 302


def test_an_administrator_s_new_password_or_suspension_ends_the_sessions(app, client, logged_in):
    """The administrator who resets or suspends an account believes the intruder is out: a
    copied cookie must not come back with the reactivation."""
    assert login(client, "zoe.le-gall").status_code == 302
    stolen = replayed(app, cookie_of(client))
    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    zoe = person(app, "zoe.le-gall")
    suspension = f"/administration/comptes/{zoe}/suspension"
    post_form(admin, suspension, {"suspendre": "1"}, page=f"/administration/comptes/{zoe}")
    post_form(admin, suspension, {"suspendre": "0"}, page=f"/administration/comptes/{zoe}")
    assert not is_logged_in(stolen) and not is_logged_in(client)

    assert login(client, "zoe.le-gall").status_code == 302
    stolen = replayed(app, cookie_of(client))
    post_form(admin, f"/administration/comptes/{zoe}/mot-de-passe",
              {"mode": "saisir", "mot_de_passe": NEW_PASSWORD},
              page=f"/administration/comptes/{zoe}")
    assert stolen.get("/preferences/").headers["Location"].startswith("/connexion")
    assert stolen.get("/").headers["Location"].startswith("/connexion")


def test_a_refused_cookie_is_answered_without_its_identity(app, client):
    """Kept, the identity would be signed again with a fresh date (the login message is
    flashed into the session), and a copy kept alive that way would work again once its
    ended-session record expired."""
    assert login(client, "zoe.le-gall").status_code == 302
    cookie = cookie_of(client)
    post_form(client, "/deconnexion", {}, page="/")
    thief = replayed(app, cookie)
    assert thief.get("/messagerie/").status_code == 302
    renewed = app.session_interface.get_signing_serializer(app).loads(cookie_of(thief))
    assert "_user_id" not in renewed and "sid" not in renewed


def test_a_members_pages_stay_out_of_caches(app, client):
    """On a school's shared computer, the next pupil must not find them in the browser's
    history or cache after « Se déconnecter »; the portal's static files may be cached."""
    assert "no-store" not in client.get("/connexion").headers.get("Cache-Control", "")
    assert login(client, "zoe.le-gall").status_code == 302
    assert client.get("/messagerie/").headers["Cache-Control"] == "no-store"
    static = client.get("/static/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_over_https_browsers_are_told_to_keep_to_it(app):
    """Strict-Transport-Security, only on an answer that came over HTTPS (or a TLS proxy the
    portal believes): over plain HTTP it would mean nothing, or lock a test machine out."""
    secure = app.test_client()
    assert secure.get("/connexion", base_url="https://localhost").headers[
        "Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in app.test_client().get("/connexion").headers
