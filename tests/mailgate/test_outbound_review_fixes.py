"""The outbound review's fixes (worker and queue), through the real worker, the real database
and the aiosmtpd sink as the smarthost:
- a forward waiting in the queue goes to its recipient's verified redirect address as it is
  when it is sent, not as it was when it was queued; not at all once they were suspended or
  lost their address, and its author is told why, in French;
- a long host name still makes a worker name that fits `claimed_by` (PostgreSQL enforces it);
- a personalised mailing with an attachment is made out a budget of bytes at a time, and its
  personalised copies are not kept in the batch's DKIM cache;
- the lease is no longer renewed while the batch is recorded, and what was sent is recorded
  first on its own: a failure recording the rest does not have it sent again."""
from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta
from email import message_from_bytes, policy

import dkim
import pytest
from sqlalchemy import select

from directory import redirects
from directory.account_admin import AccountEdit, edit_account, set_suspended
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import fanout, personalise, queue, reports, routing, store, worker
from mailgate.fanout_models import FanoutRecipient, RecipientState
from mailgate.models import EntryState, OutboundEntry
from mailgate.senders import Senders

from .conftest import account, new_account
from .helpers import mail
from .test_dkim import dns_of, signing  # noqa: F401 (fixture)

CLAIRE_REDIRECT = "claire.bernard@example.net"


def unique(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


def entries_of(message_id: int) -> list[OutboundEntry]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.message_id == message_id).order_by(OutboundEntry.id)))


def text_of(data: bytes) -> str:
    return message_from_bytes(data, policy=policy.default).get_body(("plain",)).get_content()


def parent_at(address: str):
    """A new parent of Zoé's, forwarded to `address` (Claire, her teacher, may write)."""
    return new_account(Profile.PARENT, redirect=address, parent_of="zoe.le-gall")


def queued_from_claire(*recipients, subject: str = "Réunion de rentrée") -> int:
    """Claire's message to `recipients`, routed and committed; its stored message's id."""
    result = routing.route(account("claire.bernard"), [r.id for r in recipients],
                           mail("x@example.org", "claire.bernard@ent.test", subject))
    db.session.commit()
    assert [r.outcome for r in result.recipients] == [routing.Outcome.FORWARDED] * len(
        recipients)
    return result.message_id


# --- 1. the redirect address as it is when the forward is sent ---------------------------

def test_a_queued_forward_goes_to_the_redirect_address_confirmed_since(sink):
    before, after = unique("parent.avant"), unique("parent.apres")
    parent = parent_at(before)
    message_id = queued_from_claire(parent)
    secret = current_secret()
    token = redirects.request_change(parent, after, secret)
    redirects.confirm(parent, token, secret)
    db.session.commit()
    worker.drain()
    assert sink.to(before) == []
    (delivery,) = sink.to(after)
    assert "Réunion de rentrée" in message_from_bytes(delivery.data,
                                                      policy=policy.default)["Subject"]
    (entry,) = entries_of(message_id)
    assert entry.state == EntryState.SENT
    assert entry.address == after               # where it went, for a later bounce's report


def current_secret() -> str:
    from flask import current_app

    return current_app.config["SECRET_KEY"]


def test_a_queued_forward_to_a_member_suspended_since_is_not_sent_and_its_author_told(sink):
    address = unique("parent.suspendu")
    parent = parent_at(address)
    message_id = queued_from_claire(parent, subject="Sortie annulée")
    assert set_suspended(account("admin"), [parent], True) == []
    db.session.commit()
    worker.drain()
    assert sink.to(address) == []
    (entry,) = entries_of(message_id)
    assert entry.state == EntryState.FAILED
    (report,) = sink.to(CLAIRE_REDIRECT)
    assert report.sender == "<>"
    text = text_of(report.data)
    assert "« Sortie annulée »" in text and "n'a pas pu être remis" in text
    assert f"Le compte de {parent.full_name} est suspendu" in text
    assert address not in report.data.decode()


def test_a_queued_forward_whose_address_an_administrator_removed_is_not_sent(sink):
    address = unique("parent.retire")
    parent = parent_at(address)
    message_id = queued_from_claire(parent, subject="Photo de classe")
    edit_account(account("admin"), parent, AccountEdit(
        first_name=parent.first_name, last_name=parent.last_name, profile=parent.profile,
        class_id=None, redirect_address="", children_logins=["zoe.le-gall"]))
    db.session.commit()
    assert db.session.get(type(parent), parent.id).redirect_address is None
    worker.drain()
    assert sink.to(address) == []
    (entry,) = entries_of(message_id)
    assert entry.state == EntryState.FAILED
    (report,) = sink.to(CLAIRE_REDIRECT)
    text = text_of(report.data)
    assert "« Photo de classe »" in text
    assert f"{parent.full_name} n'a pas d'adresse de redirection" in text


