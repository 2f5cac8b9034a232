"""A member's own data, downloaded from Préférences (RGPD, SPEC §8): a zip of their profile
(JSON), their messages (one .eml per message, by folder), their address book (.vcf), and what
they wrote or answered elsewhere in Préau (JSON): signatures, communications (with their
attachments, as files), agenda answers and comments, article comments.

A message written for many is stored once with placeholders (mailgate/personalise.py): the
archive gives it as the member reads it in the messagerie, with their own values.

An outbox has no quota, so a mailbox may weigh gigabytes: the archive is written to a
temporary file (in memory while it is small, on disk beyond), and the messages are read a
batch at a time, each batch bounded by its bytes rather than its count — two hundred messages
of 20 MB would be 4 GB. What is in memory at once is one batch, whatever the mailbox's size.
The other lists are each one query, written to the archive a few hundred rows at a time."""
from __future__ import annotations

import enum
import json
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import Select, select

from agenda.models import Answer, Comment, Event
from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, ParentLink
from directory.roles import effective_roles
from mailgate import personalise, store
from mailgate.automations.models import Communication, CommunicationFile, Signature
from mailgate.models import MailboxItem, MailFolder

from .carnet import exporting
from .rubriques.models import Article, ArticleComment

BATCH = 200                         # messages read in one query at most…
BATCH_BYTES = 16 * 1024 * 1024      # …and at most this many bytes of them (or one bigger one)
IN_MEMORY = 4 * 1024 * 1024         # an archive bigger than this is spooled to disk
ROWS = 500                          # rows of a JSON list fetched at a time


def personal_data_zip(account: Account, domain: str) -> IO[bytes]:
    """The archive, in a temporary file at its start, which the caller sends and closes."""
    out = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("profil.json", json.dumps(profile(account, domain),
                                                       ensure_ascii=False, indent=2))
            _write_messages(archive, account)
            archive.writestr("carnet.vcf", exporting.export_book(account, "4.0"))
            for name, statement in _lists(account):
                _write_json_list(archive, name, statement)
            _write_communication_files(archive, account)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _write_messages(archive: zipfile.ZipFile, account: Account) -> None:
    items = db.session.execute(
        select(MailFolder.name, MailboxItem.id, MailboxItem.message_id, MailboxItem.size)
        .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
        .where(MailboxItem.account_id == account.id)
        .order_by(MailFolder.name, MailboxItem.received_at, MailboxItem.id)).all()
    for batch in _batches(items):
        # the stored source has its attachments apart (mailgate/store): put them back
        whole = store.messages_bytes(item.message_id for item in batch)
        # and a message to many has the member's own values, as the messagerie shows it
        jobs = personalise.for_batch(whole, [(message_id, account.id) for message_id in whole])
        for item in batch:
            if item.message_id in whole:     # else deleted meanwhile
                archive.writestr(f"messages/{_safe(item.name)}/{item.id}.eml",
                                 personalise.forward_bytes(whole[item.message_id],
                                                           item.message_id, account.id,
                                                           jobs=jobs))


