"""Comments of articles and events through HTTP: a page shows the newest PAGE_SIZE with a link
to the older ones, in a bounded number of statements; one author cannot flood an article or an
event (comments awaiting moderation, comments of a day); multi-line comments and descriptions
keep their line breaks (a class of the stylesheet, the CSP forbidding inline styles)."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from agenda.comments import DAILY_MAX, PAGE_SIZE, WAITING_MAX
from agenda.models import Comment
from agenda.models import CommentState as EventCommentState
from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from portal.rubriques.models import ArticleComment, CommentState
from tests.conftest import csrf_token, post_form
from tests.query_count import queries_of

from .annuaire_helpers import Element, group_id, messages, school_id
from .annuaire_helpers import html as tree
from .rubriques_helpers import client_of, four_a_rubric, html, publish

STYLE = (Path(__file__).parent.parent.parent / "portal" / "static" / "style.css").read_text()
EVENT = {"title": "Sortie au musée", "start_date": "2026-03-12", "start_time": "09:00",
         "end_date": "2026-03-12", "end_time": "12:00", "repeat": "none"}


@pytest.fixture
def claire(app):
    return client_of(app, "claire.bernard")


@pytest.fixture
def zoe(app):
    return client_of(app, "zoe.le-gall")


def account_id(app, login: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Account.id).where(Account.login == login))


def article_with(app, claire, mode: str) -> int:
    return publish(claire, four_a_rubric(app), "Sortie au Capitole", commentaires=mode)


def event_with(app, claire, follow_up: str, **fields) -> int:
    gid = group_id(app, "4A")
    response = post_form(claire, f"/agenda/groupe/{gid}/nouveau",
                         {**EVENT, "agenda": gid, "follow_up": follow_up, "publish": "x",
                          **fields})
    assert response.status_code == 302, messages(tree(response))
    return int(response.headers["Location"].rsplit("/", 1)[1])


def old_article_comments(app, article_id: int, count: int, *, first: int = 1) -> None:
    """`count` published comments of Zoé, « Commentaire n » an hour apart, days ago (so
    that none counts towards the flood rule's day)."""
    author, start = account_id(app, "zoe.le-gall"), utcnow() - timedelta(days=30)
    with app.app_context():
        db.session.execute(insert(ArticleComment), [
            {"article_id": article_id, "author_id": author, "body": f"Commentaire {n}",
             "state": CommentState.PUBLISHED, "created_at": start + timedelta(hours=n)}
            for n in range(first, first + count)])
        db.session.commit()


def old_event_comments(app, event_id: int, count: int, *, first: int = 1) -> None:
    author, start = account_id(app, "zoe.le-gall"), utcnow() - timedelta(days=30)
    with app.app_context():
        db.session.execute(insert(Comment), [
            {"event_id": event_id, "author_id": author, "text": f"Commentaire {n}",
             "state": EventCommentState.PUBLISHED, "created_at": start + timedelta(hours=n)}
            for n in range(first, first + count)])
        db.session.commit()


def article_comments_shown(page: Element) -> list[str]:
    return [p.text for p in page.all("p", class_="comment-text")]


def event_comments_shown(page: Element) -> list[str]:
    section = page.one("section", id="commentaires")
    return [p.text for p in section.all("p", class_="comment-text")]


def link(page: Element, rel: str) -> str | None:
    found = [a.attrs["href"] for a in page.one("section", id="commentaires").all("a", rel=rel)]
    assert len(found) <= 1
    return found[0] if found else None


def raw_text(element: Element) -> str:
    """The element's own text as sent, line breaks included."""
    return "".join(c if isinstance(c, str) else raw_text(c) for c in element.children)


# Pages of comments ------------------------------------------------------------------------------

def test_an_article_shows_its_newest_comments_and_links_to_the_older_ones(app, claire, zoe):
    article_id = article_with(app, claire, "open")
    old_article_comments(app, article_id, PAGE_SIZE + 7)
    url = f"/rubriques/articles/{article_id}"
    first = tree(zoe.get(url))
    assert article_comments_shown(first) == [f"Commentaire {n}"
                                             for n in range(8, PAGE_SIZE + 8)]
    assert link(first, "prev") is None
    older = link(first, "next")
    assert older == f"{url}?page=2#commentaires"
    second = tree(zoe.get(older))
    assert article_comments_shown(second) == [f"Commentaire {n}" for n in range(1, 8)]
    assert link(second, "next") is None and link(second, "prev") == f"{url}?page=1#commentaires"
    assert "Commentaires précédents" in first.text and "Commentaires plus récents" in second.text
    assert zoe.get(f"{url}?page=3").status_code == 404
    assert zoe.get(f"{url}?page=0").status_code == 404


def test_every_comment_can_be_reached_past_the_directory_s_cap_of_a_thousand(app, claire, zoe):
    """A search's count stops at 1,000 (one refines the search instead); an event's or an
    article's comments are counted whole, so that the oldest (a moderator's pending ones
    included) stay a page away."""
    event_id, article_id = event_with(app, claire, "open"), article_with(app, claire, "open")
    old_event_comments(app, event_id, 1_060)
    old_article_comments(app, article_id, 1_060)
    for url, shown in ((f"/agenda/evenement/{event_id}", event_comments_shown),
                       (f"/rubriques/articles/{article_id}", article_comments_shown)):
        last = zoe.get(f"{url}?page=22")
        assert last.status_code == 200, url
        assert shown(tree(last))[:2] == ["Commentaire 1", "Commentaire 2"], url
        assert zoe.get(f"{url}?page=23").status_code == 404, url


def test_an_event_shows_its_newest_comments_and_links_to_the_older_ones(app, claire, zoe):
    event_id = event_with(app, claire, "open")
    old_event_comments(app, event_id, PAGE_SIZE + 3)
    url = f"/agenda/evenement/{event_id}"
    first = tree(zoe.get(url))
    assert event_comments_shown(first) == [f"Commentaire {n}" for n in range(4, PAGE_SIZE + 4)]
    assert link(first, "prev") is None and link(first, "next") == f"{url}?page=2#commentaires"
    second = tree(zoe.get(f"{url}?page=2"))
    assert event_comments_shown(second) == ["Commentaire 1", "Commentaire 2", "Commentaire 3"]
    assert link(second, "prev") == f"{url}?page=1#commentaires"
    assert zoe.get(f"{url}?page=3").status_code == 404


def test_the_comment_pages_issue_as_many_statements_with_3_or_200_comments(app, claire, zoe):
    article_id, event_id = article_with(app, claire, "moderated"), event_with(app, claire, "open")
    pages = (f"/rubriques/articles/{article_id}", f"/agenda/evenement/{event_id}")
    old_article_comments(app, article_id, 3)
    old_event_comments(app, event_id, 3)
    few = {url: (queries_of(app, zoe, url), queries_of(app, claire, url)) for url in pages}
    old_article_comments(app, article_id, 197, first=4)
    old_event_comments(app, event_id, 197, first=4)
    many = {url: (queries_of(app, zoe, url), queries_of(app, claire, url)) for url in pages}
    assert few == many
    assert len(article_comments_shown(tree(zoe.get(pages[0])))) == PAGE_SIZE


# One author's flood -----------------------------------------------------------------------------

def comment_on_article(client, article_id: int, text: str):
    url = f"/rubriques/articles/{article_id}"
    return client.post(f"{url}/commentaires", data={"csrf_token": csrf_token(html(
        client.get(url))), "texte": text}, follow_redirects=True)


def comment_on_event(client, event_id: int, text: str):
    return post_form(client, f"/agenda/evenement/{event_id}/commentaires", {"text": text},
                     page=f"/agenda/evenement/{event_id}", follow_redirects=True)


def article_comment_count(app, article_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ArticleComment).where(
            ArticleComment.article_id == article_id))


