"""A mailing's report lists the people it did not reach 50 a page up to the first 1,000, and
says so when there were more, pointing to the CSV that names them all."""
from __future__ import annotations

from sqlalchemy import insert, select

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState

from .carnet_helpers import client_of, page
from .rubriques_helpers import four_a_rubric, publish

BASE = 830_000
REFUSED = 1_100


def finished_mailing(app, article_id: int) -> int:
    """A mailing of the article that reached none of REFUSED people (no redirect address),
    written in bulk as the worker would have left it."""
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        ids = range(BASE, BASE + REFUSED)
        db.session.execute(insert(Account), [
            {"id": i, "login": f"injoignable.{i}", "first_name": f"Parent{i}",
             "last_name": "Martin", "search_name": f"martin parent{i}",
             "search_first": f"parent{i}", "profile": Profile.PARENT,
             "address": f"injoignable.{i}", "password_hash": claire.password_hash}
            for i in ids])
        job = FanoutJob(author_id=claire.id, origin=f"article:{article_id}",
                        audience="Parents", idempotency_key="rapport-plafonne",
                        total=REFUSED, finished_at=utcnow())
        db.session.add(job)
        db.session.flush()
        db.session.execute(insert(FanoutRecipient), [
            {"job_id": job.id, "account_id": i, "state": RecipientState.REFUSED,
             "refusal": "no_redirect", "routed_at": utcnow()} for i in ids])
        db.session.commit()
        return job.id


def test_a_report_of_more_than_a_thousand_not_reached_says_the_list_stops(app):
    claire = client_of(app, "claire.bernard")
    article_id = publish(claire, four_a_rubric(app), "Fermeture exceptionnelle")
    job_id = finished_mailing(app, article_id)

    report = page(claire.get(f"/rubriques/envois/{job_id}"))
    not_reached = report.find("table", class_="not-reached")
    assert len(not_reached.find("tbody").find_all("tr")) == 50
    assert "Martin Parent" in not_reached.text
    note = report.find("p", class_="capped").text
    assert "1000 premières des 1100 personnes" in note and "CSV" in note
    last = claire.get(f"/rubriques/envois/{job_id}?page=20")
    assert last.status_code == 200
    assert claire.get(f"/rubriques/envois/{job_id}?page=21").status_code == 404

    csv = claire.get(f"/rubriques/envois/{job_id}/rapport.csv").get_data(as_text=True)
    assert len(csv.lstrip("\ufeff").splitlines()) == REFUSED + 1
