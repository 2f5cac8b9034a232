"""The one routing path as the web form calls it, and the store under it."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from sqlalchemy import event, select

from directory.db import db, has_lz4
from directory.enums import Profile
from directory.errors import InvalidInput, NotFound
from mailgate import mailbox, mime, store
from mailgate.compose import compose
from mailgate.models import (
    EntryKind,
    FolderKind,
    MailAttachment,
    MailBlob,
    Mailbox,
    MailboxItem,
    MailMessage,
    OutboundEntry,
)
from mailgate.routing import Delivery, Outcome, Refusal, check, deliver_many, route
from mailgate.settings import current

from .conftest import account, missing, new_account
from .helpers import count, folder_messages, inbox, indexed

PDF = b"%PDF-1.4 " + bytes(range(256)) * 40


def classmates(n: int):
    return [new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(n)]


def test_a_message_to_several_people_is_stored_once_with_one_reference_each():
    claire = account("claire.bernard")
    first, second = classmates(2)
    joseph = account("joseph.fabre")
    result = route(claire, [first.id, second.id, joseph.id],
                   compose(claire, to=[first, second, joseph], subject="Sortie", text="Lundi"))
    db.session.commit()
    assert [r.outcome for r in result.recipients] == [Outcome.DELIVERED, Outcome.DELIVERED,
                                                      Outcome.FORWARDED]
    assert result.copy_folder == FolderKind.OUTBOX
    assert count(MailMessage, MailMessage.id == result.message_id) == 1
    assert count(MailboxItem, MailboxItem.message_id == result.message_id) == 3
    (entry,) = db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.message_id == result.message_id))
    assert entry.kind == EntryKind.FORWARD and entry.address == "joseph@example.org"
    assert [m.id for m in inbox(first)] == [result.message_id]
    assert [m.id for m in folder_messages(claire, FolderKind.OUTBOX)][-1] == result.message_id


def test_a_students_copy_goes_to_sent_and_counts_in_their_quota():
    author, friend = classmates(2)
    result = route(author, [friend.id], compose(author, to=[friend], subject="Salut", text="!"))
    db.session.commit()
    assert result.copy_folder == FolderKind.SENT
    (sent,) = folder_messages(author, FolderKind.SENT)
    assert store.usage(author.id) == sent.size == store.recount_usage(author.id)


def test_attachments_are_stored_once_and_removed_with_the_last_reference():
    claire = account("claire.bernard")
    first, second = classmates(2)

    def send(person, subject):
        message = compose(claire, to=[person], subject=subject, text="Voir la pièce jointe",
                          attachments=[("sujet.pdf", "application/pdf", PDF)])
        return route(claire, [person.id], message, save_copy=False).message_id

    one, two = send(first, "Sujet A"), send(second, "Sujet B")
    db.session.commit()
    (blob,) = db.session.scalars(select(MailBlob.sha256).join(
        MailAttachment, MailAttachment.blob_sha256 == MailBlob.sha256).where(
        MailAttachment.message_id == one))
    assert count(MailAttachment, MailAttachment.blob_sha256 == blob) == 2
    assert count(MailBlob, MailBlob.sha256 == blob) == 1
    stored = db.session.get(MailMessage, one)
    assert PDF not in stored.source and stored.has_attachments
    rebuilt = message_from_bytes(store.message_bytes(stored), policy=policy.default)
    (attachment,) = rebuilt.iter_attachments()
    assert attachment.get_filename() == "sujet.pdf" and attachment.get_content() == PDF
    assert rebuilt.get_body(("plain",)).get_content().strip() == "Voir la pièce jointe"

    store.delete_items(first, [i.id for i in _items(first)])
    db.session.commit()
    assert count(MailMessage, MailMessage.id == one) == 0
    assert count(MailBlob, MailBlob.sha256 == blob) == 1          # still held by "Sujet B"
    store.delete_items(second, [i.id for i in _items(second)])
    db.session.commit()
    assert count(MailMessage, MailMessage.id == two) == 0
    assert count(MailBlob, MailBlob.sha256 == blob) == 0
    assert store.usage(first.id) == 0 == store.recount_usage(first.id)


def _items(person) -> list[MailboxItem]:
    return list(db.session.scalars(select(MailboxItem).where(MailboxItem.account_id == person.id)))


def test_someone_elses_attachment_answers_not_found():
    claire = account("claire.bernard")
    (pupil,) = classmates(1)
    route(claire, [pupil.id], compose(claire, to=[pupil], subject="PJ", text=".",
                                      attachments=[("a.txt", "text/plain", b"secret")]))
    db.session.commit()
    (attachment_id,) = db.session.scalars(select(MailAttachment.id).join(
        MailboxItem, MailboxItem.message_id == MailAttachment.message_id).where(
        MailboxItem.account_id == pupil.id))
    assert store.attachment_for(pupil, attachment_id).data == b"secret"
    with pytest.raises(NotFound):
        store.attachment_for(account("lucas.martin"), attachment_id)


def test_a_full_mailbox_is_refused_and_the_author_is_warned():
    author, full = classmates(2)
    store.system_folders([full.id], FolderKind.INBOX)
    store.reserve([full.id], current().quota_bytes - 100, None)
    db.session.commit()
    result = route(author, [full.id], compose(author, to=[full], subject="Coucou", text="x"))
    db.session.commit()
    (refused,) = result.refused
    assert refused.refusal == Refusal.MAILBOX_FULL
    assert refused.reason == f"La boîte aux lettres de {full.full_name} est pleine"
    assert result.message_id is None
    (warning,) = inbox(author)
    assert warning.subject == "Non remis : Coucou" and full.full_name in warning.text_body


def test_a_batch_fills_a_mailbox_in_order_and_keeps_nothing_of_the_message_that_did_not_fit():
    """The gateway's group commit: three messages judged together while the pupil still had
    room, delivered in one transaction: the first two fit, the third is refused and is not
    left behind in the store."""
    author, pupil = classmates(2)
    parsed = [mime.parse(compose(author, to=[pupil], subject=f"Message {n}",
                                 text="x" * 2000).as_bytes()) for n in range(3)]
    store.system_folders([pupil.id], FolderKind.INBOX)
    room = parsed[0].size + parsed[1].size + parsed[2].size // 2
    store.reserve([pupil.id], current().quota_bytes - room, None)
    db.session.commit()
    jobs = [Delivery(author, p, check(author, [pupil.id], incoming_size=p.size))
            for p in parsed]
    assert all(job.decisions[0].result.accepted for job in jobs)
    first, second, third = deliver_many(jobs)
    db.session.commit()
    assert first.recipients[0].outcome == second.recipients[0].outcome == Outcome.DELIVERED
    assert third.recipients[0].refusal == Refusal.MAILBOX_FULL and third.message_id is None
    assert [m.subject for m in inbox(pupil)] == ["Message 0", "Message 1"]
    assert count(MailMessage, MailMessage.message_id_header == parsed[2].message_id) == 0
    assert store.usage(pupil.id) == current().quota_bytes - room + parsed[0].size + \
        parsed[1].size
    assert [w.subject for w in inbox(author)] == ["Non remis : Message 2"]


def test_a_recipient_without_redirect_address_is_named_at_once_and_in_a_warning():
    (author,) = classmates(1)
    teacher = new_account(Profile.TEACHER, group_of="zoe.le-gall")
    friend = account("lucas.martin")
    result = route(author, [teacher.id, friend.id],
                   compose(author, to=[teacher, friend], subject="Question", text="?"))
    db.session.commit()
    refused, delivered = result.recipients
    assert refused.refusal == Refusal.NO_REDIRECT and delivered.outcome == Outcome.DELIVERED
    assert refused.reason == (f"{teacher.full_name} n'a pas d'adresse de redirection : le "
                              "message ne peut pas lui parvenir")
    warning = [m for m in inbox(author) if m.automatic]
    assert len(warning) == 1 and teacher.full_name in warning[0].text_body
    assert "Les autres destinataires l'ont bien reçu." in warning[0].text_body


def test_more_than_50_recipients_are_all_refused_unless_population_mailing():
    claire = account("claire.bernard")
    pupils = classmates(51)
    before = count(MailMessage)
    result = route(claire, [p.id for p in pupils], compose(claire, subject="Tous", text="."))
    assert {r.refusal for r in result.recipients} == {Refusal.TOO_MANY}
    assert result.recipients[0].reason.startswith(
        "Un message peut avoir au plus 50 destinataires (51 indiqués ;")
    db.session.commit()
    assert count(MailMessage) == before
    result = route(claire, [p.id for p in pupils], compose(claire, subject="Tous", text="."),
                   population=True)
    db.session.commit()
    assert len(result.accepted) == 51


def test_duplicates_count_once_and_unknown_ids_or_addresses_are_refused():
    claire = account("claire.bernard")
    zoe = account("zoe.le-gall")
    result = route(claire, [zoe.id, "ZOE.LE-GALL@ent.test", zoe.id, 999_999_999,
                            "nobody@ent.test", "x@elsewhere.org"],
                   compose(claire, subject="Doublons", text="."), save_copy=False)
    assert [(r.outcome, r.refusal) for r in result.recipients] == [
        (Outcome.DELIVERED, None), (Outcome.REFUSED, Refusal.UNKNOWN), (Outcome.REFUSED, Refusal.UNKNOWN),
        (Outcome.REFUSED, Refusal.NOT_LOCAL)]
    db.session.commit()
    assert count(MailboxItem, MailboxItem.message_id == result.message_id) == 1


def test_no_recipient_is_a_clear_error_and_stores_nothing():
    claire = account("claire.bernard")
    before = count(MailMessage)
    with pytest.raises(InvalidInput, match="au moins un destinataire"):
        route(claire, [], compose(claire, subject="Vide", text="."))
    db.session.rollback()
    assert count(MailMessage) == before


def test_bcc_is_kept_for_the_author_only():
    claire = account("claire.bernard")
    seen, hidden = classmates(2)
    result = route(claire, [seen.id, hidden.id],
                   compose(claire, to=[seen], bcc=[hidden], subject="Cci", text="."))
    db.session.commit()
    stored = db.session.get(MailMessage, result.message_id)
    assert hidden.address not in stored.source.decode() and b"Bcc" not in stored.source
    assert hidden.address in stored.bcc_display
    assert stored in inbox(hidden)


def test_replying_to_a_received_message_opens_the_right_to_answer():
    director = new_account(Profile.STAFF, redirect="dir2@example.com")
    (pupil,) = classmates(1)
    assert route(pupil, [director.id], compose(pupil, subject="?", text=".")
                 ).recipients[0].refusal == Refusal.NOT_ALLOWED
    db.session.rollback()
    other = route(director, [account("lucas.martin").id],
                  compose(director, subject="Pas pour toi", text=".")).message_id
    received = route(director, [pupil.id], compose(director, subject="Info", text=".")
                     ).message_id
    db.session.commit()
    stranger = new_account(Profile.STAFF, redirect="dir3@example.com")
    answer = route(pupil, [director.id], compose(pupil, subject="Re: Info", text="."),
                   replying_to=received)
    assert answer.recipients[0].outcome == Outcome.FORWARDED
    refused = route(pupil, [stranger.id], compose(pupil, subject="Re", text="."),
                    replying_to=other)
    assert refused.recipients[0].refusal == Refusal.NOT_ALLOWED
    db.session.rollback()


def test_the_counts_of_every_folder_are_one_query():
    claire = account("claire.bernard")
    (pupil,) = classmates(1)
    for n in range(60):
        route(claire, [pupil.id], compose(claire, subject=f"Message {n}", text="."),
              save_copy=False)
    db.session.commit()
    inbox_id = store.system_folders([pupil.id], FolderKind.INBOX)[pupil.id]
    db.session.commit()
    db.session.refresh(pupil)
    statements = []
    engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        counts = mailbox.folder_counts(pupil)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [s for s in statements if s != "BEGIN"] == statements[-1:]
    assert counts[inbox_id] == (60, 60)


def test_quota_counter_matches_the_items_after_moves_and_deletions():
    claire = account("claire.bernard")
    (pupil,) = classmates(1)
    for n in range(3):
        route(claire, [pupil.id], compose(claire, subject=f"Q{n}", text="." * 1000),
              save_copy=False)
    db.session.commit()
    items = _items(pupil)
    folder = mailbox.create_folder(pupil, "Classe")
    mailbox.move(pupil, [items[0].id], folder)
    mailbox.mark(pupil, [items[1].id])
    store.delete_items(pupil, [items[2].id])
    db.session.commit()
    expected = sum(i.size for i in items[:2])
    assert store.usage(pupil.id) == expected == store.recount_usage(pupil.id)
    assert db.session.get(Mailbox, pupil.id).used_bytes == expected
    with pytest.raises(InvalidInput):
        mailbox.create_folder(pupil, "classe")
    with pytest.raises(InvalidInput):
        mailbox.delete_folder(pupil, folder)
    assert mailbox.delete_folder(pupil, folder, move_to_home=True) == 1
    db.session.commit()
    inbox_id = store.system_folders([pupil.id], FolderKind.INBOX)[pupil.id]
    assert db.session.get(MailboxItem, items[0].id).folder_id == inbox_id


@pytest.mark.postgres_only
def test_message_bodies_are_compressed_with_lz4():
    """Migration 0019: the source stored before the 250 and the text the indexer writes are
    compressed with lz4, about 15× cheaper in CPU than PostgreSQL's default pglz."""
    if not has_lz4(db.session.connection()):
        missing("this PostgreSQL was built without lz4")
    claire, (pupil,) = account("claire.bernard"), classmates(1)
    text = "Sortie au musée lundi : rendez-vous à 8 h devant le collège.\n" * 200
    result = route(claire, [pupil.id], compose(claire, to=[pupil], subject="Sortie", text=text))
    db.session.commit()
    indexed()
    methods = db.session.execute(sa.text(
        "SELECT pg_column_compression(source), pg_column_compression(text_body) "
        "FROM mail_message WHERE id = :id"), {"id": result.message_id}).one()
    assert tuple(methods) == ("lz4", "lz4")


@pytest.mark.postgres_only
def test_a_mailbox_filled_by_another_transaction_meanwhile_is_decided_again():
    """A batch decides quota on usage read without locks; another gateway filling the mailbox
    before the batch's end makes that batch start over (store.QuotaRace), never overshoot."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    claire = account("claire.bernard")
    route(claire, [pupil.id], compose(claire, subject="Premier", text="."))
    db.session.commit()
    quota = current().quota_bytes
    read = store.read_usage([pupil.id])
    with db.engine.connect() as other:      # the other gateway's transaction, committed
        other.execute(Mailbox.__table__.update().where(Mailbox.account_id == pupil.id)
                      .values(used_bytes=quota - 10))
        other.commit()
    with pytest.raises(store.QuotaRace):
        store.settle_usage(read, {pupil.id: 1000}, {pupil.id: quota})
    db.session.rollback()
    read = store.read_usage([pupil.id])
    store.settle_usage(read, {pupil.id: 5}, {pupil.id: quota})      # still fits: added
    db.session.commit()
    assert store.usage(pupil.id) == quota - 5
    result = route(claire, [pupil.id], compose(claire, subject="Trop", text="."))
    assert result.recipients[0].refusal == Refusal.MAILBOX_FULL
    db.session.rollback()
