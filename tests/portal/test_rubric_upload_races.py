"""Two uploads sent at once from the article editor (two tabs, a double drop) when one more
file would reach the bound on pending uploads: one is stored, the other refused — the bound
holds. The two requests really overlap on a database whose commits both see (the harness of
test_carnet_races): without the lock on the uploader's row, PostgreSQL let both count the
same pending files and both insert."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from portal.rubriques.articles import PENDING_FILES_MAX
from portal.rubriques.models import ArticleFile
from tests.conftest import fresh_database, live_demo_app

from .rubriques_helpers import four_a_rubric
from .test_carnet_races import at_once, browser_twice
from .test_rubric_uploads import PNG, TOO_MANY, Editor


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "uploadraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "uploadraces", users=100)


def pending_of(app, account_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ArticleFile).where(
            ArticleFile.uploader_id == account_id, ArticleFile.article_id.is_(None)))


def test_two_uploads_at_once_past_the_bound_store_one(live_app):
    rubric_id = four_a_rubric(live_app)
    first, second = browser_twice(live_app, "claire.bernard")
    with live_app.app_context():
        claire = db.session.scalar(select(Account.id).where(Account.login == "claire.bernard"))
        db.session.add_all(ArticleFile(uploader_id=claire, filename=f"photo-{n}.png",
                                       content_type="image/png", size=len(PNG), data=PNG,
                                       created_at=utcnow() - timedelta(hours=1))
                           for n in range(PENDING_FILES_MAX - 1))
        db.session.commit()
    try:
        tabs = Editor(first, rubric_id), Editor(second, rubric_id)
        answers = at_once(live_app, "article_file", lambda: tabs[0].send(PNG, "un.png"),
                          lambda: tabs[1].send(PNG, "deux.png"), wait=2)
        assert sorted(status for status, _ in answers) == [200, 400]
        assert [TOO_MANY in answer.get("error", "") for _, answer in answers].count(True) == 1
        assert pending_of(live_app, claire) == PENDING_FILES_MAX
    finally:
        with live_app.app_context():
            db.session.execute(delete(ArticleFile).where(ArticleFile.uploader_id == claire))
            db.session.commit()
