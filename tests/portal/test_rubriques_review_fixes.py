"""The rubrics' review, through HTTP with the pages parsed: a manager moderates a comment by
clicking its button, as a browser submits the form; a rubric's private feed keeps only the
SHA-256 of its token and shows its address once, as the agenda's; the Annuaire refuses a page
past its capped range before any OFFSET runs; a rubric lists every article it holds, and a
page past its last says so; an administrator's home page lists the articles of her own spaces;
the comment wording names the rubric's managers."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from math import ceil

import pytest
from sqlalchemy import event, insert, select, text
from werkzeug.datastructures import MultiDict

from directory.clock import utcnow
from directory.db import db
from directory.models import Account, School
from directory.rubric_models import Rubric
from directory.rubrics import ensure_default_rubrics
from portal.directory_pages import RESULTS_CAP
from portal.rubriques.models import Article, ArticleStatus, CommentMode
from tests.conftest import post_form
from tests.query_count import FIXTURE_STATEMENTS

from .annuaire_helpers import Element, messages, status_text
from .annuaire_helpers import html as tree
from .rubriques_helpers import client_of, four_a_rubric, publish


@pytest.fixture
def rubric_id(app):
    return four_a_rubric(app)


@pytest.fixture
def claire(app):
    return client_of(app, "claire.bernard")


def submitted(form: Element, clicked: str) -> MultiDict:
    """What a browser sends when the button reading `clicked` is pressed: the form's named
    inputs and that button, in page order (the other buttons send nothing)."""
    entries: list[tuple[str, str]] = []

    def walk(element: Element) -> None:
        for child in element.children:
            if not isinstance(child, Element):
                continue
            name = child.attrs.get("name")
            if name and child.tag == "input" and child.attrs.get("type") != "submit":
                entries.append((name, child.attrs.get("value") or ""))
            elif name and child.tag == "button" and child.text == clicked:
                entries.append((name, child.attrs.get("value") or ""))
            walk(child)

    walk(form)
    return MultiDict(entries)


def moderation_forms(page: Element) -> list[Element]:
    return [form for form in page.all("form")
            if form.attrs.get("action", "").endswith("/moderer")]


def comment(client, article_id: int, body: str) -> Element:
    url = f"/rubriques/articles/{article_id}"
    return tree(post_form(client, f"{url}/commentaires", {"texte": body}, page=url,
                          follow_redirects=True))


def comment_texts(client, article_id: int) -> list[str]:
    page = tree(client.get(f"/rubriques/articles/{article_id}"))
    assert page.one("h2", id="comments-title").text == "Commentaires"
    return [p.text for p in page.all("p", class_="comment-text")]


# 1. Moderation as a browser submits it ----------------------------------------------------------

def test_no_hidden_decision_precedes_the_moderation_buttons(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Fête de fin d'année", commentaires="moderated")
    comment(client_of(app, "zoe.le-gall"), article_id, "J'apporte un gâteau")
    forms = moderation_forms(tree(claire.get(f"/rubriques/articles/{article_id}")))
    assert len(forms) == 1
    assert [b.text for b in forms[0].all("button")] == ["Publier", "Refuser"]
    assert [i.attrs.get("name") for i in forms[0].all("input")] == ["csrf_token", "commentaire"]


def test_clicking_publier_publishes_a_comment_awaiting_moderation(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Fête de fin d'année", commentaires="moderated")
    comment(client_of(app, "zoe.le-gall"), article_id, "J'apporte un gâteau")
    lucas = client_of(app, "lucas.martin")
    assert "J'apporte un gâteau" not in comment_texts(lucas, article_id)
    form = moderation_forms(tree(claire.get(f"/rubriques/articles/{article_id}")))[0]
    answer = claire.post(form.attrs["action"], data=submitted(form, "Publier"),
                         follow_redirects=True)
    assert comment_texts(lucas, article_id) == ["J'apporte un gâteau"]
    assert "Commentaire publié." in messages(tree(answer))


def test_clicking_masquer_hides_a_published_comment(app, rubric_id, claire):
    article_id = publish(claire, rubric_id, "Sortie au Capitole", commentaires="open")
    comment(client_of(app, "zoe.le-gall"), article_id, "Quel ennui")
    lucas = client_of(app, "lucas.martin")
    assert comment_texts(lucas, article_id) == ["Quel ennui"]
    form = moderation_forms(tree(claire.get(f"/rubriques/articles/{article_id}")))[0]
    answer = claire.post(form.attrs["action"], data=submitted(form, "Masquer"),
                         follow_redirects=True)
    assert comment_texts(lucas, article_id) == []
    assert "Commentaire refusé." in messages(tree(answer))


# 2. Rubric feed tokens: the digest only, the address shown once -----------------------------------

def feed_section(page: Element) -> Element:
    return page.one("section", id="flux")


def new_feed_url(client, rubric_id: int) -> str:
    """« Créer » / « Changer d'adresse », as clicked: the answer shows the address."""
    page = tree(client.get(f"/rubriques/{rubric_id}"))
    form = feed_section(page).all("form")[0]
    answer = client.post(form.attrs["action"], data=submitted(form, form.one("button").text),
                         follow_redirects=True)
    assert answer.status_code == 200
    return feed_section(tree(answer)).one("input", id="feed-url").attrs["value"]


