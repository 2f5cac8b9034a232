"""The queue's lifetime holds even for rounds that record nothing (a worker killed while it
prepares a batch): an entry already tried and past its lifetime is failed and reported when
claimed, never sent nor claimed for ever. And a message that cannot be read whole for sending
fails alone: the other entries of its batch are sent. Through the real worker and a real
loopback relay."""
from __future__ import annotations

from email import message_from_bytes, policy

from directory.clock import utcnow
from directory.db import db, writing_from_the_start
from directory.enums import Profile
from mailgate import queue, routing, store, worker
from mailgate.models import EntryState
from mailgate.settings import current

from .conftest import account, new_account
from .helpers import mail
from .test_outbound import JOSEPH, entries_of


def send_all(now=None) -> None:
    """The queue's rounds until none is due, each transaction a writer from its start on
    SQLite: the gateway's indexer thread may still be committing what earlier tests sent."""
    db.session.commit()
    with writing_from_the_start():
        while worker.run_once(now=now):
            pass


def report_subjects(sink, address: str) -> list[str]:
    return [str(message_from_bytes(d.data, policy=policy.default)["Subject"])
            for d in sink.to(address)]


def test_an_entry_past_its_lifetime_when_claimed_again_is_failed_and_reported(sink):
    teacher = new_account(Profile.TEACHER, redirect="prof.delai@example.com")
    stored_id = routing.route(teacher, [account("joseph.fabre").id],
                              mail("x@example.com", "joseph.fabre@ent.test", "Trop tard")
                              ).message_id
    db.session.commit()
    now = utcnow()
    # A worker claims it, then dies before recording anything.
    assert stored_id in {c.message_id for c in queue.claim("dead-worker", limit=10_000, now=now)}
    db.session.commit()
    send_all(now=now + current().queue_lifetime + queue.LEASE)
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.FAILED and entry.last_error.startswith("unreachable")
    assert [d for d in sink.to(JOSEPH) if b"Trop tard" in d.data] == []
    (subject,) = report_subjects(sink, "prof.delai@example.com")
    assert subject == "Non remis : Trop tard"
    (report,) = sink.to("prof.delai@example.com")
    text = " ".join(message_from_bytes(report.data, policy=policy.default)
                    .get_body(("plain",)).get_content().split())
    assert "n'a pas pu partir" in text


def test_a_message_that_cannot_be_read_whole_fails_alone_and_the_batch_is_sent(sink,
                                                                               monkeypatch):
    teacher = new_account(Profile.TEACHER, redirect="prof.lot@example.com")
    ids = {}
    for subject in ("Illisible", "Lisible", "Sans pièce jointe"):
        message = mail("x@example.com", "joseph.fabre@ent.test", subject)
        if subject != "Sans pièce jointe":
            message.add_attachment(subject.encode(), maintype="application", subtype="pdf",
                                   filename=f"{subject}.pdf")
        ids[subject] = routing.route(teacher, [account("joseph.fabre").id],
                                     message).message_id
    db.session.commit()
    read = store.messages_bytes

    def failing(message_ids):       # as if its stored parts could not be put back together
        message_ids = list(message_ids)
        if ids["Illisible"] in message_ids:
            raise ValueError("a part that cannot be rebuilt")
        return read(message_ids)

    monkeypatch.setattr(store, "messages_bytes", failing)
    send_all()
    monkeypatch.undo()
    states = {subject: entries_of(message_id)[0].state for subject, message_id in ids.items()}
    assert states == {"Illisible": EntryState.FAILED, "Lisible": EntryState.SENT,
                      "Sans pièce jointe": EntryState.SENT}
    received = [message_from_bytes(d.data, policy=policy.default) for d in sink.to(JOSEPH)]
    assert sorted(str(m["Subject"]) for m in received
                  if str(m["Subject"]) in states) == ["Lisible", "Sans pièce jointe"]
    assert report_subjects(sink, "prof.lot@example.com") == ["Non remis : Illisible"]
