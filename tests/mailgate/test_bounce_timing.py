"""A bounce is matched and reported whenever it comes back: while the worker is still sending
the batch its forward belongs to, and after the message has left every mailbox (a student
who kept no copy). The notices come over SMTP to the real gateway, the forwards go to the
real sink."""
from __future__ import annotations

import smtplib

import pytest
from flask import current_app
from sqlalchemy import select

from directory.clock import local_time
from directory.db import db
from directory.enums import Profile
from mailgate import routing, worker
from mailgate.models import EntryState, MailMessage, OutboundEntry

from .conftest import account, new_account
from .helpers import inbox, mail
from .test_outbound import CLAIRE_REDIRECT, JOSEPH, bounce_address, dsn, entries_of, parsed


@pytest.fixture
def relay_hooked(sink, monkeypatch):
    """Replace the sink's DATA hook for this test: aiosmtpd reads a handler's hooks when a
    connection opens, so the worker's kept connections are closed before and after."""
    def hook(handle_data):
        _close_connections()
        monkeypatch.setattr(sink, "handle_DATA", handle_data)

    yield hook
    _close_connections()


def _close_connections() -> None:
    made = current_app.extensions.pop("mailgate.senders", None)
    if made is not None:
        made[1].close()


def test_a_bounce_coming_back_while_its_batch_is_being_sent_is_reported(gateway, sink,
                                                                         relay_hooked):
    joseph = account("joseph.fabre")
    stored_id = routing.route(joseph, [account("claire.bernard").id],
                              mail(JOSEPH, "claire.bernard@ent.test", "Sortie piscine")).message_id
    db.session.commit()
    entry_id = entries_of(stored_id)[0].id
    accepted = sink.handle_DATA
    answers = []

    async def relay_then_bounce_at_once(server, session, envelope):
        """The relay takes the forward and the destination refuses it within the same
        second: its notice reaches the gateway before the worker has recorded its batch."""
        reply = await accepted(server, session, envelope)
        if CLAIRE_REDIRECT in envelope.rcpt_tos:
            with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
                answers.append(client.sendmail("<>", [envelope.mail_from], dsn(entry_id)))
        return reply

    relay_hooked(relay_then_bounce_at_once)
    worker.drain()

    assert answers == [{}]
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.BOUNCED
    (report,) = sink.to(JOSEPH)
    text = parsed(report.data).get_body(("plain",)).get_content()
    assert "« Sortie piscine »" in text and "Claire Bernard <claire.bernard@ent.test>" in text
    assert worker.drain() == 0 and len(sink.to(JOSEPH)) == 1


def test_a_bounce_after_the_message_left_every_mailbox_reaches_the_student(smtp, sink):
    """Nobody keeps the message once sent (a pupil writing without a copy): it is collected
    at the end of the worker's batch, and a bounce coming back later is still reported to
    its author, naming the message by its date (its subject is no longer known)."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    stored_id = routing.route(pupil, [account("claire.bernard").id],
                              mail("x@example.org", "claire.bernard@ent.test", "Exposé"),
                              save_copy=False).message_id
    db.session.commit()
    worker.drain()
    db.session.rollback()
    (entry,) = db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.author_id == pupil.id)).all()
    assert entry.state == EntryState.SENT and sink.to(CLAIRE_REDIRECT)
    assert db.session.get(MailMessage, stored_id) is None       # not kept for its bounces
    assert entry.message_id is None
    sent_on = local_time(entry.created_at)

    assert smtp.sendmail("<>", [bounce_address(entry)], dsn(entry.id)) == {}
    worker.drain()
    db.session.rollback()
    (report,) = inbox(pupil)
    assert report.subject == "Non remis" and report.automatic
    text = " ".join(report.text_body.split())
    assert f"Votre message du {sent_on:%d/%m/%Y à %H:%M} n'a pas pu être remis" in text
    assert "Claire Bernard <claire.bernard@ent.test>" in text
