"""A member's own data, downloaded from Préférences (RGPD, SPEC §8): a zip of their profile
(JSON), their messages (one .eml per message, by folder), their address book (.vcf), and what
they wrote or answered elsewhere in Préau (JSON): signatures, communications (with their
attachments, as files), the articles they wrote and the events they created (with the files
they uploaded to articles, as files), agenda answers and comments, article comments.

A message written for many is stored once with placeholders (mailgate/personalise.py): the
archive gives it as the member reads it in the messagerie, with their own values. A message
they wrote carries its Bcc field, which the stored copy never holds (mailgate/routing.py keeps
it apart, for its author only, in `bcc_display`); the same message in anyone else's archive
does not.

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
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import formataddr, getaddresses
from typing import IO

from sqlalchemy import Select, func, select

from agenda.models import Agenda, Answer, Comment, Event
from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, ParentLink, School
from directory.roles import effective_roles
from directory.rubric_models import Rubric
from directory.sets import any_of
from mailgate import mime, personalise, store
from mailgate.automations.models import Communication, CommunicationFile, Signature
from mailgate.models import MailboxItem, MailFolder, MailMessage

from .carnet import exporting
from .rubriques.models import Article, ArticleComment, ArticleFile

BATCH = 200                         # messages read in one query at most…
BATCH_BYTES = 16 * 1024 * 1024      # …and at most this many bytes of them (or one bigger one)
IN_MEMORY = 4 * 1024 * 1024         # an archive bigger than this is spooled to disk
ROWS = 500                          # rows of a JSON list fetched at a time
LINE_MAX = 998                      # octets of a header line (RFC 5322 §2.1.1)


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
            _write_article_files(archive, account)
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
        bcc = _own_bcc(account, whole)
        for item in batch:
            if item.message_id in whole:     # else deleted meanwhile
                data = personalise.forward_bytes(whole[item.message_id], item.message_id,
                                                 account.id, jobs=jobs)
                if item.message_id in bcc:
                    data = _with_bcc(data, bcc[item.message_id])
                archive.writestr(f"messages/{_safe(item.name)}/{item.id}.eml", data)


def _own_bcc(account: Account, messages: Mapping[int, bytes]) -> dict[int, str]:
    """The Bcc of those of a batch's messages the member wrote (one query a batch): it is
    theirs to see, as the messagerie shows it to them, and never anyone else's."""
    if not messages:
        return {}
    return dict(db.session.execute(
        select(MailMessage.id, MailMessage.bcc_display)
        .where(any_of(MailMessage.id, messages), MailMessage.author_id == account.id,
               MailMessage.bcc_display != "")).all())


# one entry of `bcc_display` as routing and drafts write it: "Name <address>" (the name as
# decoded, unquoted: it may hold a comma) or a bare address; entries joined by ", "
# (a bare address is tried first: a name may hold a comma, and would otherwise swallow the bare
# addresses before the next "Name <address>")
_BCC_ENTRY = re.compile(r"\s*(?:(?P<bare>[^<>\s,]*@[^<>\s,]+)\s*(?=,|\Z)"
                        r"|(?P<name>[^<>]*?)\s*<(?P<address>[^<>\s]+)>)\s*(?:,|\Z)")


def _bcc_pairs(display: str) -> list[tuple[str, str]]:
    """(name, address) of each entry of a `bcc_display`; what the pattern cannot read whole
    is read as an address list."""
    pairs, position = [], 0
    while display[position:].strip():
        entry = _BCC_ENTRY.match(display, position)
        if entry is None or entry.end() == position:
            return [(name, address) for name, address in getaddresses([display]) if address]
        pairs.append((entry["name"] or "", entry["address"] or entry["bare"]))
        position = entry.end()
    return pairs


