"""Accept, then index (mailgate/indexer.py): a message answered 250 is in the inbox at once,
read from its header; its parts, attachments and search text come a moment later. Reading it
before that works; a body the parser cannot read ends up shown as received."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import select

from directory.clock import travel_to, utcnow
from directory.db import db, write_transaction
from directory.enums import Profile
from mailgate import identity, indexer, mime, routing, store, worker
from mailgate.models import MailAttachment, MailboxItem, MailMessage
from portal.messagerie.search import search

from .conftest import address_of, new_account
from .helpers import inbox, mail, raw

JOSEPH = "joseph@example.org"


def test_a_message_is_in_the_inbox_at_250_and_found_by_its_text_once_indexed(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    word = f"girafe{uuid.uuid4().hex[:8]}"
    message = mail(JOSEPH, address_of(pupil), "Sortie au zoo", f"Nous verrons une {word}.")
    smtp.sendmail(JOSEPH, [address_of(pupil)], raw(message))
    answered = time.monotonic()
    db.session.rollback()
    listed = db.session.scalars(select(MailMessage.subject).join(
        MailboxItem, MailboxItem.message_id == MailMessage.id).where(
        MailboxItem.account_id == pupil.id)).all()
    assert listed == ["Sortie au zoo"]
    while not search(pupil, word, 1).total:
        assert time.monotonic() - answered < 5, "not found by search 5 s after its 250"
        time.sleep(0.01)
        db.session.rollback()
    assert search(pupil, "sortie au zoo", 1).total == 1
    (stored,) = inbox(pupil)
    assert stored.indexed_at is not None and word in stored.text_body


def _stored_raw(pupil, data: bytes) -> int:
    """What the gateway commits before its 250 (header read, body as received), without its
    indexer thread: the message waits, as after a gateway killed right after the commit. The
    delivery holds SQLite's write lock from its first statement, as the gateway's committer
    does: a running worker may commit between the reads and the writes."""
    author = identity.author_for(JOSEPH)
    parsed = mime.headers_only(data)
    decisions = routing.check(author, [pupil.id])
    result = write_transaction(
        lambda: routing.deliver(author, parsed, decisions, save_copy=False))
    assert result.message_id is not None
    return result.message_id


def _with_attachment(to: str) -> bytes:
    message = mail(JOSEPH, to, "Le programme", "Le programme est joint.")
    message.add_attachment(b"%PDF-1.4 programme", maintype="application", subtype="pdf",
                           filename="programme.pdf")
    return raw(message)


def test_reading_a_message_not_yet_indexed_reads_its_parts_there_and_then():
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    data = _with_attachment(address_of(pupil))
    message_id = _stored_raw(pupil, data)
    waiting = db.session.get(MailMessage, message_id)
    assert waiting.indexed_at is None and waiting.text_body == "" and waiting.source.endswith(
        data.split(b"\r\n\r\n", 1)[1])
    assert store.message_bytes(waiting).count(b"%PDF") == 0      # base64, as received
    item_id = db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == message_id))
    _item, message = store.item_of(pupil, item_id)
    assert message.indexed_at is not None
    assert message.text_body.strip() == "Le programme est joint." and message.has_attachments
    (attachment,) = db.session.scalars(select(MailAttachment).where(
        MailAttachment.message_id == message_id))
    assert (attachment.filename, attachment.size) == ("programme.pdf", 18)
    db.session.commit()
    rebuilt = mime.parse(store.message_bytes(db.session.get(MailMessage, message_id)))
    assert rebuilt.attachments[0].data == b"%PDF-1.4 programme"


def test_messages_a_gateway_left_unindexed_are_indexed_by_the_worker_round():
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message_id = _stored_raw(pupil, raw(mail(JOSEPH, address_of(pupil), "Laissé", "Reste.")))
    indexer.index_left()
    assert _unindexed_id(message_id) == message_id      # not LEFT_AFTER old yet: its gateway's
    while indexer.index_left(timedelta(0)):
        pass
    db.session.rollback()
    message = db.session.get(MailMessage, message_id)
    assert message.indexed_at is not None and message.text_body.strip() == "Reste."
    assert "reste." in message.search_text


def test_the_running_worker_indexes_what_a_gateway_left(mail_app, monkeypatch):
    """`preau worker` looks for messages left unindexed every LOOK_FOR_LEFT_EVERY seconds while
    it finds none, and takes one once it is LEFT_AFTER old."""
    monkeypatch.setattr(worker, "LOOK_FOR_LEFT_EVERY", 0.2)
    stop = threading.Event()

    def run():
        with mail_app.app_context():
            worker.run_forever(stop, idle=0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)                     # the worker has looked once, and found nothing
        pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
        message_id = _stored_raw(pupil, raw(mail(JOSEPH, address_of(pupil), "Oublié",
                                                 "Repris par le worker.")))
        with travel_to(utcnow() + indexer.LEFT_AFTER + timedelta(seconds=1)):
            deadline = time.monotonic() + 10
            while _unindexed_id(message_id) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    message = db.session.get(MailMessage, message_id)
    assert message.indexed_at is not None and message.text_body.strip() == "Repris par le worker."


def _unindexed_id(message_id: int) -> int | None:
    db.session.rollback()
    return db.session.scalar(select(MailMessage.id).where(
        MailMessage.id == message_id, MailMessage.indexed_at.is_(None)))


def test_a_body_the_parser_cannot_read_is_accepted_and_shown_as_received(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    data = (f"From: {JOSEPH}\r\nTo: {address_of(pupil)}\r\nSubject: Sans frontière\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
            "Le texte.\r\n--x--\r\n").encode()
    code, _ = smtp.sendmail(JOSEPH, [address_of(pupil)], data) or (250, b"")
    assert code == 250
    (stored,) = inbox(pupil)
    # As received; the reading page says it is malformed (from the flag).
    assert stored.malformed and stored.text_body.startswith("--x\r\n")
    assert "Le texte." in stored.text_body


def test_a_one_part_latin_1_quoted_printable_message_is_indexed_as_the_full_parse_reads_it():
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    data = (f"From: {JOSEPH}\r\nTo: {address_of(pupil)}\r\nSubject: =?utf-8?q?Sortie_au_mus=C3=A9e?="
            f"\r\nMessage-ID: <{uuid.uuid4().hex}@example.org>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain;\r\n\tcharset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Les =E9l=E8ves apporteront leur\r\ngo=FBter, =\r\njeudi.\r\n").encode()
    assert mime.parse_plain(data) is not None, "read without the email package's tree"
    message_id = _stored_raw(pupil, data)
    assert indexer.index_ids([message_id]) == 1
    db.session.rollback()
    message = db.session.get(MailMessage, message_id)
    full = mime.parse(data)
    assert (message.text_body, message.html_body, message.malformed, message.has_attachments) \
        == (full.text_body, None, False, False)
    assert message.text_body == "Les élèves apporteront leur\r\ngoûter, jeudi.\r\n"
    assert "les eleves apporteront leur gouter, jeudi." in message.search_text
    assert search(pupil, "élèves apporteront leur goûter", 1).total == 1
