"""The second review of rubrics and population mailing (R2), through HTTP: an author who reads
the portal in English still mails French families in French; a draft published « maintenant »
is dated now; the progress bar's poll counts the pending recipients alone; no reminder for an
article put back to draft nor before the mailing is finished; a reader of the article is told
a mailing of it does not exist (404); control characters never reach the Atom feed."""
from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from html import unescape
from xml.etree import ElementTree

from sqlalchemy import event, func, select, update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from directory.rubric_models import Rubric
from mailgate import fanout, store
from mailgate.fanout_models import FanoutJob
from mailgate.models import MailboxItem, MailMessage
from portal.rubriques.models import Article
from tests.conftest import csrf_token, post_form
from tests.query_count import FIXTURE_STATEMENTS, counting

from .annuaire_helpers import Element, messages
from .annuaire_helpers import html as tree
from .rubriques_helpers import (
    client_of,
    four_a_rubric,
    html,
    publish,
    route_everything,
    send_form,
)

PARENTS_4A = "Parents d'élèves de 4A"
PUPILS_4A = "Élèves de 4A"


def job_id_of(url: str) -> int:
    return int(url.rstrip("/").split("/")[-1])


def send(app, client, article_id: int, parents: str, pupils: str, *, acknowledge=True,
         route=True) -> str:
    """The mailing form posted as its page gives it, to the 4A parents and pupils, named
    `parents` and `pupils` in the page's language; the job's URL."""
    form = send_form(client, article_id)
    data = {"csrf_token": form["csrf_token"], "cle": form["cle"],
            "populations": [form["populations"][parents], form["populations"][pupils]],
            "texte": "Merci de lire l'article.", "envoyer": "1"}
    if acknowledge:
        data["confirmation"] = "y"
    response = client.post(f"/rubriques/articles/{article_id}/envoyer", data=data)
    assert response.status_code == 303, html(response)
    if route:
        route_everything(app)
    return response.headers["Location"]


def remind(client, job_url: str):
    report = html(client.get(job_url))
    key = re.search(r'id="cle" name="cle" type="hidden" value="([^"]+)"', report)
    return client.post(job_url + "/rappel", data={
        "csrf_token": csrf_token(report), "cle": key[1] if key else "0123456789abcdef"})


def jobs_of(app, article_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"article:{article_id}"))


def delivered(app, job_id: int, login_name: str):
    """The job's message as it sits in `login_name`'s mailbox (a pupil: Préau's own)."""
    with app.app_context():
        job = db.session.get(FanoutJob, job_id)
        owner = db.session.scalar(select(Account.id).where(Account.login == login_name))
        assert db.session.scalar(select(func.count()).select_from(MailboxItem).where(
            MailboxItem.message_id == job.message_id, MailboxItem.account_id == owner)) == 1
        stored = db.session.get(MailMessage, job.message_id)
        return job.audience, message_from_bytes(store.message_bytes(stored),
                                                policy=policy.default)


# 1. The mail is French whatever the author's language -----------------------------------------

def test_an_english_author_mails_french_text_to_the_population(app):
    claire = client_of(app, "claire.bernard")
    post_form(claire, "/langue/en", {"next": "/"}, page="/")
    article_id = publish(claire, four_a_rubric(app), "Sortie au musée")
    job_url = send(app, claire, article_id, "Parents of 4A", "Pupils of 4A")
    audience, mail = delivered(app, job_id_of(job_url), "zoe.le-gall")
    assert PARENTS_4A in audience and PUPILS_4A in audience and "of 4A" not in audience
    assert PARENTS_4A in mail["To"] and "Parents of" not in mail["To"]
    text = mail.get_content()
    assert "Lire l'article : http" in text and "Read the article" not in text
    assert "Merci de confirmer votre lecture en un clic :" in text
    assert "Please confirm" not in text
    assert PARENTS_4A in unescape(html(claire.get(job_url)))    # the report names it so

    reminded = remind(claire, job_url)
    assert reminded.status_code == 303
    page = claire.get(reminded.headers["Location"])
    assert any("The reminder goes to" in m for m in messages(tree(page)))  # her language
    route_everything(app)
    audience, mail = delivered(app, job_id_of(reminded.headers["Location"]), "zoe.le-gall")
    assert PARENTS_4A in audience and PARENTS_4A in mail["To"]
    assert mail["Subject"] == "Rappel : Sortie au musée"
    text = mail.get_content()
    assert "Vous n'avez pas encore confirmé la lecture de l'article « Sortie au musée »." \
        in text
    assert "Lire l'article : http" in text and "Merci de confirmer votre lecture" in text
    assert "Reminder" not in text and "not yet confirmed" not in text


