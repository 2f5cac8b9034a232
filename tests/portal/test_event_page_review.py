"""The event page and the article page after a read-only review (issue 16, review Q F4 and F8),
and an event's comment sent twice.

1. The organiser's event page lists the newest notices of the event with their figures: the
   same statements with 1 notice or 12 (`fanout.jobs_of` takes a LIMIT, the figures of the
   shown jobs come in one grouped statement, `fanout.progress_of`), and the same figures as
   each job's own `fanout.progress`.
2. The article page lists its newest mailings: the same statements with 1 or 12.
3. A comment on an event sent twice (a double click: the same form, the same key `cle`) makes
   one comment (directory/form_keys.py); on PostgreSQL the two sendings also run at once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, literal, select

from agenda.models import Comment
from directory.clock import utcnow
from directory.db import db
from mailgate import fanout
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState
from portal.agenda.event_views import NOTICES_SHOWN
from tests.conftest import csrf_token, fresh_database, live_demo_app
from tests.query_count import counting, queries_of

from .rubriques_helpers import client_of, four_a_rubric, html, publish
from .test_carnet_races import at_once, browser_twice
from .test_comments_pages import event_with

KEY = re.compile(r'id="cle" name="cle" type="hidden" value="([0-9a-f]{32})"')
NOTICE_LINE = re.compile(r'<li><a href="/agenda/evenement/\d+/avis/(\d+)">.*?</li>', re.S)


def _more_jobs(app, origin: str, count: int) -> None:
    """`count` more jobs about `origin`, each with the first job's recipients (copied), some
    still running with part of their recipients pending."""
    with app.app_context():
        first = db.session.scalar(select(FanoutJob).where(FanoutJob.origin == origin)
                                  .order_by(FanoutJob.id))
        recipients = db.session.scalar(select(FanoutJob.total).where(FanoutJob.id == first.id))
        for n in range(count):
            running = n % 3 == 0
            job = FanoutJob(author_id=first.author_id, origin=origin, audience="4A",
                            idempotency_key=f"review-{origin}-{n}", total=recipients,
                            created_at=utcnow(), finished_at=None if running else utcnow())
            db.session.add(job)
            db.session.flush()
            db.session.execute(insert(FanoutRecipient).from_select(
                ["job_id", "account_id", "state"],
                select(literal(job.id), FanoutRecipient.account_id, FanoutRecipient.state)
                .where(FanoutRecipient.job_id == first.id)))
            if running:     # the first n+1 recipients still wait
                waiting = list(db.session.scalars(
                    select(FanoutRecipient.account_id).where(FanoutRecipient.job_id == job.id)
                    .order_by(FanoutRecipient.account_id).limit(n + 1)))
                db.session.query(FanoutRecipient).filter(
                    FanoutRecipient.job_id == job.id,
                    FanoutRecipient.account_id.in_(waiting)).update(
                    {"state": RecipientState.PENDING}, synchronize_session=False)
        db.session.commit()


def _expected(app, origin: str) -> dict[int, str]:
    """Each shown job's words, from its own `fanout.progress`."""
    with app.app_context():
        jobs = fanout.jobs_of(origin)[:NOTICES_SHOWN]
        said = {}
        for job in jobs:
            figures = fanout.progress(job)
            said[job.id] = "envoi terminé" if figures.finished \
                else f"{figures.percent} % traités"
        return said


def test_the_organiser_s_event_page_costs_the_same_with_1_or_12_notices(app):
    claire = client_of(app, "claire.bernard")
    event_id = event_with(app, claire, "open", notify="y")
    url, origin = f"/agenda/evenement/{event_id}", f"event:{event_id}"
    one = queries_of(app, claire, url)
    _more_jobs(app, origin, 11)
    assert queries_of(app, claire, url) == one
    # the figures shown are each job's own, for the newest NOTICES_SHOWN
    page = html(claire.get(url))
    shown = {int(m[1]): m[0] for m in NOTICE_LINE.finditer(page)}
    expected = _expected(app, origin)
    assert list(shown) == list(expected) and len(shown) == NOTICES_SHOWN
    for job_id, words in expected.items():
        assert words in shown[job_id], (job_id, words, shown[job_id])
    assert any("% traités" in line for line in shown.values())
    _jobs_read_with_a_limit(app, claire, url)


