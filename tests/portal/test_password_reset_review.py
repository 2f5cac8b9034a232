"""« Mot de passe oublié ? » after review R4: (3) however many ask for a member's link from
however many addresses, few mails reach their mailbox, and every request gets the same page;
(8) a link mailed to a redirect address since replaced — by the member, an administrator or
an import — no longer opens, and a new one, mailed to the new address, does."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from directory import redirects
from directory.account_admin import AccountEdit, edit_account
from directory.account_file import read_account_file
from directory.account_import import apply_import
from directory.clock import travel_to, utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AccountSchool, School
from mailgate.models import EntryKind, OutboundEntry
from portal.password_reset import MAIL_AGAIN_AFTER
from tests.conftest import DEMO_PASSWORD, csrf_token, login, page_text
from tests.directory.account_files import utf8_bom_moodle

from .test_password_reset import NEW_PASSWORD, SENT, choose, choose_raw, reset_links
from .test_password_reset_answer import ask_and_watch

JOSEPH = "joseph@example.org"
NEW_ADDRESS = "joseph.fabre@example.net"
CSRF_VALUE = re.compile(r'value="[^"]{40,}"')


def links_mailed(app, address: str = JOSEPH) -> int:
    """The system mails queued to `address` (each a link: nothing else is asked here)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboundEntry).where(
            OutboundEntry.kind == EntryKind.SYSTEM, OutboundEntry.address == address))


def ask_from(app, client_address: str, login_name: str = "joseph.fabre"):
    """Ask from a browser of its own at `client_address`: (status, page without its CSRF
    value). The link is written when the response is closed, as the web server does."""
    client = app.test_client()
    page = client.get("/mot-de-passe-oublie/").get_data(as_text=True)
    response = client.post("/mot-de-passe-oublie/",
                           data={"csrf_token": csrf_token(page), "login": login_name},
                           environ_base={"REMOTE_ADDR": client_address})
    html = response.get_data(as_text=True)
    response.close()
    return response.status_code, CSRF_VALUE.sub("", html)


# 3 -------------------------------------------------------------------------------------------

def test_requests_from_many_addresses_send_few_mails(app):
    """Twenty requests for Joseph from twenty addresses, three minutes apart (past every
    delay of the throttle), over an hour: every one is answered the same page, and three
    links are mailed — at 0, 21 and 42 minutes — instead of twenty."""
    before = links_mailed(app)
    start = utcnow()
    answers = set()
    for n in range(20):
        with travel_to(start + timedelta(minutes=3 * n)):
            status, html = ask_from(app, f"203.0.113.{n + 1}")
        assert status == 200 and SENT in html
        answers.add(html)
    assert len(answers) == 1
    assert links_mailed(app) - before == 3


def test_one_link_in_twenty_minutes_and_the_next_after(app):
    before = links_mailed(app)
    start = utcnow()
    with travel_to(start):
        ask_from(app, "198.51.100.1")
    assert links_mailed(app) == before + 1
    with travel_to(start + MAIL_AGAIN_AFTER - timedelta(seconds=5)):
        assert ask_from(app, "198.51.100.2")[0] == 200
    assert links_mailed(app) == before + 1
    with travel_to(start + MAIL_AGAIN_AFTER + timedelta(seconds=5)):
        assert ask_from(app, "198.51.100.3")[0] == 200
    assert links_mailed(app) == before + 2


def test_a_request_that_mails_nothing_looks_like_one_that_mails(app):
    """The same page after the same statements, whether a link goes out or not: what is
    decided happens once the answer has been sent."""
    mailing, html_mailing, work_mailing = ask_and_watch(app, "joseph.fabre")
    mailing.close()
    assert links_mailed(app) >= 1
    before = links_mailed(app)
    quiet, html_quiet, work_quiet = ask_and_watch(app, "joseph.fabre")
    quiet.close()
    assert links_mailed(app) == before
    assert quiet.status_code == mailing.status_code == 200
    assert CSRF_VALUE.sub("", html_quiet) == CSRF_VALUE.sub("", html_mailing)
    assert work_quiet == work_mailing


