"""Fixes after the front-end review: « Mes messages à plusieurs » is paged, 20 messages a page,
reading only the columns its table shows; the language switch brings one back to the same
address, query string included (the login page keeps where it leads after login)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import insert

from directory.db import db
from mailgate.automations.models import Communication, Kind, Repeat
from tests.query_count import counting, queries_of

from ..conftest import DEMO_PASSWORD, csrf_token
from .annuaire_helpers import account, html

LIST = "/communications/"


def write_messages(app, login: str, count: int, first: int = 1) -> None:
    """`count` messages « Note NN » of `login`, one a day from 2026-01-01 (NN the day's
    number), with a long body the list has no use for."""
    with app.app_context():
        author = account(app, login)
        db.session.execute(insert(Communication), [
            {"author_id": author.id, "name": f"Note {n:02d}", "kind": Kind.MESSAGE,
             "subject": f"Note {n:02d}", "body": "Corps de la note. " * 500,
             "audience": {"group_ids": [1]}, "audience_label": "Classe 4A",
             "repeat": Repeat.ONCE, "draft": n % 2 == 0, "active": True,
             "created_at": datetime(2026, 1, 1) + timedelta(days=n)}
            for n in range(first, first + count)])
        db.session.commit()


def subjects(response) -> list[str]:
    table = html(response).one("table", class_="communications")
    return [tr.all("td")[0].text for tr in table.one("tbody").all("tr")]


def test_my_messages_are_shown_twenty_a_page_newest_first(app, teacher):
    write_messages(app, "claire.bernard", 25)
    first = teacher.get(LIST)
    assert first.status_code == 200
    assert subjects(first) == [f"Note {n:02d}" for n in range(25, 5, -1)]
    pages = html(first).one("ul", class_="pagination")
    assert [a.attrs["href"] for a in pages.all("a", rel="next")] == [f"{LIST}?page=2"]
    assert "Page 1 sur 2" in html(first).one("nav", aria_label="Pages de résultats").text

    second = teacher.get(f"{LIST}?page=2")
    assert second.status_code == 200
    assert subjects(second) == [f"Note {n:02d}" for n in range(5, 0, -1)]
    links = {a.text: a.attrs["href"] for a in html(second).one("table").all("a")}
    communication_id = links["Note 04"].rsplit("/", 1)[1]
    assert links["Note 04"] == f"/communications/ecrire/{communication_id}"   # a draft
    assert links["Note 05"].startswith("/communications/messages/")
    assert teacher.get(f"{LIST}?page=3").status_code == 404
    assert subjects(teacher.get(f"{LIST}?page=x")) == subjects(first)


def test_my_messages_page_reads_a_bounded_number_of_statements_without_the_bodies(app,
                                                                                   teacher):
    write_messages(app, "claire.bernard", 3)
    few = queries_of(app, teacher, LIST)
    write_messages(app, "claire.bernard", 60, first=4)
    assert queries_of(app, teacher, LIST) == few <= 10
    with counting(app) as statements:
        assert teacher.get(LIST).status_code == 200
    listing = [s for s in statements if s.startswith("SELECT communication.")]
    assert len(listing) == 1, statements
    assert "communication.subject" in listing[0]
    assert re.search(r"communication\.(body|audience)\b", listing[0]) is None, listing[0]


def test_the_language_switch_keeps_where_the_login_page_leads(client):
    asked = client.get("/messagerie/ecrire?repondre=42")
    assert asked.status_code == 302
    login_page = asked.headers["Location"]
    assert login_page.startswith("/connexion?next=")
    page = html(client.get(login_page))
    switch = page.one("footer").one("form")
    assert switch.attrs["action"] == "/langue/en"
    kept = switch.one("input", name="next").attrs["value"]
    assert kept == login_page

    switched = client.post("/langue/en", data={
        "csrf_token": switch.one("input", name="csrf_token").attrs["value"], "next": kept})
    assert switched.headers["Location"] == login_page
    english = client.get(login_page).get_data(as_text=True)
    assert "Log in to Préau" in english
    logged = client.post(login_page, data={"csrf_token": csrf_token(english),
                                           "login": "claire.bernard", "password": DEMO_PASSWORD})
    assert logged.headers["Location"] == "/messagerie/ecrire?repondre=42"


def test_the_language_switch_of_a_page_without_query_names_the_path_alone(client):
    switch = html(client.get("/connexion")).one("footer").one("form")
    assert switch.one("input", name="next").attrs["value"] == "/connexion"
