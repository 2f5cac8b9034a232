"""What the rubric page tests share: the 4A rubric, a 4B class with a parent, an article
published through the editor as a browser posts it, and the mailing form."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import fanout
from portal.rubriques.models import Article
from tests.conftest import DEMO_PASSWORD, csrf_token, login
from tests.rubric_helpers import parent_of_a_pupil_of, rubric_of, school_class


def four_a_rubric(app) -> int:
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        return rubric_of(school_class("4A", zoe.schools[0])).id


def four_b(app) -> tuple[int, str]:
    """The 4B rubric and the login of a parent of a 4B pupil (made for the test)."""
    with app.app_context():
        zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        group = school_class("4B", zoe.schools[0])
        db.session.commit()
        return rubric_of(group).id, parent_of_a_pupil_of(group).login


def client_of(app, login_name: str, password: str = DEMO_PASSWORD):
    client = app.test_client()
    response = login(client, login_name, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


def publish(client, rubric_id: int, title: str, body: str = "<p>Bonjour à tous.</p>",
            **fields) -> int:
    page = client.get(f"/rubriques/{rubric_id}/articles/nouveau")
    assert page.status_code == 200, html(page)
    response = client.post(f"/rubriques/{rubric_id}/articles/nouveau", data={
        "csrf_token": csrf_token(html(page)), "titre": title, "contenu": body,
        "publication": "maintenant", "commentaires": "off", **fields})
    assert response.status_code == 303, html(response)
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def article(app, article_id: int) -> Article:
    with app.app_context():
        found = db.session.get(Article, article_id)
        db.session.expunge(found)
        return found


def send_form(client, article_id: int) -> dict:
    """The form's fields as the page gives them (CSRF token, one-time key, populations)."""
    page = html(client.get(f"/rubriques/articles/{article_id}/envoyer"))
    key = re.search(r'name="cle" type="hidden" value="([^"]+)"', page) or re.search(
        r'id="cle" name="cle" type="hidden" value="([^"]+)"', page)
    populations = dict((unescape(label).strip(), value) for value, label in re.findall(
        r'<input[^>]*name="populations"[^>]*value="(\d+)"[^>]*>\s*([^<]+)', page))
    return {"csrf_token": csrf_token(page), "cle": key[1] if key else "",
            "populations": populations, "page": page}


def route_everything(app) -> None:
    """What the worker does in the background."""
    with app.app_context():
        while fanout.run_batch():
            pass