def test_a_queued_report_goes_to_its_authors_current_address(sink):
    """A « Non remis » waiting in the queue (a REPORT entry) follows its author's address."""
    before, after = unique("prof.avant"), unique("prof.apres")
    teacher = new_account(Profile.TEACHER, redirect=before, group_of="zoe.le-gall")
    assert reports.undeliverable(teacher, "Devoirs", utcnow(), [("Quelqu'un", "raison")])
    db.session.commit()
    teacher = db.session.get(type(teacher), teacher.id)
    secret = current_secret()
    redirects.confirm(teacher, redirects.request_change(teacher, after, secret), secret)
    db.session.commit()
    worker.drain()
    assert sink.to(before) == []
    (report,) = sink.to(after)
    assert "Devoirs" in text_of(report.data)


# --- 4. a long host name -------------------------------------------------------------------

def test_worker_names_fit_claimed_by_and_long_host_names_stay_apart(monkeypatch):
    pod = "preau-outbound-worker-academie-de-toulouse-prod-6f7d8c9b7-"
    names = set()
    for suffix in ("abcde", "fghij"):
        monkeypatch.setattr(worker.socket, "gethostname", lambda s=suffix: pod + s)
        name = worker.worker_name()
        assert len(name) <= OutboundEntry.__table__.c.claimed_by.type.length
        names.add(name.split(":")[0])
    assert len(names) == 2
    monkeypatch.setattr(worker.socket, "gethostname", lambda: "atelier")
    assert worker.worker_name().startswith(f"atelier:{os.getpid()}:")


@pytest.mark.postgres_only
def test_a_worker_on_a_host_with_a_long_name_sends(sink, monkeypatch):
    monkeypatch.setattr(worker.socket, "gethostname", lambda: "w" * 60)
    address = unique("parent.pod")
    message_id = queued_from_claire(parent_at(address))
    worker.drain()
    (entry,) = entries_of(message_id)
    assert entry.state == EntryState.SENT
    assert len(sink.to(address)) == 1


# --- 2. a personalised mailing with an attachment ------------------------------------------

def personalised_mailing(people, attachment: bytes):
    """A mailing with each recipient's own acknowledgement link (every copy made anew) and
    an attachment, submitted and committed."""
    claire = account("claire.bernard")
    message = fanout.message(claire, subject="Dossier de rentrée",
                             audience="Parents de 4A",
                             text=f"Merci de lire le dossier.\n\n{personalise.LINK}\n")
    message.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename="dossier.pdf")
    ids = select(type(claire).id).where(type(claire).id.in_([p.id for p in people]))
    job = fanout.submit(claire, message, ids, origin=f"test:{uuid.uuid4().hex[:8]}",
                        idempotency_key=uuid.uuid4().hex, audience="4A", acknowledge=True,
                        link_template="http://portail.test/lecture/{token}")
    db.session.commit()
    return job


def test_a_personalised_mailing_is_made_out_a_budget_of_bytes_at_a_time(sink, monkeypatch):
    addresses = [unique(f"parent.dossier{n}") for n in range(8)]
    people = [parent_at(a) for a in addresses]
    job = personalised_mailing(people, os.urandom(150_000))
    rounds: list[tuple[int, int]] = []        # (copies, distinct bytes) handed to the relay
    send = Senders.send

    def counted(self, envelopes, stop=None):
        if envelopes:
            distinct = {id(e.data): len(e.data) for e in envelopes}
            rounds.append((len(envelopes), sum(distinct.values())))
        return send(self, envelopes, stop)

    monkeypatch.setattr(Senders, "send", counted)
    monkeypatch.setattr(worker, "PREPARED_BYTES", 500_000)     # about 2.5 copies
    worker.drain()
    for address in addresses:
        (delivery,) = sink.to(address)
        assert len(delivery.data) > 200_000
    largest = max(size for _, size in rounds)
    assert largest <= 500_000 + 250_000, rounds     # the budget, passed by one copy at most
    assert sum(copies for copies, _ in rounds) == 8 and len(rounds) >= 3
    entries = entries_of(job.message_id)
    assert [e.state for e in entries] == [EntryState.SENT] * 8
    assert [e.attempts for e in entries] == [1] * 8     # given back: no attempt counted
    db.session.rollback()
    states = db.session.scalars(select(FanoutRecipient.state).where(
        FanoutRecipient.job_id == job.id)).all()
    assert set(states) == {RecipientState.FORWARDED}


