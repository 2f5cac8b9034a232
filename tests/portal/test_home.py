"""The home page as each demo account sees it: the Messagerie's unread count and latest
messages (students) or latest sendings and where their mail goes (the others), the agenda's
next events and the rubrics' latest articles, each in a section of its own."""
from __future__ import annotations

import re

from tests.conftest import login

from .annuaire_helpers import html
from .messagerie_helpers import compose_post, deliver, person


def home(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return html(client.get("/")), client


def mail_section(page):
    return page.one("section", aria_labelledby="home-mail")


def unread(section) -> int:
    found = re.search(r"(\d+) messages? non lus?", section.text)
    return int(found.group(1)) if found else 0


def test_every_demo_account_gets_the_three_sections(app):
    for login_name in ("zoe.le-gall", "joseph.fabre", "claire.bernard", "paul.durand", "admin"):
        page, _ = home(app, login_name)
        titles = [s.one("h2").text for s in page.all("section", class_="home-section")]
        assert titles == ["Messagerie", "Prochains évènements", "Derniers articles"], login_name


def test_a_pupil_sees_her_unread_messages_newest_first(app):
    before = unread(mail_section(home(app, "zoe.le-gall")[0]))
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Devoirs pour jeudi")
    section = mail_section(home(app, "zoe.le-gall")[0])
    assert unread(section) == before + 1
    first = section.one("ul", class_="latest-mail").all("li")[0]
    assert first.text.startswith("Devoirs pour jeudi (non lu) Claire Bernard")
    assert first.one("a").attrs["href"].startswith("/messagerie/message/")


def test_others_see_where_their_mail_goes_and_their_latest_sendings(app):
    section = mail_section(home(app, "claire.bernard")[0])
    assert "transférés à claire.bernard@example.net" in section.text
    _, claire = home(app, "claire.bernard")
    compose_post(claire, {"to": f"p:{person(app, 'lucas.martin')}",
                          "subject": "Sortie au musée", "copy": ""})
    section = mail_section(html(claire.get("/")))
    assert section.one("ul", class_="latest-mail").all("li")[0].text.startswith(
        "Sortie au musée à Lucas Martin")
    paul = mail_section(home(app, "paul.durand")[0])
    assert "ne peuvent pas vous parvenir" in paul.text