def test_the_link_mailed_is_the_accounts_in_the_queue(app):
    """The queue entry names its account: the count finds it by its index, and erasing the
    account forgets its address (mailgate/mailbox.py delete_accounts)."""
    ask_from(app, "198.51.100.7")
    with app.app_context():
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        owners = set(db.session.scalars(select(OutboundEntry.account_id).where(
            OutboundEntry.kind == EntryKind.SYSTEM, OutboundEntry.address == JOSEPH)))
    assert owners == {joseph.id}


# 8 -------------------------------------------------------------------------------------------

def _joseph() -> Account:
    return db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))


def _by_the_member(address: str) -> None:
    joseph = _joseph()
    secret = current_app.config["SECRET_KEY"]
    redirects.confirm(joseph, redirects.request_change(joseph, address, secret), secret)


def _by_an_administrator(address: str) -> None:
    admin = db.session.scalar(select(Account).where(Account.is_admin.is_(True))
                              .order_by(Account.id).limit(1))
    edit_account(admin, _joseph(), AccountEdit(
        first_name="Joseph", last_name="Fabre", profile=Profile.PARENT, class_id=None,
        redirect_address=address, children_logins=["zoe.le-gall"]))


def _by_an_import(address: str) -> None:
    school = db.session.scalar(
        select(School).join(AccountSchool, AccountSchool.school_id == School.id)
        .where(AccountSchool.account_id == _joseph().id))
    data = utf8_bom_moodle([["Fabre", "Joseph", "parent", "", address, "", ""]])
    assert apply_import(school, read_account_file(data))[1] == 1


CHANGES = {"member": _by_the_member, "administrator": _by_an_administrator,
           "import": _by_an_import}


@pytest.mark.parametrize("who", sorted(CHANGES))
def test_a_link_mailed_to_a_replaced_address_is_refused(app, client, who):
    before = len(reset_links(app, JOSEPH))
    ask_from(app, "198.51.100.20")
    links = reset_links(app, JOSEPH)
    assert len(links) == before + 1
    old = links[-1]
    assert client.get(old).status_code == 200        # good until the address changes

    with app.app_context():
        CHANGES[who](NEW_ADDRESS)
        db.session.commit()
        assert _joseph().verified_redirect == NEW_ADDRESS

    opened = client.get(old)
    assert opened.status_code == 400 and "adresse de redirection qui a changé" in page_text(opened)
    assert choose_raw(client, old).status_code == 400
    assert login(app.test_client(), "joseph.fabre", DEMO_PASSWORD).status_code == 302

    # a new link goes to the new address at once (the old address's mail does not count)
    # and works
    before_new = len(reset_links(app, NEW_ADDRESS))
    ask_from(app, "198.51.100.21")
    new_links = reset_links(app, NEW_ADDRESS)
    assert len(new_links) == before_new + 1
    done = choose(app.test_client(), new_links[-1])
    assert done.status_code == 302 and done.headers["Location"] == "/connexion"
    assert login(app.test_client(), "joseph.fabre", NEW_PASSWORD).status_code == 302


def test_a_link_is_refused_once_the_address_is_removed(app, client):
    before = len(reset_links(app, JOSEPH))
    ask_from(app, "198.51.100.30")
    old = reset_links(app, JOSEPH)[before:][-1]
    with app.app_context():
        _by_an_administrator("")
        db.session.commit()
    opened = client.get(old)
    assert opened.status_code == 400 and "adresse de redirection qui a changé" in page_text(opened)
    assert choose_raw(client, old).status_code == 400


def test_the_same_address_typed_again_keeps_the_link(app, client):
    """Only a change of address spends the link: an edit that leaves it as it was does not."""
    before = len(reset_links(app, JOSEPH))
    ask_from(app, "198.51.100.40")
    old = reset_links(app, JOSEPH)[before:][-1]
    with app.app_context():
        _by_an_administrator(JOSEPH)
        db.session.commit()
    assert client.get(old).status_code == 200
    assert choose(client, old).status_code == 302