def test_a_backlog_of_large_messages_is_read_a_budget_at_a_time(sink, monkeypatch):
    """Six different messages of about 300 KB each, to six parents: each round reads no more
    than its budget of them (by their stored sizes, before reading), so each is read once,
    not read whole at every round to be mostly given back; the count of entries handled is
    of those sent, not of those given back."""
    claire = account("claire.bernard")
    addresses = [unique(f"parent.lourd{n}") for n in range(6)]
    for address in addresses:
        message = mail("x@example.org", "claire.bernard@ent.test", "Pièce jointe lourde")
        message.add_attachment(os.urandom(220_000), maintype="application", subtype="pdf",
                               filename="lourd.pdf")
        parent = parent_at(address)
        result = routing.route(claire, [parent.id], message)
        db.session.commit()
        assert [r.outcome for r in result.recipients] == [routing.Outcome.FORWARDED]
    reads: list[int] = []
    messages_bytes = store.messages_bytes

    def read(message_ids):
        ids = list(message_ids)
        reads.extend(ids)
        return messages_bytes(ids)

    monkeypatch.setattr(store, "messages_bytes", read)
    monkeypatch.setattr(worker, "PREPARED_BYTES", 500_000)     # about 1.7 messages
    handled = worker.drain()
    for address in addresses:
        assert len(sink.to(address)) == 1
    assert len(reads) == len(set(reads)) == 6, reads
    assert handled == 6


def test_personalised_copies_are_signed_and_not_kept_in_the_batchs_cache(
        sink, signing, rsa_key, monkeypatch):  # noqa: F811
    addresses = [unique(f"parent.signe{n}") for n in range(3)]
    personalised_mailing([parent_at(a) for a in addresses], os.urandom(20_000))
    caches: list[dict] = []
    finished = worker._finished

    def watched(data, tag, dkim_signer, made, **options):
        caches.append(made)
        return finished(data, tag, dkim_signer, made, **options)

    monkeypatch.setattr(worker, "_finished", watched)
    worker.drain()
    links = set()
    for address in addresses:
        (delivery,) = sink.to(address)
        assert dkim.verify(delivery.data, dnsfunc=dns_of(rsa_key[1]))
        links.add(text_of(delivery.data).split("lecture/")[1].split()[0])
    assert len(links) == 3                      # each its own copy
    assert len(caches) == 3 and all(made == {} for made in caches)


# --- 5. recording a batch --------------------------------------------------------------------

def test_the_lease_is_no_longer_renewed_while_the_batch_is_recorded(sink, monkeypatch):
    address = unique("parent.bail")
    queued_from_claire(parent_at(address))
    beating: list[bool] = []
    mark = queue.mark_all_sent

    def watched(*args, **kwargs):
        beating.append(any(t.name == "preau-lease" and t.is_alive()
                           for t in threading.enumerate()))
        return mark(*args, **kwargs)

    monkeypatch.setattr(queue, "mark_all_sent", watched)
    worker.drain()
    assert len(sink.to(address)) == 1
    assert beating and not any(beating)


def two_forwards_one_refused(sink) -> tuple[str, str, int]:
    refused, accepted = unique("parent.refuse"), unique("parent.recoit")
    sink.refuse[refused] = ["550 5.1.1 Utilisateur inconnu"] * 3
    message_id = queued_from_claire(parent_at(refused), parent_at(accepted),
                                    subject="Conseil de classe")
    return refused, accepted, message_id


def after_the_lease():
    return utcnow() + queue.LEASE + timedelta(seconds=5)


def test_a_report_that_cannot_be_made_is_lost_alone_and_the_batch_not_sent_again(sink,
                                                                                  monkeypatch):
    refused, accepted, message_id = two_forwards_one_refused(sink)
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("rapport impossible à faire")

    monkeypatch.setattr(reports, "undeliverable", failing)
    assert worker.run_once() == 2               # recorded all the same
    states = {e.address: e.state for e in entries_of(message_id)}
    assert states == {refused: EntryState.FAILED, accepted: EntryState.SENT}
    assert calls == [1]
    worker.drain(now=after_the_lease())
    assert len(sink.to(accepted)) == 1 and sink.to(refused) == []
    assert calls == [1]


def test_what_was_sent_is_recorded_before_a_failure_recording_the_rest(sink, monkeypatch):
    refused, accepted, message_id = two_forwards_one_refused(sink)
    collect = store.collect_garbage
    calls: list[int] = []

    def failing_once(message_ids):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("base indisponible")
        return collect(message_ids)

    monkeypatch.setattr(store, "collect_garbage", failing_once)
    with pytest.raises(RuntimeError):
        worker.run_once()
    db.session.rollback()
    sent = {e.address: e.state for e in entries_of(message_id)}
    assert sent[accepted] == EntryState.SENT
    worker.drain(now=after_the_lease())
    assert len(sink.to(accepted)) == 1
    states = {e.address: e.state for e in entries_of(message_id)}
    assert states == {refused: EntryState.FAILED, accepted: EntryState.SENT}
