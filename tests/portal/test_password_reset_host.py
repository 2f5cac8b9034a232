"""The « mot de passe oublié » link begins with PREAU_PUBLIC_URL, never with the Host header:
anyone may ask for a link for someone else's login with `Host: evil.example`, and the owner
would get a genuine link to that site — one click, and its token is the attacker's."""
from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import pytest

from directory.errors import InvalidInput
from portal import config
from tests.conftest import csrf_token, page_text

from .test_password_reset import SENT
from .test_preferences import mails_to

EVIL = "http://evil.example"


def ask_from(app, base_url: str, login_name: str = "joseph.fabre"):
    """Ask for a link with every request made to `base_url` (its Host header), and close the
    answer as the web server does, which mails the link."""
    client = app.test_client()
    page = client.get("/mot-de-passe-oublie/", base_url=base_url).get_data(as_text=True)
    response = client.post("/mot-de-passe-oublie/", base_url=base_url,
                           data={"csrf_token": csrf_token(page), "login": login_name})
    assert response.status_code == 200 and SENT in page_text(response)
    response.close()
    return response


def mailed_links(app, before: set[str]) -> list[str]:
    found = []
    for mail in mails_to(app, "joseph@example.org"):
        if mail["Message-ID"] not in before:
            found += re.findall(r"https?://\S+/mot-de-passe-oublie/\S+",
                                mail.get_body(("plain",)).get_content())
    return found


def sent_before(app) -> set[str]:
    return {m["Message-ID"] for m in mails_to(app, "joseph@example.org")}


def test_a_link_asked_with_another_host_is_not_mailed_to_that_host(app, caplog):
    before = sent_before(app)
    with caplog.at_level(logging.ERROR, logger="preau.portal"):
        ask_from(app, EVIL)
    assert mailed_links(app, before) == []
    assert "PREAU_PUBLIC_URL" in caplog.text and "evil.example" in caplog.text
    ask_from(app, "http://localhost")       # this machine: `make run`, the tests
    assert [urlsplit(link).netloc for link in mailed_links(app, before)] == ["localhost"]


def test_the_link_begins_with_the_public_url_whatever_the_host(app, monkeypatch):
    monkeypatch.setitem(app.config["PREAU"], "PUBLIC_URL", "https://ent.example.org")
    before = sent_before(app)
    ask_from(app, EVIL)
    links = mailed_links(app, before)
    assert len(links) == 1
    link = urlsplit(links[0])
    assert (link.scheme, link.netloc) == ("https", "ent.example.org")
    opened = app.test_client().get(link.path)
    assert opened.status_code == 200 and "Compte « joseph.fabre »" in page_text(opened)


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "127.0.0.2",
                                  "[::1]:5000"])
def test_unset_the_link_may_go_to_this_machine(host):
    assert config.link_origin({}, host, "http") == f"http://{host}"


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "evil.example@localhost", "localhost/evil.example",
                                  "localhost:port", "[::1", "10.0.0.1:5000", ""])
def test_unset_no_link_goes_anywhere_else(host):
    assert config.link_origin({}, host, "http") is None


def test_the_setting_is_an_origin_or_preau_does_not_start(tmp_path, monkeypatch):
    monkeypatch.setenv("PREAU_SECRET_KEY", "test")
    monkeypatch.setenv("PREAU_PUBLIC_URL", "https://ent.example.org/")
    assert config.load(tmp_path)["PREAU"]["PUBLIC_URL"] == "https://ent.example.org"
    for wrong in ("ent.example.org", "ftp://ent.example.org", "https://ent.example.org/ent",
                  "https://ent.example.org:port", "https://u@ent.example.org"):
        monkeypatch.setenv("PREAU_PUBLIC_URL", wrong)
        with pytest.raises(InvalidInput, match="PREAU_PUBLIC_URL invalide"):
            config.load(tmp_path)
