"""The accounts pages, after review: a page past the last of the (capped) results is refused
before its OFFSET is run, and the last page links to no further one; a generated password
replaces the current one only once the page saying so has been confirmed, from the account
page as from « Imprimer une fiche »."""
from __future__ import annotations

import re
from math import ceil

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from directory import account_admin
from directory.db import db
from directory.models import Account
from mailgate.models import OutboundEntry
from tests.conftest import csrf_token
from tests.query_count import counting

from .annuaire_helpers import Element, html, messages

ACCOUNTS = "/administration/comptes/"
NO_SUCH_PAGE = "Cette page n'existe pas : les résultats tiennent sur {} page(s)."


def statements_of(app):
    """(SQL text, parameter values) of every statement run on the app's engine inside the
    block."""
    return counting(app, with_values=True)


def offsets(statements: list[tuple[str, list]]) -> set[int]:
    """The whole numbers given to the statements that have an OFFSET (SQLite writes one
    with every LIMIT, 0 for the count)."""
    return {value for statement, values in statements if "OFFSET" in statement
            for value in values if isinstance(value, int)}


def counted(page: Element) -> int:
    return int(re.search(r"(\d+) comptes?\.", page.one("p", class_="result-count").text)[1])


def page_links(page: Element) -> list[str]:
    return [a.text for a in page.one("ul", class_="pagination").all("a")]


def test_a_page_past_the_last_is_refused_before_its_offset_is_run(admin, app):
    pages = ceil(counted(html(admin.get(ACCOUNTS))) / 50)
    with statements_of(app) as last_page:
        response = admin.get(ACCOUNTS, query_string={"page": pages})
    assert response.status_code == 200
    assert "Page suivante" not in page_links(html(response))
    assert (pages - 1) * 50 in offsets(last_page)

    for number in (pages + 1, 100_000):
        with statements_of(app) as past:
            response = admin.get(ACCOUNTS, query_string={"page": number})
        assert response.status_code == 404, number
        assert NO_SUCH_PAGE.format(pages) in messages(html(response))
        assert past and (number - 1) * 50 not in offsets(past), past


def test_past_the_count_cap_the_last_page_links_to_no_further_one(admin, app, monkeypatch):
    """Counted up to the cap + 1, the results beyond the cap are not paged through: the
    cap's last page offered « Page suivante » to a page that does not exist."""
    monkeypatch.setattr(account_admin, "COUNT_CAP", 100)
    first = html(admin.get(ACCOUNTS))
    assert "Plus de 100 comptes." in first.one("p", class_="result-count").text
    last = admin.get(ACCOUNTS, query_string={"page": 2})
    assert last.status_code == 200
    assert page_links(html(last)) == ["Page précédente"]
    assert admin.get(ACCOUNTS, query_string={"page": 3}).status_code == 404


def password_hash(app, login: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Account.password_hash).where(Account.login == login))


def account_id(app, login: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.login == login))


def mails_to(app, address: str) -> int:
    with app.app_context():
        return len(db.session.scalars(select(OutboundEntry.id).where(
            OutboundEntry.address == address)).all())


def submit(client, page: Element, form: Element, **choices):
    """What a browser sends for `form` of `page` (its inputs, the chosen options)."""
    data = MultiDict([(i.attrs["name"], i.attrs.get("value", "")) for i in form.all("input")
                      if i.attrs.get("name")])
    for name, value in choices.items():
        data[name] = value
    return client.post(form.attrs.get("action") or page.attrs.get("url"), data=data)


def password_form(client, target: int) -> tuple[Element, Element]:
    page = html(client.get(f"{ACCOUNTS}{target}"))
    return page, page.one("form", class_="password-reset")


def test_sending_a_new_password_first_says_the_current_one_stops_working(admin, app):
    claire = account_id(app, "claire.bernard")
    before = password_hash(app, "claire.bernard")
    page, form = password_form(admin, claire)

    asked = submit(admin, page, form, mode="envoyer")

    assert asked.status_code == 200
    confirm = html(asked)
    assert "Envoyer un nouveau mot de passe à Claire Bernard" in confirm.one("h1").text
    assert ("sera envoyé à claire.bernard@example.net : le mot de passe actuel de "
            "claire.bernard cessera de fonctionner") in confirm.text
    assert password_hash(app, "claire.bernard") == before
    assert mails_to(app, "claire.bernard@example.net") == 0

    [button_form] = [f for f in confirm.all("form")
                     if f.attrs.get("action") == f"{ACCOUNTS}{claire}/mot-de-passe"]
    done = admin.post(button_form.attrs["action"], data=MultiDict(
        [(i.attrs["name"], i.attrs.get("value", "")) for i in button_form.all("input")]),
        follow_redirects=True)
    assert "1 mot de passe envoyé par courriel." in messages(html(done))
    assert password_hash(app, "claire.bernard") != before
    assert mails_to(app, "claire.bernard@example.net") == 1


def test_printing_a_sheet_from_the_account_page_asks_first_too(admin, app):
    zoe = account_id(app, "zoe.le-gall")
    before = password_hash(app, "zoe.le-gall")
    page, form = password_form(admin, zoe)

    confirm = html(submit(admin, page, form, mode="fiche"))

    assert "le mot de passe actuel de zoe.le-gall cessera de fonctionner" in confirm.text
    assert not confirm.all("dd", class_="sheet-password")
    assert password_hash(app, "zoe.le-gall") == before
    [button_form] = [f for f in confirm.all("form")
                     if f.attrs.get("action") == f"{ACCOUNTS}{zoe}/fiche"]
    sheet = html(admin.post(button_form.attrs["action"], data={
        "csrf_token": button_form.one("input", name="csrf_token").attrs["value"]}))
    assert sheet.one("dd", class_="sheet-login").text == "zoe.le-gall"
    assert password_hash(app, "zoe.le-gall") != before


def test_a_forged_post_without_the_confirmation_changes_no_password(admin, app):
    claire = account_id(app, "claire.bernard")
    before = password_hash(app, "claire.bernard")
    token = csrf_token(admin.get(f"{ACCOUNTS}{claire}").get_data(as_text=True))
    for mode in ("envoyer", "fiche"):
        response = admin.post(f"{ACCOUNTS}{claire}/mot-de-passe",
                              data={"csrf_token": token, "mode": mode})
        assert response.status_code == 200
        assert "cessera de fonctionner" in html(response).text
    assert password_hash(app, "claire.bernard") == before
    assert mails_to(app, "claire.bernard@example.net") == 0