# 3. A draft published « maintenant » is dated now ---------------------------------------------

def edit(client, article_id: int, title: str, publication: str):
    page = html(client.get(f"/rubriques/articles/{article_id}/modifier"))
    response = client.post(f"/rubriques/articles/{article_id}/modifier", data={
        "csrf_token": csrf_token(page), "titre": title, "contenu": "<p>Bonjour à tous.</p>",
        "publication": publication, "commentaires": "off"})
    assert response.status_code == 303, html(response)


def days_back(app, article_id: int, days: int) -> None:
    with app.app_context():
        db.session.execute(update(Article).where(Article.id == article_id).values(
            publish_at=utcnow() - timedelta(days=days)))
        db.session.commit()


def publish_at(app, article_id: int):
    with app.app_context():
        return db.session.get(Article, article_id).publish_at


def test_a_draft_published_now_is_dated_now(app):
    claire = client_of(app, "claire.bernard")
    rubric_id = four_a_rubric(app)
    draft = publish(claire, rubric_id, "Brouillon de novembre", publication="brouillon")
    days_back(app, draft, 10)       # written ten days ago
    publish(claire, rubric_id, "Article d'hier")
    edit(claire, draft, "Brouillon de novembre", "maintenant")
    assert abs(publish_at(app, draft) - utcnow()) < timedelta(minutes=1)
    rubric_page = tree(claire.get(f"/rubriques/{rubric_id}"))
    titles = [h.text for h in rubric_page.one("ul", class_="article-list").all("h3")]
    assert titles[:2] == ["Brouillon de novembre", "Article d'hier"]
    home = tree(client_of(app, "zoe.le-gall").get("/"))
    latest = [a.text for a in home.one("ul", class_="latest-articles").all("a")]
    assert latest[0] == "Brouillon de novembre"


