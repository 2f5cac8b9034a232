"""« Mot de passe oublié ? »: a link valid one hour, usable once, mailed to the verified
redirect address — and the same answer whether the login exists or not."""
from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from directory.db import db
from mailgate.models import OutboundEntry
from tests.conftest import DEMO_PASSWORD, csrf_token, login, post_form

from .test_preferences import mails_to, page_text

NEW_PASSWORD = "Nouveau-mot-2026!"
SENT = "Si cet identifiant correspond à un compte qui a une adresse de redirection vérifiée"


def ask(client, login_name: str):
    """Ask for a link. It is written once the answer has been sent, when the web server
    closes the response (portal/password_reset.py): the test client's is closed here."""
    response = post_form(client, "/mot-de-passe-oublie/", {"login": login_name},
                         page="/mot-de-passe-oublie/")
    response.close()
    return response


def reset_links(app, address: str) -> list[str]:
    paths = []
    for message in mails_to(app, address):
        if message["Subject"] == "Préau : mot de passe oublié":
            body = message.get_body(("plain",)).get_content()
            paths += [urlsplit(u).path for u in
                      re.findall(r"https?://\S+/mot-de-passe-oublie/\S+", body)]
    return paths


def queued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboundEntry))


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "new": password,
                                   "confirm": password if confirm is None else confirm})


def test_the_login_page_offers_the_link(client):
    html = client.get("/connexion").get_data(as_text=True)
    assert 'href="/mot-de-passe-oublie/"' in html and "Mot de passe oublié ?" in html
    page = page_text(client.get("/mot-de-passe-oublie/"))
    assert "Élèves : demandez à votre professeur ou à l'administrateur" in page


def test_a_parent_gets_a_link_that_works_once(app, client):
    before = len(reset_links(app, "joseph@example.org"))
    response = ask(client, "joseph.fabre")
    assert response.status_code == 200 and SENT in page_text(response)
    links = reset_links(app, "joseph@example.org")
    assert len(links) == before + 1
    path = links[-1]

    opened = client.get(path)               # a mail scanner opening it spends nothing
    assert opened.status_code == 200 and "Compte « joseph.fabre »" in page_text(opened)
    refused = choose(client, path, "court")
    assert refused.status_code == 400
    assert login(app.test_client(), "joseph.fabre").status_code == 302   # still the old one

    done = choose(client, path)
    assert done.status_code == 302 and done.headers["Location"] == "/connexion"
    assert login(app.test_client(), "joseph.fabre", NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), "joseph.fabre").status_code == 400

    again = client.get(path)
    assert again.status_code == 400 and "Ce lien a déjà servi" in page_text(again)
    assert choose_raw(client, path).status_code == 400
    assert login(app.test_client(), "joseph.fabre", NEW_PASSWORD).status_code == 302


def choose_raw(client, path: str):
    """Post a new password to a spent link (the token comes from the login page)."""
    token = csrf_token(client.get("/connexion").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "new": "Autre-mot-2026!",
                                   "confirm": "Autre-mot-2026!"})


def test_the_same_answer_whether_the_login_exists_or_not(app, client):
    before = queued(app)
    answers = set()
    for login_name in ("zoe.le-gall", "paul.durand", "personne.inconnue"):
        response = ask(app.test_client(), login_name)
        assert response.status_code == 200
        answers.add(page_text(response))
    assert len(answers) == 1 and SENT in answers.pop()
    assert queued(app) == before            # no redirect address, no account: no mail


def test_a_link_older_than_an_hour_has_expired(app, monkeypatch):
    with monkeypatch.context() as past:
        past.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3660)
        ask(app.test_client(), "claire.bernard")
    path = reset_links(app, "claire.bernard@example.net")[-1]
    visitor = app.test_client()
    opened = visitor.get(path)
    assert opened.status_code == 400 and "Ce lien a expiré" in page_text(opened)
    assert choose_raw(visitor, path).status_code == 400
    assert login(app.test_client(), "claire.bernard", DEMO_PASSWORD).status_code == 302


def test_a_forged_link_is_refused(client):
    response = client.get("/mot-de-passe-oublie/eyJhY2NvdW50IjoxfQ.forged.sig")
    assert response.status_code == 400 and "Ce lien n'est pas valide" in page_text(response)


def test_requests_are_throttled(app):
    visitor = app.test_client()
    for _ in range(5):
        assert ask(visitor, "lucas.martin").status_code == 200
    blocked = ask(visitor, "lucas.martin")
    assert blocked.status_code == 400 and "Trop de demandes" in page_text(blocked)
    assert login(visitor, "lucas.martin").status_code == 302   # logging in is not locked
