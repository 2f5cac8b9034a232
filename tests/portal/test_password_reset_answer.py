"""« Mot de passe oublié ? » answers before it looks at the account: the same page after the
same statements for every login, the link written into the queue only once the answer has
been sent (the web server closes the response then; here the test closes it)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.conftest import csrf_token, page_text, post_form
from tests.query_count import counting

from .test_password_reset import SENT, queued, reset_links
from .test_preferences import mails_to

LOGINS = ("joseph.fabre", "paul.durand", "personne.inconnue")   # verified address, none, unknown
CSRF_VALUE = re.compile(r'value="[^"]{40,}"')


def ask_and_watch(app, login_name: str, client=None):
    """Ask for a link; the answer, and the statements run before it was sent."""
    client = client or app.test_client()
    page = client.get("/mot-de-passe-oublie/").get_data(as_text=True)
    with counting(app) as statements:
        response = client.post("/mot-de-passe-oublie/",
                               data={"csrf_token": csrf_token(page), "login": login_name})
        html = response.get_data(as_text=True)
    return response, html, statements


def test_every_login_gets_the_same_answer_after_the_same_work(app):
    before = queued(app)
    answers, works, responses = set(), set(), []
    for login_name in LOGINS:
        response, html, statements = ask_and_watch(app, login_name)
        assert response.status_code == 200 and SENT in page_text(response)
        answers.add(CSRF_VALUE.sub("", html))
        works.add(tuple(statements))
        responses.append(response)
    assert len(answers) == 1 and len(works) == 1, works
    assert queued(app) == before            # nothing written for any account yet
    assert not any(re.search(r"\bFROM account\b", statement) for statement in works.pop())
    for response in responses:
        response.close()
    assert queued(app) == before + 1         # Joseph's link, and his only


def test_the_link_is_mailed_once_the_answer_is_sent_and_works(app):
    before = len(reset_links(app, "joseph@example.org"))
    response, _, _ = ask_and_watch(app, "joseph.fabre")
    assert len(reset_links(app, "joseph@example.org")) == before
    response.close()
    links = reset_links(app, "joseph@example.org")
    assert len(links) == before + 1
    opened = app.test_client().get(links[-1])
    assert opened.status_code == 200 and "Compte « joseph.fabre »" in page_text(opened)


def test_the_mail_is_written_in_the_language_of_the_request_with_a_link_here(app):
    client = app.test_client()
    post_form(client, "/langue/en", {"next": "/"}, page="/connexion")
    before = {m["Message-ID"] for m in mails_to(app, "joseph@example.org")}
    response, _, _ = ask_and_watch(app, "joseph.fabre", client)
    response.close()
    mail = [m for m in mails_to(app, "joseph@example.org") if m["Message-ID"] not in before]
    assert [m["Subject"] for m in mail] == ["Préau: forgotten password"]
    links = re.findall(r"https?://\S+/mot-de-passe-oublie/\S+",
                       mail[0].get_body(("plain",)).get_content())
    assert [urlsplit(link).netloc for link in links] == ["localhost"]