def _bcc_field(display: str) -> bytes:
    """A Bcc field naming the entries of `display`: one line (folded between two entries
    only past LINE_MAX), names quoted or RFC 2047 encoded, nothing that could start another
    field. Empty when it names nobody."""
    entries = []
    for name, address in _bcc_pairs(display):
        name = "".join(c for c in mime.one_line(name) if c.isprintable())
        address = "".join(address.split())
        if not address.isprintable():
            continue
        if address.isascii():
            entries.append(formataddr((name, address), charset="utf-8"))
        else:       # RFC 6532, which formataddr refuses: as it came (mailgate/headers.py)
            entries.append(f"{formataddr((name, '@'), charset='utf-8').removesuffix(' <@>')}"
                           f" <{address}>" if name else address)
    if not entries:
        return b""
    lines, line = [], "Bcc:"
    for n, entry in enumerate(entries, 1):
        piece = f" {entry}," if n < len(entries) else f" {entry}"
        if line != "Bcc:" and len((line + piece).encode()) > LINE_MAX:
            lines.append(line)
            line = ""
        line += piece
    return "\r\n".join([*lines, line]).encode() + b"\r\n"


def _with_bcc(data: bytes, display: str) -> bytes:
    """The message `data` with a Bcc field naming `display`, after its To and Cc (at the end
    of its header if it has neither); as it is if it has a Bcc already or `display` names
    nobody."""
    fields, body = mime.split(data)
    bcc = _bcc_field(display)
    if not bcc or any(f.key == "bcc" for f in fields):
        return data
    recipients = [n for n, f in enumerate(fields) if f.key in ("to", "cc")]
    at = recipients[-1] + 1 if recipients else len(fields)
    return (b"".join(f.raw for f in fields[:at]) + bcc
            + b"".join(f.raw for f in fields[at:]) + b"\r\n" + body)


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
        ("articles.json", select(
            Article.id.label("numero"), Article.title.label("titre"),
            Rubric.name.label("rubrique"), School.name.label("etablissement"),
            Article.status.label("statut"), Article.publish_at.label("publication"),
            Article.body.label("texte_html"), Article.comments.label("mode_commentaires"),
            Article.created_at.label("ecrit_le"), Article.updated_at.label("modifie_le"))
         .join(Rubric, Rubric.id == Article.rubric_id)
         .join(School, School.id == Rubric.school_id)
         .where(Article.author_id == account.id).order_by(Article.id)),
        ("fichiers_articles.json", select(
            ArticleFile.id.label("numero"), ArticleFile.article_id.label("article_numero"),
            Article.title.label("article"), ArticleFile.filename.label("nom"),
            ArticleFile.content_type.label("type"), ArticleFile.size.label("taille"),
            ArticleFile.created_at.label("envoye_le"))
         .outerjoin(Article, Article.id == ArticleFile.article_id)
         .where(ArticleFile.uploader_id == account.id).order_by(ArticleFile.id)),
        ("agenda_evenements.json", select(
            Event.id.label("numero"), Event.title.label("titre"),
            func.coalesce(Group.name, Rubric.name).label("agenda"),
            School.name.label("etablissement"), Event.place.label("lieu"),
            Event.summary.label("texte"), Event.starts_at.label("debut"),
            Event.ends_at.label("fin"), Event.all_day.label("journee_entiere"),
            Event.rrule.label("repetition"), Event.status.label("statut"),
            Event.created_at.label("cree_le"), Event.updated_at.label("modifie_le"))
         .join(Agenda, Agenda.id == Event.agenda_id)
         .outerjoin(Group, Group.id == Agenda.group_id)
         .outerjoin(Rubric, Rubric.id == Agenda.rubric_id)
         .outerjoin(School, School.id == func.coalesce(Group.school_id, Rubric.school_id))
         .where(Event.author_id == account.id).order_by(Event.id)),
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


def _write_article_files(archive: zipfile.ZipFile, account: Account) -> None:
    """The images and files the member uploaded to articles, under articles/<article's
    numero>/ (articles/en_attente/ for those no saved article holds yet), read one at a
    time; `fichiers_articles.json` lists them."""
    files = db.session.execute(
        select(ArticleFile.article_id, ArticleFile.id, ArticleFile.filename, ArticleFile.data)
        .where(ArticleFile.uploader_id == account.id).order_by(ArticleFile.id)
        .execution_options(yield_per=1))
    for article_id, file_id, filename, data in files:
        folder = article_id if article_id is not None else "en_attente"
        archive.writestr(f"articles/{folder}/{file_id}-{_safe(filename)}", data)


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