def event_comment_count(app, event_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Comment).where(
            Comment.event_id == event_id))


def test_an_author_has_at_most_5_article_comments_awaiting_moderation(app, claire, zoe):
    article_id = article_with(app, claire, "moderated")
    for n in range(WAITING_MAX):
        page = tree(comment_on_article(zoe, article_id, f"Question {n}"))
        assert "Votre commentaire sera publié après l'accord d'un gestionnaire de la " \
            "rubrique." in messages(page)
    refused = tree(comment_on_article(zoe, article_id, "Encore une question"))
    assert messages(refused) == [
        "Vous avez déjà 5 commentaires en attente de modération ici : attendez qu'ils soient "
        "lus avant d'en proposer un autre."]
    assert article_comment_count(app, article_id) == WAITING_MAX
    lucas = client_of(app, "lucas.martin")
    assert "Votre commentaire sera publié" in " ".join(messages(tree(
        comment_on_article(lucas, article_id, "Une autre question"))))
    manage = html(claire.get(f"/rubriques/articles/{article_id}"))
    comment_id = re.search(r'name="commentaire" value="(\d+)"', manage)[1]
    claire.post(f"/rubriques/articles/{article_id}/moderer", data={
        "csrf_token": csrf_token(manage), "commentaire": comment_id, "decision": "publier"})
    assert "Votre commentaire sera publié" in " ".join(messages(tree(
        comment_on_article(zoe, article_id, "Une fois la première lue"))))


def test_an_author_writes_at_most_10_comments_a_day_on_an_open_article(app, claire, zoe):
    article_id = article_with(app, claire, "open")
    old_article_comments(app, article_id, 30)
    for n in range(DAILY_MAX):
        assert messages(tree(comment_on_article(zoe, article_id, f"Réponse {n}"))) == [
            "Votre commentaire est publié."]
    refused = tree(comment_on_article(zoe, article_id, "Une de trop"))
    assert messages(refused) == ["Vous avez écrit 10 commentaires ici en 24 heures, le "
                                 "maximum : réessayez plus tard."]
    assert "Une de trop" not in refused.text
    assert article_comment_count(app, article_id) == 30 + DAILY_MAX
    with app.app_context():
        for comment in db.session.scalars(select(ArticleComment).where(
                ArticleComment.article_id == article_id,
                ArticleComment.body == "Réponse 0")):
            comment.created_at = utcnow() - timedelta(hours=25)
        db.session.commit()
    assert messages(tree(comment_on_article(zoe, article_id, "Le lendemain"))) == [
        "Votre commentaire est publié."]