def _jobs_read_with_a_limit(app, client, url: str) -> None:
    """The page reads its jobs with the statement's LIMIT, not all of them cut in Python."""
    with counting(app) as statements:
        assert client.get(url).status_code == 200
    [jobs] = [s for s in statements if re.search(r"\bFROM fanout_job\b", s)
              and "fanout_recipient" not in s]
    assert re.search(r"\bLIMIT\b", jobs), jobs


def test_batched_progress_is_each_job_s_progress(app):
    claire = client_of(app, "claire.bernard")
    event_id = event_with(app, claire, "open", notify="y")
    _more_jobs(app, f"event:{event_id}", 5)
    with app.app_context():
        jobs = fanout.jobs_of(f"event:{event_id}", 4)
        assert len(jobs) == 4
        assert fanout.progress_of(jobs) == {job.id: fanout.progress(job) for job in jobs}
        assert fanout.progress_of([]) == {}


def test_the_article_page_costs_the_same_with_1_or_12_mailings(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Kermesse")
    origin, url = f"article:{article_id}", f"/rubriques/articles/{article_id}"
    with app.app_context():
        author = db.session.scalar(select(FanoutJob.author_id).limit(1))

    def mailings(first: int, count: int) -> None:
        with app.app_context():
            db.session.execute(insert(FanoutJob), [
                {"author_id": author, "origin": origin, "audience": f"Envoi {n}",
                 "idempotency_key": f"review-{origin}-{n}", "total": 0,
                 "created_at": utcnow(), "finished_at": utcnow()}
                for n in range(first, first + count)])
            db.session.commit()

    mailings(0, 1)
    one = queries_of(app, claire, url)
    assert "Envoi 0" in html(claire.get(url))
    mailings(1, 11)
    assert queries_of(app, claire, url) == one
    assert "Envoi 11" in html(claire.get(url))
    _jobs_read_with_a_limit(app, claire, url)


# 3. An event's comment sent twice ----------------------------------------------------------

def _comment_form(client, event_id: int, text: str) -> dict:
    page = html(client.get(f"/agenda/evenement/{event_id}"))
    key = KEY.search(page)
    assert key, "no one-time key in the comment form"
    return {"csrf_token": csrf_token(page), "cle": key[1], "text": text}


def _comments(app, event_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Comment.text).where(
            Comment.event_id == event_id).order_by(Comment.id)))


def test_an_event_comment_sent_twice_is_published_once(app):
    claire, zoe = client_of(app, "claire.bernard"), client_of(app, "zoe.le-gall")
    event_id = event_with(app, claire, "open")
    data = _comment_form(zoe, event_id, "Faut-il un pique-nique ?")
    url = f"/agenda/evenement/{event_id}/commentaires"
    first, second = zoe.post(url, data=data), zoe.post(url, data=data)
    assert [first.status_code, second.status_code] == [302, 302]
    assert _comments(app, event_id) == ["Faut-il un pique-nique ?"]
    # another text sent with the same key, and a new form with the same text, are new comments
    zoe.post(url, data=data | {"text": "Et un goûter ?"})
    zoe.post(url, data=_comment_form(zoe, event_id, "Faut-il un pique-nique ?"))
    assert _comments(app, event_id) == ["Faut-il un pique-nique ?", "Et un goûter ?",
                                        "Faut-il un pique-nique ?"]


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    return fresh_database(tmp_path_factory, "eventpage")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "eventpage", users=100)


@pytest.mark.postgres_only
def test_an_event_comment_sent_twice_at_once_is_published_once(live_app):
    first, second = browser_twice(live_app, "claire.bernard")
    event_id = event_with(live_app, first, "open")
    data = _comment_form(first, event_id, "Rendez-vous à 8 h ?")
    url = f"/agenda/evenement/{event_id}/commentaires"
    answers = at_once(live_app, "agenda_comment", lambda: first.post(url, data=data),
                      lambda: second.post(url, data=data), wait=1.5)
    assert [a.status_code for a in answers] == [302, 302]
    assert _comments(live_app, event_id) == ["Rendez-vous à 8 h ?"]