def _batches(items: Iterable) -> Iterator[list]:
    """`items` in order, cut into batches of at most BATCH messages and BATCH_BYTES bytes;
    a message bigger than BATCH_BYTES is a batch alone."""
    batch: list = []
    size = 0
    for item in items:
        if batch and (len(batch) == BATCH or size + item.size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch


def _lists(account: Account) -> list[tuple[str, Select]]:
    """What the member wrote or answered outside the mail: file name → the query of its
    rows (each a JSON object, its keys the labels)."""
    return [
        ("signatures.json", select(
            Signature.name.label("nom"), Signature.body.label("texte"),
            Signature.is_default.label("par_defaut"))
         .where(Signature.account_id == account.id).order_by(Signature.id)),
        ("communications.json", select(
            Communication.id.label("numero"), Communication.name.label("nom"),
            Communication.kind.label("genre"), Communication.subject.label("objet"),
            Communication.body.label("texte"),
            Communication.audience_label.label("destinataires"),
            Communication.repeat.label("repetition"), Communication.draft.label("brouillon"),
            Communication.active.label("active"),
            Communication.next_run_at.label("prochain_envoi"),
            Communication.created_at.label("creee_le"))
         .where(Communication.author_id == account.id).order_by(Communication.id)),
        ("agenda_reponses.json", select(
            Event.title.label("evenement"), Event.starts_at.label("debut"),
            Answer.answer.label("reponse"), Answer.comment.label("commentaire"),
            Answer.channel.label("canal"), Answer.answered_at.label("repondu_le"))
         .join(Event, Event.id == Answer.event_id)
         .where(Answer.account_id == account.id).order_by(Answer.answered_at, Event.id)),
        ("agenda_commentaires.json", select(
            Event.title.label("evenement"), Event.starts_at.label("debut"),
            Comment.text.label("texte"), Comment.state.label("etat"),
            Comment.created_at.label("ecrit_le"))
         .join(Event, Event.id == Comment.event_id)
         .where(Comment.author_id == account.id).order_by(Comment.id)),
        ("commentaires_articles.json", select(
            Article.title.label("article"), ArticleComment.body.label("texte"),
            ArticleComment.state.label("etat"), ArticleComment.created_at.label("ecrit_le"))
         .join(Article, Article.id == ArticleComment.article_id)
         .where(ArticleComment.author_id == account.id).order_by(ArticleComment.id)),
    ]


def _write_json_list(archive: zipfile.ZipFile, name: str, statement: Select) -> None:
    """The rows of `statement` as a JSON list, fetched ROWS at a time and written one by
    one: a member may have written thousands."""
    with archive.open(name, "w") as out:
        out.write(b"[")
        rows = db.session.execute(statement.execution_options(yield_per=ROWS)).mappings()
        for n, row in enumerate(rows):
            out.write((",\n  " if n else "\n  ").encode())
            out.write(json.dumps({key: _plain(value) for key, value in row.items()},
                                 ensure_ascii=False).encode())
        out.write(b"\n]\n")


def _write_communication_files(archive: zipfile.ZipFile, account: Account) -> None:
    """The attachments of the member's communications, under communications/<numero>/,
    read one at a time (each may weigh megabytes)."""
    files = db.session.execute(
        select(CommunicationFile.communication_id, CommunicationFile.id,
               CommunicationFile.filename, CommunicationFile.data)
        .join(Communication, Communication.id == CommunicationFile.communication_id)
        .where(Communication.author_id == account.id)
        .order_by(CommunicationFile.communication_id, CommunicationFile.id)
        .execution_options(yield_per=1))
    for communication_id, file_id, filename, data in files:
        archive.writestr(f"communications/{communication_id}/{file_id}-{_safe(filename)}", data)


def _plain(value):
    """A value as JSON writes it: times in ISO 8601 UTC (stored naive), enumerations by
    their stored value."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def profile(account: Account, domain: str) -> dict:
    groups = db.session.execute(
        select(Group.kind, Group.name, GroupMember.is_manager)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.account_id == account.id).order_by(Group.kind, Group.name))
    related = {}
    for label, mine, theirs in (("enfants", ParentLink.parent_id, ParentLink.child_id),
                                ("parents", ParentLink.child_id, ParentLink.parent_id)):
        related[label] = [f"{first} {last} ({login})" for first, last, login in
                          db.session.execute(select(Account.first_name, Account.last_name,
                                                    Account.login)
                                             .join(ParentLink, theirs == Account.id)
                                             .where(mine == account.id))]
    return {
        "identifiant": account.login, "prenom": account.first_name, "nom": account.last_name,
        "profil": account.profile.label, "discipline": account.discipline or "",
        "adresse_universelle": f"{account.address}@{domain}",
        "adresse_de_redirection": account.redirect_address or "",
        "adresse_de_redirection_verifiee": account.redirect_verified,
        "adresse_de_redirection_en_attente": account.pending_redirect_address or "",
        "etablissements": [f"{s.name} ({s.uai})" for s in account.schools],
        "classes": [name for kind, name, _ in groups if kind == GroupKind.CLASS],
        "groupes": [{"nom": name, "type": kind.value, "gestionnaire": manager}
                    for kind, name, manager in groups if kind != GroupKind.CLASS],
        "roles": sorted(role.label for role in effective_roles(account)),
        "compte_cree_le": account.created_at.isoformat() if account.created_at else None,
        "dernier_acces": account.last_access_at.isoformat() if account.last_access_at
        else None,
        **related,
    }


def _safe(name: str) -> str:
    return re.sub(r"[^\w .-]+", "_", name).strip() or "dossier"
