"""What goes wrong in a fan-out stays in its job: a job whose message cannot be routed is
refused alone while the jobs after it go on, a recipient whose routing fails is refused alone
while the rest of the batch is routed, a transient error refuses nobody, and a mailing's
forwards that fail (refused by the relay, or bounced later) are marked in its report instead
of mailing the author a « Non remis » per recipient."""
from __future__ import annotations

import smtplib
import threading

import pytest
from sqlalchemy import func, select

from directory.db import db
from directory.enums import Profile
from mailgate import bounces, fanout, routing, store, worker
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState
from mailgate.models import EntryState, MailboxItem, OutboundEntry
from mailgate.settings import current

from .conftest import new_account
from .test_fanout import new_job, population_of
from .test_outbound import dsn


@pytest.fixture(autouse=True)
def no_earlier_job_running(mail_app):
    """The jobs earlier tests of this process left running are routed to their end first:
    a round takes the oldest running job, and these tests count what one round does."""
    while fanout.run_batch():
        pass
    db.session.commit()


def states(job: FanoutJob) -> dict[int, tuple[str, str | None]]:
    db.session.rollback()
    return {row.account_id: (row.state, row.refusal) for row in db.session.scalars(
        select(FanoutRecipient).where(FanoutRecipient.job_id == job.id))}


def test_a_job_that_cannot_be_routed_is_refused_alone_and_the_next_job_goes_on(mail_app,
                                                                             monkeypatch):
    author = new_account(Profile.TEACHER, redirect="auteure.bloquee@example.com")
    first = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(2)]
    second = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(2)]
    broken = new_job(author, population_of(first))
    later = new_job(author, population_of(second))
    readable = store.message_bytes

    def message_bytes(stored):
        if stored.id == broken.message_id:
            raise ValueError("a part of the stored message is missing")
        return readable(stored)

    monkeypatch.setattr(store, "message_bytes", message_bytes)
    stop = threading.Event()
    for _ in range(4):      # the worker's rounds (run_forever's fan-out step)
        worker._step("fan-out", fanout.run_batch, stop)

    assert set(states(later).values()) == {(RecipientState.DELIVERED, None)}
    assert set(states(broken).values()) == {(RecipientState.REFUSED, fanout.UNROUTABLE)}
    assert len(states(broken)) == 2
    assert fanout.progress(db.session.get(FanoutJob, broken.id)).finished
    assert fanout.progress(db.session.get(FanoutJob, later.id)).finished


def deliver_failing(monkeypatch, failure, *, when) -> list[list[int]]:
    """`routing.deliver` that raises `failure` for the decisions `when` picks; returns the
    list of the groups of account ids it was given."""
    real = routing.deliver
    given = []

    def deliver(author, parsed, decisions, **options):
        ids = [d.result.account_id for d in decisions]
        given.append(ids)
        if when(ids):
            raise failure
        return real(author, parsed, decisions, **options)

    monkeypatch.setattr(routing, "deliver", deliver)
    return given


def test_a_recipient_whose_routing_fails_is_refused_alone_and_the_batch_is_delivered(
        mail_app, monkeypatch, caplog):
    author = new_account(Profile.TEACHER, redirect="auteure.un.echec@example.com")
    pupils = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(9)]
    failing = pupils[6]
    job = new_job(author, population_of(pupils))
    given = deliver_failing(monkeypatch, RuntimeError("a bug for this one recipient"),
                            when=lambda ids: failing.id in ids)
    stop = threading.Event()

    assert worker._step("fan-out", fanout.run_batch, stop) == 9     # one batch, one round

    fates = states(job)
    assert fates.pop(failing.id) == (RecipientState.REFUSED, fanout.UNROUTABLE)
    assert fates == {p.id: (RecipientState.DELIVERED, None) for p in pupils if p is not failing}
    assert len(given) < 9       # in halves, not one by one
    assert f"fan-out job {job.id}: recipient {failing.id} could not be routed, refused" \
        in caplog.text
    assert dict(db.session.execute(select(MailboxItem.account_id, func.count()).where(
        MailboxItem.message_id == job.message_id, MailboxItem.account_id != author.id)
        .group_by(MailboxItem.account_id)).all()) == {p.id: 1 for p in pupils
                                                       if p is not failing}
    worker._step("fan-out", fanout.run_batch, stop)
    assert fanout.progress(db.session.get(FanoutJob, job.id)).finished


def test_an_os_error_refuses_nobody_and_the_next_round_delivers_everyone(mail_app,
                                                                        monkeypatch):
    author = new_account(Profile.TEACHER, redirect="auteure.disque@example.com")
    pupils = [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(4)]
    job = new_job(author, population_of(pupils))
    first_time = iter([True])
    deliver_failing(monkeypatch, OSError(5, "Input/output error"),
                    when=lambda ids: next(first_time, False))
    stop = threading.Event()

    assert worker._step("fan-out", fanout.run_batch, stop) == 0     # failed, rolled back
    assert set(states(job).values()) == {(RecipientState.PENDING, None)}

    assert worker._step("fan-out", fanout.run_batch, stop) == 4
    assert states(job) == {p.id: (RecipientState.DELIVERED, None) for p in pupils}


def test_a_mailings_failed_forwards_are_in_its_report_not_one_mail_each(gateway, sink):
    author_redirect = "auteure.publipostage@example.com"
    author = new_account(Profile.TEACHER, redirect=author_redirect)
    parents = [new_account(Profile.PARENT, redirect=f"parent.{n}.{author.id}@example.org",
                           group_of="zoe.le-gall") for n in range(4)]
    refused, bounced, reached = parents[:2], parents[2], parents[3]
    for parent in refused:
        sink.refuse[parent.redirect_address] = ["550 5.1.1 Recipient address rejected"]
    job = new_job(author, population_of(parents))
    while fanout.run_batch():
        pass
    worker.drain()
    db.session.rollback()
    entry = db.session.scalar(select(OutboundEntry).where(
        OutboundEntry.message_id == job.message_id,
        OutboundEntry.account_id == bounced.id))
    assert entry.state == EntryState.SENT
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as client:
        address = bounces.envelope_sender(entry.id, current())
        assert client.sendmail("<>", [address], dsn(entry.id)) == {}
    worker.drain()

    fates = states(job)
    assert fates[reached.id] == (RecipientState.FORWARDED, None)
    assert len(sink.to(reached.redirect_address)) == 1
    for parent in (*refused, bounced):
        assert fates[parent.id] == (RecipientState.REFUSED, fanout.FORWARD_FAILED)
    progress = fanout.progress(db.session.get(FanoutJob, job.id))
    assert progress.count(RecipientState.FORWARDED) == 1
    assert progress.count(RecipientState.REFUSED, fanout.FORWARD_FAILED) == 3
    assert sink.to(author_redirect) == []       # no « Non remis » per recipient
    assert db.session.scalar(select(OutboundEntry).where(
        OutboundEntry.account_id == author.id)) is None