def feed_rows(app) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(text("SELECT * FROM feed_token"))]


def test_a_rubric_feed_keeps_only_the_digest_of_its_token(app, rubric_id, claire):
    publish(claire, rubric_id, "Menu de la cantine")
    joseph = client_of(app, "joseph.fabre")
    url = new_feed_url(joseph, rubric_id)
    token = re.fullmatch(r"http://localhost/rubriques/\d+/flux/([\w-]{43})\.atom", url)[1]
    anonymous = app.test_client()
    feed = anonymous.get(url)
    assert feed.status_code == 200 and "Menu de la cantine" in feed.get_data(as_text=True)
    values = {value for row in feed_rows(app) for value in row}
    assert hashlib.sha256(token.encode()).hexdigest() in values
    assert token not in values


def test_the_feed_address_is_shown_once_and_a_new_one_ends_the_old(app, rubric_id, claire):
    joseph = client_of(app, "joseph.fabre")
    first = new_feed_url(joseph, rubric_id)
    again = feed_section(tree(joseph.get(f"/rubriques/{rubric_id}")))
    assert "Votre flux privé est actif depuis le" in again.text
    assert [b.text for b in again.all("button")] == ["Changer d'adresse",
                                                     "Révoquer l'adresse"]
    assert again.all("input", id="feed-url") == [] and first not in again.text
    second = new_feed_url(joseph, rubric_id)
    anonymous = app.test_client()
    assert second != first and anonymous.get(second).status_code == 200
    assert anonymous.get(first).status_code == 404


# 3. The Annuaire refuses a page past its capped range before any OFFSET ---------------------------

def recorded(app, client, url: str):
    """The answer to GET `url`, and the (statement, parameters) it ran."""
    run: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if not statement.startswith(FIXTURE_STATEMENTS):
            run.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        return client.get(url), run
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_past_the_capped_range_runs_no_offset(app, staff):
    second, run = recorded(app, staff, "/annuaire/?page=2&par_page=100")
    assert second.status_code == 200
    assert 100 in [offset for entry in run for offset in offsets(*entry)]   # offsets are seen
    results = int(re.match(r"(\d+) résultats", status_text(tree(second)))[1])
    answer, run = recorded(app, staff, "/annuaire/?page=11&par_page=100")
    assert answer.status_code == 404
    assert messages(tree(answer)) == [
        "Cette page n'existe pas : les résultats tiennent sur "
        f"{ceil(min(results, RESULTS_CAP) / 100)} page(s)."]
    assert max((offset for entry in run for offset in offsets(*entry)), default=0) < 1000


def offsets(statement: str, parameters) -> list[int]:
    """The OFFSET values of a statement: written in it, or bound (SQLite's `?` by position,
    psycopg's `%(name)s` by name)."""
    found = [int(n) for n in re.findall(r"OFFSET\s+(\d+)", statement, re.IGNORECASE)]
    if isinstance(parameters, dict):
        found += [parameters[name] for name in
                  re.findall(r"OFFSET\s+%\((\w+)\)s", statement, re.IGNORECASE)]
    elif isinstance(parameters, tuple | list) and "OFFSET ?" in statement.upper():
        marks = [m.start() for m in re.finditer(r"\?", statement)]
        found += [parameters[marks.index(m.start() + len("OFFSET "))]
                  for m in re.finditer(r"OFFSET \?", statement, re.IGNORECASE)]
    return found


