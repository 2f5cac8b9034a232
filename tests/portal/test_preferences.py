"""Préférences: the redirect address and its verification link (signed, 48 hours, once),
read from the .eml the capture smarthost writes into <instance>/mail-out/."""
from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import worker
from tests.conftest import DEMO_PASSWORD, csrf_token, page_text, post_form

HOURS = 3600




def redirect_state(app, login_name: str) -> tuple[str | None, bool, str | None]:
    """(redirect address, verified, pending address) as stored."""
    with app.app_context():
        return tuple(db.session.execute(
            select(Account.redirect_address, Account.redirect_verified,
                   Account.pending_redirect_address).where(Account.login == login_name)).one())


def mails_to(app, address: str) -> list:
    with app.app_context():
        worker.drain()
    folder = Path(app.instance_path) / "mail-out"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else ():
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if message["To"] == address:
            found.append(message)
    return found


def link_path(message) -> str:
    """The verification link of a captured mail, as a path the test client can open."""
    body = message.get_body(("plain",)).get_content()
    urls = re.findall(r"https?://\S+/preferences/verifier/\S+", body)
    assert len(urls) == 1, body
    return urlsplit(urls[0]).path


def request_address(client, address: str, password: str = DEMO_PASSWORD):
    return post_form(client, "/preferences/", {"address": address, "password": password})


def requested_link(app, client, address: str) -> str:
    response = request_address(client, address)
    assert response.status_code == 302, page_text(response)
    (message,) = mails_to(app, address)
    return link_path(message)


def confirm(client, path: str):
    return post_form(client, path, {})


def test_the_member_sees_their_universal_address(staff):
    text = page_text(staff.get("/preferences/"))
    assert "paul.durand@ent.test" in text
    assert "Vous n'avez pas encore d'adresse de redirection vérifiée." in text


def test_link_is_mailed_then_verifies_the_address_once(app, staff):
    address = "paul.perso@example.org"
    response = request_address(staff, address)
    assert response.status_code == 302
    assert f"Un lien de vérification a été envoyé à {address}." in page_text(
        staff.get("/preferences/"))
    assert redirect_state(app, "paul.durand") == (None, False, address)

    (message,) = mails_to(app, address)
    assert message["From"] == "Préau <ne-pas-repondre@ent.test>"
    assert "vérifiez votre adresse de redirection" in message["Subject"]
    path = link_path(message)

    page = staff.get(path)  # a mail scanner following the link changes nothing
    assert page.status_code == 200
    assert f"redirigés vers {address}" in page_text(page)
    assert redirect_state(app, "paul.durand") == (None, False, address)

    response = confirm(staff, path)
    assert response.status_code == 302 and response.headers["Location"] == "/preferences/"
    assert redirect_state(app, "paul.durand") == (address, True, None)
    assert f"Vos messages sont redirigés vers {address} (vérifiée)." in page_text(
        staff.get("/preferences/"))

    reopened = staff.get(path)
    assert reopened.status_code == 400
    assert "Ce lien de vérification a déjà été utilisé" in page_text(reopened)
    assert "Confirmer l'adresse" not in page_text(reopened)
    again = confirm(staff, path)
    assert again.status_code == 400
    assert "Ce lien de vérification a déjà été utilisé" in page_text(again)
    assert redirect_state(app, "paul.durand") == (address, True, None)


def requested_in_the_past(app, monkeypatch, login_name: str, address: str, age: int):
    """Log in and ask for the link `age` seconds ago, by the clock of the signer that stamps
    the link (and the session cookie and CSRF token of that visit)."""
    with monkeypatch.context() as past:
        past.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age)
        visitor = app.test_client()
        post_form(visitor, "/connexion", {"login": login_name, "password": DEMO_PASSWORD})
        return visitor, requested_link(app, visitor, address)


def test_link_older_than_48_hours_has_expired(app, monkeypatch):
    address = "paul.ancien@example.org"
    visitor, path = requested_in_the_past(app, monkeypatch, "paul.durand", address,
                                          48 * HOURS + 60)
    assert visitor.get("/preferences/").status_code == 200, "the session must still be valid"
    opened = visitor.get(path)
    assert opened.status_code == 400 and "a expiré" in page_text(opened)
    response = visitor.post(path, data={"csrf_token": csrf_token(
        visitor.get("/preferences/").get_data(as_text=True))})
    assert response.status_code == 400
    assert "Ce lien de vérification a expiré (il est valable 48 heures)." in page_text(response)
    assert redirect_state(app, "paul.durand") == (None, False, address)


def test_link_is_still_good_just_before_48_hours(app, monkeypatch):
    address = "paul.presque@example.org"
    visitor, path = requested_in_the_past(app, monkeypatch, "paul.durand", address,
                                          47 * HOURS + 50 * 60)
    assert confirm(visitor, path).status_code == 302
    assert redirect_state(app, "paul.durand") == (address, True, None)


