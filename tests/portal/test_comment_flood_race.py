"""One author's comments sent all at once (a script, a button clicked again and again): the
flood rule holds however many overlap, WAITING_MAX awaiting moderation on one article or
event and no more, and each request says which it was.

The requests really overlap, on a database whose commits all of them see: each keeps its new
comment uncommitted a moment (HOLD), so that the others count while it cannot be seen. Counted
without a lock, on PostgreSQL all of them passed. On SQLite the writer's lock already makes
them take turns; the tests check the same outcome there."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import event, func, select

from agenda.comments import WAITING_MAX
from agenda.models import Comment
from agenda.models import CommentState as EventCommentState
from directory.db import db
from portal.rubriques.models import ArticleComment, CommentState
from tests.conftest import csrf_token, fresh_database, live_demo_app

from .annuaire_helpers import html as tree
from .annuaire_helpers import messages
from .rubriques_helpers import client_of, html
from .test_comments_pages import article_with, event_with

AT_ONCE = 12
HOLD = 0.2      # seconds each request keeps its comment uncommitted
REFUSED = ("Vous avez déjà 5 commentaires en attente de modération ici : attendez qu'ils "
           "soient lus avant d'en proposer un autre.")


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "commentflood")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "commentflood", users=100)


def tabs(app, login_name: str, page: str) -> tuple[list, str]:
    """AT_ONCE browsers of one signed-in session (one person's tabs), and the form token of
    `page` for that session."""
    first = client_of(app, login_name)
    token = csrf_token(html(first.get(page)))
    cookie = first.get_cookie("session").value
    others = [app.test_client() for _ in range(AT_ONCE - 1)]
    for other in others:
        other.set_cookie("session", cookie)
    return [first, *others], token


def all_at_once(app, table: str, requests: list[Callable[[], object]]) -> list:
    """The answers of `requests`, each run in a thread of its own, all released together;
    every INSERT INTO `table` is kept uncommitted HOLD seconds."""
    with app.app_context():
        engine = db.engine

    def hold(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            time.sleep(HOLD)

    start, answers = threading.Barrier(len(requests)), [None] * len(requests)

    def run(n: int) -> None:
        start.wait()
        answers[n] = requests[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    event.listen(engine, "after_cursor_execute", hold)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        event.remove(engine, "after_cursor_execute", hold)
    assert not any(thread.is_alive() for thread in threads)
    return answers


def said(answers: list) -> list[list[str]]:
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return [messages(tree(answer)) for answer in answers]


def pending(app, model, on_item, state) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(
            on_item, model.state == state))


def test_comments_sent_at_once_leave_at_most_5_awaiting_on_an_article(live_app):
    article_id = article_with(live_app, client_of(live_app, "claire.bernard"), "moderated")
    page = f"/rubriques/articles/{article_id}"
    zoe, token = tabs(live_app, "zoe.le-gall", page)
    answers = all_at_once(live_app, "article_comment", [
        lambda tab=tab, n=n: tab.post(f"{page}/commentaires", data={
            "csrf_token": token, "texte": f"Question {n}"}, follow_redirects=True)
        for n, tab in enumerate(zoe)])
    shown = said(answers)
    assert shown.count(["Votre commentaire sera publié après l'accord d'un gestionnaire de "
                        "la rubrique."]) == WAITING_MAX, shown
    assert shown.count([REFUSED]) == AT_ONCE - WAITING_MAX, shown
    assert pending(live_app, ArticleComment, ArticleComment.article_id == article_id,
                   CommentState.PENDING) == WAITING_MAX


def test_comments_sent_at_once_leave_at_most_5_awaiting_on_an_event(live_app):
    event_id = event_with(live_app, client_of(live_app, "claire.bernard"), "moderated")
    page = f"/agenda/evenement/{event_id}"
    zoe, token = tabs(live_app, "zoe.le-gall", page)
    answers = all_at_once(live_app, "agenda_comment", [
        lambda tab=tab, n=n: tab.post(f"{page}/commentaires", data={
            "csrf_token": token, "text": f"Question {n}"}, follow_redirects=True)
        for n, tab in enumerate(zoe)])
    shown = said(answers)
    assert shown.count(["Votre commentaire attend l'accord de l'organisateur."]) \
        == WAITING_MAX, shown
    assert shown.count([REFUSED]) == AT_ONCE - WAITING_MAX, shown
    assert pending(live_app, Comment, Comment.event_id == event_id,
                   EventCommentState.PENDING) == WAITING_MAX