# 5. A rubric lists every article; a page past its last says so ------------------------------------

def old_articles(app, rubric_id: int, count: int) -> None:
    """`count` published articles, a day apart, the oldest first titled « Le tout premier »."""
    now = utcnow()
    with app.app_context():
        author = db.session.scalar(select(Account.id).where(Account.login == "claire.bernard"))
        db.session.execute(insert(Article), [
            {"rubric_id": rubric_id, "author_id": author,
             "title": "Le tout premier" if n == 0 else f"Article {n}", "body": "<p>x</p>",
             "status": ArticleStatus.PUBLISHED, "comments": CommentMode.OFF,
             "publish_at": now - timedelta(days=count - n),
             "created_at": now, "updated_at": now} for n in range(count)])
        db.session.commit()


def article_titles(page: Element) -> list[str]:
    return [h.text for h in page.one("ul", class_="article-list").all("h3")]


def test_the_oldest_of_a_thousand_and_one_articles_is_on_the_last_page(app, rubric_id):
    old_articles(app, rubric_id, 1001)
    zoe = client_of(app, "zoe.le-gall")
    last = zoe.get(f"/rubriques/{rubric_id}?page=101")
    assert last.status_code == 200
    assert article_titles(tree(last)) == ["Le tout premier"]


def test_a_page_past_the_last_says_it_does_not_exist(app, rubric_id):
    old_articles(app, rubric_id, 12)
    zoe = client_of(app, "zoe.le-gall")
    assert len(article_titles(tree(zoe.get(f"/rubriques/{rubric_id}?page=2")))) == 2
    past = zoe.get(f"/rubriques/{rubric_id}?page=3")
    assert past.status_code == 404
    shown = tree(past)
    articles = shown.one("h2", id="articles-title").parent
    assert "Cette page n'existe pas : la rubrique tient sur 2 page(s)." in articles.text
    assert "Aucun article" not in articles.text
    zero = zoe.get(f"/rubriques/{rubric_id}?page=0")
    assert zero.status_code == 400
    assert tree(zero).one("h2", id="articles-title").parent.text == \
        "Articles Cette page n'existe pas."


# 6. An administrator's home page: the articles of her own spaces ----------------------------------

def test_an_administrators_home_lists_the_articles_of_her_own_spaces(app):
    with app.app_context():
        admin = db.session.scalar(select(Account).where(Account.login == "admin"))
        own = {school.id for school in admin.schools}
        elsewhere = db.session.scalar(select(School.id).where(School.id.not_in(own))
                                      .order_by(School.id).limit(1))
        ensure_default_rubrics([elsewhere, *own])
        rubrics = {school: db.session.scalar(select(Rubric.id).where(
            Rubric.school_id == school, Rubric.group_id.is_(None)).order_by(Rubric.id).limit(1))
            for school in (elsewhere, min(own))}
        now = utcnow()
        for title, school in (("Chez elle", min(own)), ("Ailleurs", elsewhere)):
            db.session.execute(insert(Article).values(
                rubric_id=rubrics[school], author_id=admin.id, title=title, body="<p>x</p>",
                status=ArticleStatus.PUBLISHED, comments=CommentMode.OFF, publish_at=now,
                created_at=now, updated_at=now))
        db.session.commit()
    home = tree(client_of(app, "admin").get("/"))
    latest = home.one("ul", class_="latest-articles")
    titles = [a.text for a in latest.all("a")]
    assert "Chez elle" in titles
    assert "Ailleurs" not in titles


# 8. Comment wording ------------------------------------------------------------------------------

def test_a_moderated_comment_awaits_a_manager_of_the_rubric(app, rubric_id, claire):
    editor = tree(claire.get(f"/rubriques/{rubric_id}/articles/nouveau"))
    assert "Ouverts, publiés après l'accord d'un gestionnaire" in [
        label.text for label in editor.all("label")]
    article_id = publish(claire, rubric_id, "Fête de fin d'année", commentaires="moderated")
    answer = comment(client_of(app, "zoe.le-gall"), article_id, "J'apporte un gâteau")
    assert messages(answer) == [
        "Votre commentaire sera publié après l'accord d'un gestionnaire de la rubrique."]
