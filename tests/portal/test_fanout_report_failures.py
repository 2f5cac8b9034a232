"""A mailing's report names, in words, the people a batch could not be routed to and those
whose forward failed after it was sent (mailgate/fanout.py UNROUTABLE, FORWARD_FAILED)."""
from __future__ import annotations

from sqlalchemy import insert, select

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate import fanout
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState

from .carnet_helpers import client_of, page, table_rows
from .rubriques_helpers import four_a_rubric, publish

BASE = 840_000


def mailing_with_failures(app, article_id: int) -> int:
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        people = {BASE: ("Lefèvre", fanout.FORWARD_FAILED),
                  BASE + 1: ("Moreau", fanout.UNROUTABLE)}
        db.session.execute(insert(Account), [
            {"id": i, "login": f"parent.{i}", "first_name": "Paul", "last_name": name,
             "search_name": f"{name.lower()} paul", "search_first": "paul",
             "profile": Profile.PARENT, "address": f"parent.{i}",
             "password_hash": claire.password_hash} for i, (name, _) in people.items()])
        job = FanoutJob(author_id=claire.id, origin=f"article:{article_id}",
                        audience="Parents", idempotency_key="rapport-echecs",
                        total=len(people), finished_at=utcnow())
        db.session.add(job)
        db.session.flush()
        db.session.execute(insert(FanoutRecipient), [
            {"job_id": job.id, "account_id": i, "state": RecipientState.REFUSED,
             "refusal": refusal, "routed_at": utcnow()} for i, (_, refusal) in people.items()])
        db.session.commit()
        return job.id


def test_the_report_says_why_a_forward_failed_or_a_batch_was_not_routed(app):
    claire = client_of(app, "claire.bernard")
    job_id = mailing_with_failures(app, publish(claire, four_a_rubric(app), "Kermesse"))

    rows = table_rows(page(claire.get(f"/rubriques/envois/{job_id}")), "not-reached")
    assert [" ".join(row[0].split()) for row in rows] == ["Lefèvre Paul", "Moreau Paul"]
    assert rows[0][2] == "le transfert à son adresse de redirection a échoué"
    assert rows[1][2] == "le message n'a pas pu être préparé pour l'envoi"
    csv = claire.get(f"/rubriques/envois/{job_id}/rapport.csv").get_data(as_text=True)
    assert "le transfert à son adresse de redirection a échoué" in csv
    assert "le message n'a pas pu être préparé pour l'envoi" in csv