def test_another_logged_in_member_cannot_use_the_link(app, staff):
    address = "paul.a-moi@example.org"
    path = requested_link(app, staff, address)

    intruder = app.test_client()
    post_form(intruder, "/connexion", {"login": "claire.bernard", "password": DEMO_PASSWORD})
    opened = intruder.get(path)
    assert opened.status_code == 400
    assert "Ce lien de vérification a été envoyé pour un autre compte." in page_text(opened)
    response = intruder.post(path, data={"csrf_token": csrf_token(
        intruder.get("/preferences/").get_data(as_text=True))})
    assert response.status_code == 400
    assert "Ce lien de vérification a été envoyé pour un autre compte." in page_text(response)
    assert redirect_state(app, "claire.bernard") == ("claire.bernard@example.net", True, None)
    assert redirect_state(app, "paul.durand") == (None, False, address)

    assert confirm(staff, path).status_code == 302
    assert redirect_state(app, "paul.durand") == (address, True, None)


def test_link_opened_while_logged_out_asks_to_log_in_first(app, staff):
    path = requested_link(app, staff, "paul.ailleurs@example.org")
    stranger = app.test_client()
    response = stranger.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")
    assert stranger.post(path).status_code == 400  # no CSRF token without a session
    assert redirect_state(app, "paul.durand")[:2] == (None, False)


def test_tampered_link_is_refused(app, staff):
    path = requested_link(app, staff, "paul.x@example.org")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert staff.get(tampered).status_code == 400
    response = staff.post(tampered, data={"csrf_token": csrf_token(
        staff.get("/preferences/").get_data(as_text=True))})
    assert response.status_code == 400
    assert "Ce lien de vérification n'est pas valide." in page_text(response)
    assert redirect_state(app, "paul.durand") == (None, False, "paul.x@example.org")


def test_unverified_change_keeps_the_old_verified_address(app, parent):
    path = requested_link(app, parent, "joseph.nouveau@example.com")
    assert redirect_state(app, "joseph.fabre") == (
        "joseph@example.org", True, "joseph.nouveau@example.com")
    with app.app_context():
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        assert joseph.verified_redirect == "joseph@example.org"
    text = page_text(parent.get("/preferences/"))
    assert "Vos messages sont redirigés vers joseph@example.org (vérifiée)." in text
    assert "En attente de vérification : joseph.nouveau@example.com." in text

    # A newer request replaces the pending one: the first link no longer works.
    newer = requested_link(app, parent, "joseph.encore@example.com")
    response = parent.post(path, data={"csrf_token": csrf_token(
        parent.get("/preferences/").get_data(as_text=True))})
    assert response.status_code == 400
    assert "remplacé par une demande plus récente" in page_text(response)
    assert redirect_state(app, "joseph.fabre") == (
        "joseph@example.org", True, "joseph.encore@example.com")
    assert confirm(parent, newer).status_code == 302
    assert redirect_state(app, "joseph.fabre") == ("joseph.encore@example.com", True, None)


def test_changing_requires_the_current_password(app, parent):
    response = request_address(parent, "joseph.pirate@example.com", "Pas-le-bon-2026")
    assert response.status_code == 400
    assert "Le mot de passe actuel est incorrect." in page_text(response)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)
    assert mails_to(app, "joseph.pirate@example.com") == []


@pytest.mark.parametrize(("address", "message"), [
    ("pas-une-adresse", "Cette adresse électronique n'est pas valide."),
    ("a" * 490 + "@example.org", "n'est pas valide"),
    ("x@example.org\r\nBcc: victime@example.org", "n'est pas valide"),
    ("", "Saisissez une adresse."),
])
def test_bad_address_is_refused_with_a_message_and_nothing_written(app, parent, address,
                                                                    message):
    response = request_address(parent, address)
    assert response.status_code == 400
    assert message in page_text(response)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)
    assert mails_to(app, address) == []


@pytest.mark.parametrize("address", ["joseph.fabre@ent.example.fr",
                                     "Claire.Bernard@ENT.Example.fr"])
def test_an_address_inside_preau_is_refused_to_avoid_a_loop(app, parent, address,
                                                            monkeypatch):
    monkeypatch.setitem(app.config["PREAU"], "MAIL_DOMAIN", "ent.example.fr")
    # the gateway's settings, cached from the configuration: read again, restored after
    monkeypatch.setitem(app.extensions, "mailgate.settings", None)
    response = request_address(parent, address)
    assert response.status_code == 400
    assert ("L'adresse de redirection doit être extérieure à Préau (pas une adresse "
            "@ent.example.fr).") in page_text(response)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)
    assert mails_to(app, address) == []


@pytest.mark.parametrize("token", ["forged-token", None])
def test_forged_or_missing_csrf_token_writes_nothing(app, parent, token):
    data = {"address": "joseph.csrf@example.com", "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token
    response = parent.post("/preferences/", data=data)
    assert response.status_code == 400
    assert "jeton CSRF invalide" in page_text(response)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, None)
    assert mails_to(app, "joseph.csrf@example.com") == []


def test_confirmation_without_csrf_token_changes_nothing(app, staff):
    path = requested_link(app, staff, "paul.sans-jeton@example.org")
    response = staff.post(path, data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert redirect_state(app, "paul.durand") == (None, False, "paul.sans-jeton@example.org")


def test_confirmation_page_carries_a_csrf_token(app, staff):
    path = requested_link(app, staff, "paul.jeton@example.org")
    assert csrf_token(staff.get(path).get_data(as_text=True))


def test_preferences_need_a_login(client):
    response = client.get("/preferences/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")