def test_the_rubrics_managers_are_not_held_to_the_flood_rule(app, claire):
    article_id = article_with(app, claire, "moderated")
    for n in range(DAILY_MAX + 1):
        assert messages(tree(comment_on_article(claire, article_id, f"Précision {n}"))) == [
            "Votre commentaire est publié."]


def test_an_author_has_at_most_5_event_comments_awaiting_moderation(app, claire, zoe):
    event_id = event_with(app, claire, "moderated")
    for n in range(WAITING_MAX):
        assert messages(tree(comment_on_event(zoe, event_id, f"Question {n}"))) == [
            "Votre commentaire attend l'accord de l'organisateur."]
    refused = tree(comment_on_event(zoe, event_id, "Encore une question"))
    assert messages(refused) == [
        "Vous avez déjà 5 commentaires en attente de modération ici : attendez qu'ils soient "
        "lus avant d'en proposer un autre."]
    assert event_comment_count(app, event_id) == WAITING_MAX


def test_an_author_writes_at_most_10_comments_a_day_on_an_event_its_organiser_more(
        app, claire, zoe):
    event_id = event_with(app, claire, "open")
    for n in range(DAILY_MAX):
        assert messages(tree(comment_on_event(zoe, event_id, f"Réponse {n}"))) == [
            "Commentaire publié."]
    assert messages(tree(comment_on_event(zoe, event_id, "Une de trop"))) == [
        "Vous avez écrit 10 commentaires ici en 24 heures, le maximum : réessayez plus tard."]
    for n in range(DAILY_MAX + 1):
        assert messages(tree(comment_on_event(claire, event_id, f"Précision {n}"))) == [
            "Commentaire publié."]
    assert event_comment_count(app, event_id) == 2 * DAILY_MAX + 1


def test_every_writer_of_the_agenda_comments_as_its_organiser(app, claire):
    """Whoever may write the agenda moderates its events' comments (the event page and the
    moderation agree): their comments need no approval and are held to no flood rule, not
    only the event's author's. An administrator is one, without being invited."""
    event_id = event_with(app, claire, "moderated")
    admin = client_of(app, "admin")
    for n in range(DAILY_MAX + 1):
        assert messages(tree(comment_on_event(admin, event_id, f"Précision {n}"))) == [
            "Commentaire publié."]
    with app.app_context():
        assert set(db.session.scalars(select(Comment.state).where(
            Comment.event_id == event_id))) == {EventCommentState.PUBLISHED}


# Line breaks ------------------------------------------------------------------------------------

def test_the_stylesheet_keeps_the_line_breaks_of_the_classes_used():
    assert re.search(r"\.comment-text \{[^}]*white-space:pre-wrap", STYLE)
    assert re.search(r"\.keep-lines \{[^}]*white-space:pre-line", STYLE)


def test_event_and_answer_comments_keep_their_line_breaks(app, claire, zoe):
    event_id = event_with(app, claire, "open", ask_confirmation="y")
    comment_on_event(zoe, event_id, "Ligne un\nLigne deux")
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse",
              {"answer": "accepted", "comment": "Je viens\navec mon frère"},
              page=f"/agenda/evenement/{event_id}")
    event_page = tree(zoe.get(f"/agenda/evenement/{event_id}"))
    comment = event_page.one("section", id="commentaires").one("p", class_="comment-text")
    assert raw_text(comment) == "Ligne un\nLigne deux"
    table = tree(claire.get(f"/agenda/evenement/{event_id}/reponses"))
    cells = [td for td in table.all("td", class_="comment-text") if raw_text(td)]
    assert [raw_text(td) for td in cells] == ["Je viens\navec mon frère"]


def test_group_and_rubric_descriptions_keep_their_line_breaks(app, claire):
    response = post_form(claire, "/groupes/nouveau", {
        "name": "Club théâtre du mardi", "description": "Le mardi midi\nSalle 12",
        "school": school_id(app, "0310024H"), "persistent": "y"})
    assert response.status_code == 302, messages(tree(response))
    group = tree(claire.get(response.headers["Location"]))
    assert raw_text(group.one("dd", class_="keep-lines")) == "Le mardi midi\nSalle 12"
    rubric_id = four_a_rubric(app)
    settings = f"/rubriques/{rubric_id}/parametres"
    page = html(claire.get(settings))
    name = re.search(r'id="name"[^>]*value="([^"]*)"', page) or re.search(
        r'value="([^"]*)"[^>]*id="name"', page)
    response = claire.post(settings, data={"csrf_token": csrf_token(page), "name": name[1],
                                           "description": "Les nouvelles de la 4A\nChaque "
                                                          "vendredi"})
    assert response.status_code == 303, html(response)
    rubric = tree(claire.get(f"/rubriques/{rubric_id}"))
    assert raw_text(rubric.one("p", class_="keep-lines")) == \
        "Les nouvelles de la 4A\nChaque vendredi"
