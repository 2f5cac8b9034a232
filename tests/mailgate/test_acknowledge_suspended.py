"""A reading-acknowledgement link (« carnet de liaison ») never expires: once its recipient is
suspended it confirms nothing, as a suspended login would not (mailgate.fanout.acknowledge,
the agenda's one-click answer). Through the mail the worker really sends and the portal's
page, on the live database."""
from __future__ import annotations

import re
from email import message_from_bytes, policy

from directory.account_admin import set_suspended
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate.fanout_models import FanoutRecipient
from tests.conftest import page_text, post_form

from .conftest import account, new_account
from .test_fanout import new_job, population_of


def link_mailed_to(sink, address: str) -> str:
    (delivery,) = sink.to(address)
    text = message_from_bytes(delivery.data, policy=policy.default).get_body(
        ("plain",)).get_content()
    return "/rubriques/lecture/" + re.search(r"http://portail\.test/lecture/(\S+)", text)[1]


def test_a_suspended_recipients_acknowledgement_link_confirms_nothing(mail_app, sink):
    from mailgate import worker

    claire = account("claire.bernard")
    suspended = new_account(Profile.PARENT, redirect="suspendu@example.org",
                            group_of="zoe.le-gall")
    active = new_account(Profile.PARENT, redirect="actif@example.org", group_of="zoe.le-gall")
    job = new_job(claire, population_of([suspended, active]), acknowledge=True)
    worker.drain()
    links = {person.id: link_mailed_to(sink, address)
             for person, address in ((suspended, "suspendu@example.org"),
                                     (active, "actif@example.org"))}
    assert set_suspended(account("admin"), [db.session.get(Account, suspended.id)], True) == []
    db.session.commit()

    browser = mail_app.test_client()    # one browser: the app context (and its g) is shared
    answered = post_form(browser, links[active.id], {})
    assert answered.status_code == 200
    assert "Merci : votre lecture de « 4A » est confirmée." in page_text(answered)

    refused = post_form(browser, links[suspended.id], {})
    assert refused.status_code == 404, page_text(refused)
    db.session.rollback()
    assert db.session.get(FanoutRecipient, (job.id, active.id)).acknowledged_at is not None
    row = db.session.get(FanoutRecipient, (job.id, suspended.id))
    assert row.acknowledged_at is None and row.acknowledged_by is None