def test_an_article_already_published_keeps_its_date_when_edited(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Publié il y a dix jours")
    days_back(app, article_id, 10)
    before = publish_at(app, article_id)
    edit(claire, article_id, "Publié il y a dix jours, corrigé", "maintenant")
    assert publish_at(app, article_id) == before


# 5. The progress poll counts the pending recipients alone -------------------------------------

def test_the_progress_poll_reads_pending_only(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Kermesse de juin")
    route_everything(app)       # jobs older tests of this process left running
    job_url = send(app, claire, article_id, PARENTS_4A, PUPILS_4A, route=False)
    job_id = job_id_of(job_url)

    def figures() -> tuple[dict, dict]:
        with counting(app) as statements:
            polled = claire.get(job_url + "/etat")
        assert polled.status_code == 200
        reads = [s for s in statements if "fanout_recipient" in s]
        assert reads and not [s for s in reads if "GROUP BY" in s or "refusal" in s], reads
        with app.app_context():
            full = fanout.progress(db.session.get(FanoutJob, job_id))
        return polled.get_json(), {"total": full.total, "routed": full.routed,
                                   "percent": full.percent, "finished": full.finished}

    with app.app_context():       # the job half routed: one batch of one recipient
        assert fanout.run_batch(1) == 1
    polled, reported = figures()
    assert polled == reported and 0 < polled["routed"] < polled["total"], polled
    route_everything(app)
    polled, reported = figures()
    assert polled == reported and polled["finished"] and polled["percent"] == 100


def test_the_polled_count_is_a_range_of_the_state_index(app):
    """The plan says so: the pending rows of one job, read from the index alone."""
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Concert de Noël")
    job_id = job_id_of(send(app, claire, article_id, PARENTS_4A, PUPILS_4A, route=False))
    with app.app_context():
        job = db.session.get(FanoutJob, job_id)
        seen = []

        def record(_conn, cursor, statement, parameters, *_args):
            if not statement.startswith(FIXTURE_STATEMENTS):
                seen.append((cursor, statement, parameters))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            fanout.advance(job)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        (used, statement, parameters), = seen
        cursor = used.connection.cursor()       # the same connection, its transaction
        if db.engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            assert "COVERING INDEX ix_fanout_recipient_state" in str(cursor.fetchall())
        else:
            # With a handful of rows PostgreSQL's plan depends on its statistics (it may take
            # the primary key's range and filter): what is asserted is that the statement
            # reads only what ix_fanout_recipient_state holds, counted, with no grouping.
            said = statement.lower()
            assert "group by" not in said and "refusal" not in said
            assert "fanout_recipient.job_id =" in said and "fanout_recipient.state =" in said
            assert "count(" in said
        db.session.rollback()


# 6. No reminder for an article no longer published, nor before the mailing finished -----------

def test_no_reminder_for_an_article_put_back_to_draft(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Autorisation de sortie")
    job_url = send(app, claire, article_id, PARENTS_4A, PUPILS_4A)
    report = html(claire.get(job_url))
    edit(claire, article_id, "Autorisation de sortie", "brouillon")
    assert "rappel" not in html(claire.get(job_url)).split('id="ack-title"')[1]
    key = re.search(r'id="cle" name="cle" type="hidden" value="([^"]+)"', report)[1]
    response = claire.post(job_url + "/rappel", data={"csrf_token": csrf_token(report),
                                                      "cle": key}, follow_redirects=True)
    assert any("L'article n'est plus publié : publiez-le avant de relancer" in m for m in messages(tree(response)))
    assert jobs_of(app, article_id) == 1


def test_no_reminder_before_the_mailing_is_finished(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Réunion de rentrée")
    job_url = send(app, claire, article_id, PARENTS_4A, PUPILS_4A, route=False)
    response = claire.post(job_url + "/rappel", data={
        "csrf_token": csrf_token(html(claire.get(job_url))), "cle": "0123456789abcdef0123"})
    assert response.status_code == 400
    assert jobs_of(app, article_id) == 1


# 7. A mailing is not found by whoever does not manage its article ------------------------------

def test_a_reader_of_the_article_is_told_its_mailing_does_not_exist(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Fête de l'école")
    job_url = send(app, claire, article_id, PARENTS_4A, PUPILS_4A, acknowledge=False)
    for login_name in ("zoe.le-gall", "joseph.fabre"):     # a pupil and a parent, recipients
        reader = client_of(app, login_name)
        assert reader.get(f"/rubriques/articles/{article_id}").status_code == 200
        for url in (job_url, job_url + "/rapport.csv", job_url + "/etat"):
            assert reader.get(url).status_code == 404, (login_name, url)
    assert claire.get(job_url + "/etat").status_code == 200


# 8. Control characters never reach the Atom feed ----------------------------------------------

def feed_url(client, rubric_id: int) -> str:
    page = tree(client.get(f"/rubriques/{rubric_id}"))
    form = page.one("section", id="flux").all("form")[0]
    fields = {i.attrs["name"]: i.attrs.get("value") or "" for i in _inputs(form)}
    answer = client.post(form.attrs["action"], data=fields, follow_redirects=True)
    assert answer.status_code == 200
    return tree(answer).one("input", id="feed-url").attrs["value"]


def _inputs(element: Element) -> list[Element]:
    found = []
    for child in element.children:
        if isinstance(child, Element):
            if child.tag == "input" and child.attrs.get("name"):
                found.append(child)
            found += _inputs(child)
    return found


def test_a_control_character_does_not_break_the_feed(app):
    claire = client_of(app, "claire.bernard")
    rubric_id = four_a_rubric(app)
    settings = html(claire.get(f"/rubriques/{rubric_id}/parametres"))
    renamed = claire.post(f"/rubriques/{rubric_id}/parametres", data={
        "csrf_token": csrf_token(settings), "name": "4A\x01 en\x0cfête",
        "description": "Pour\x0b les\x1f familles"})
    assert renamed.status_code in (200, 303), html(renamed)
    article_id = publish(claire, rubric_id, "Sortie\x01 au\x08 parc\x1b",
                         body="<p>a\x0cb&#1;c&#x1f;d\x02e</p>")
    feed = app.test_client().get(feed_url(client_of(app, "joseph.fabre"), rubric_id))
    assert feed.status_code == 200
    root = ElementTree.fromstring(feed.get_data())
    atom = "{http://www.w3.org/2005/Atom}"
    assert root.find(f"{atom}title").text.startswith("4A enfête")
    assert "Sortie au parc" in [e.find(f"{atom}title").text for e in root.iter(f"{atom}entry")]
    with app.app_context():
        rubric = db.session.get(Rubric, rubric_id)
        assert (rubric.name, rubric.description) == ("4A enfête", "Pour les familles")
        shown = db.session.get(Article, article_id)
        assert shown.title == "Sortie au parc" and shown.body == "<p>abcde</p>"
