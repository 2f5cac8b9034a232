"""The message store and the outbound queue (SPEC §3, §4).

A message is one `MailMessage` row whatever the number of its recipients; each mailbox that
holds it has a `MailboxItem` (folder, read flag, flags) and each forward has an
`OutboundEntry`. Attachments are `MailAttachment` rows pointing at content-addressed
`MailBlob`s (see mailgate/store/__init__.py for why they live in the database).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from functools import partial

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from directory.clock import utcnow
from directory.db import db, text_enum
from directory.naming import fold
from directory.wording import WORDING, Reason

from .personalise import without_placeholders

_enum = partial(text_enum, length=10)


class FolderKind(enum.StrEnum):
    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    OUTBOX = "outbox"
    USER = "user"

    @property
    def label(self) -> str:
        """The French name (gettext(label) shows it in the reader's language)."""
        return FOLDER_LABELS[self]

    @property
    def reason(self) -> Reason:
        """The name as a parameter of a reason, worded in the reader's language."""
        return Reason(f"folder.{self.value}")


FOLDER_LABELS = {kind: WORDING[f"folder.{kind.value}"] for kind in FolderKind}
SYSTEM_FOLDERS = (FolderKind.INBOX, FolderKind.SENT, FolderKind.DRAFTS, FolderKind.TRASH,
                  FolderKind.OUTBOX)


class EntryKind(enum.StrEnum):
    FORWARD = "forward"     # a member's message to a member's redirect address
    REPORT = "report"       # a bounce or warning report: sent with a null sender, never bounced
    SYSTEM = "system"       # mail the portal writes (verification links): not bounced either


class EntryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"       # gave up (5xx or lifetime over); the author got a report
    BOUNCED = "bounced"     # sent, then a bounce came back; the author got a report


class SenderCheck(enum.StrEnum):
    """What the gateway found of a message claiming a member's redirect address
    (mailgate/sender_auth.py); NULL for mail that was not checked (web, system, or
    PREAU_SENDER_AUTH=off)."""

    PASS = "pass"               # SPF, or an aligned DKIM signature, vouches for the sender
    TRUSTED = "trusted"         # from PREAU_TRUSTED_NETWORKS
    UNVERIFIED = "unverified"   # neither (delivered under PREAU_SENDER_AUTH=mark)


class Mailbox(db.Model):
    """One per account that has held mail: `used_bytes` is the quota counter, kept in step with
    the account's items by every store function in the same transaction (an atomic
    `UPDATE … SET used_bytes = used_bytes + n WHERE used_bytes + n <= quota`)."""

    __tablename__ = "mailbox"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class MailFolder(db.Model):
    """System folders (name = kind) and the account's own folders (kind USER)."""

    __tablename__ = "mail_folder"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    kind: Mapped[FolderKind] = mapped_column(_enum(FolderKind, "folder_kind"))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "kind", "name"),)

    @property
    def label(self) -> str:
        return self.name if self.kind == FolderKind.USER else self.kind.label


class MailBlob(db.Model):
    """Attachment content, addressed by its SHA-256: the same file sent twice is stored once."""

    __tablename__ = "mail_blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# The recipients in Cc too (migration 0033); never Bcc, which only the author may see.
SEARCHED_COLUMNS = ("subject", "from_name", "to_display", "cc_display", "text_body")


def search_key(*parts: str) -> str:
    """Texts as the mailbox search compares them: folded (lower case, no accents: "Élève" →
    "eleve") and every run of spaces and line breaks made one space — mail text is wrapped,
    and "sortie au musée" must be found across a line break — then one part per line. An
    empty part adds no line: a column the search takes later (Cc, migration 0033) leaves the
    key of a message without it as it was."""
    folded = (" ".join(fold(part).split()) for part in parts)
    return "\n".join(part for part in folded if part)


def search_text_of(row: Mapping) -> str:
    """`MailMessage.search_text` of a row, from its other columns (the indexer's too), the
    per-recipient placeholders of a message written for many left out (personalise.py)."""
    return search_key(*(without_placeholders(row.get(name) or "")
                        for name in SEARCHED_COLUMNS))


def _search_text_of(context) -> str:
    return search_text_of(context.get_current_parameters())


def search_words_of(search_text: str) -> str:
    """`MailMessage.search_words`: the distinct words of a search text, in order of first
    appearance. pg_trgm takes its trigrams word by word, so these are the very trigrams of
    the whole text, read once per word instead of once per occurrence."""
    return " ".join(dict.fromkeys(search_text.split()))


def _search_words_of(context) -> str:
    row = context.get_current_parameters()
    text = row.get("search_text")
    return search_words_of(search_text_of(row) if text is None else text)


class MailMessage(db.Model):
    __tablename__ = "mail_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_address: Mapped[str] = mapped_column(String(254), default="")
    to_display: Mapped[str] = mapped_column(Text, default="")
    cc_display: Mapped[str] = mapped_column(Text, default="")
    # Shown to the author only (their own copy): never in `source`.
    bcc_display: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    stored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    message_id_header: Mapped[str] = mapped_column(String(250), index=True)
    in_reply_to: Mapped[str] = mapped_column(String(250), default="")
    references: Mapped[str] = mapped_column(Text, default="")
    # The size of the message as written (what the quota counts for each mailbox holding it).
    size: Mapped[int] = mapped_column(BigInteger)
    text_body: Mapped[str] = mapped_column(Text, default="")
    # As received: the messagerie sanitises it when showing it (portal/mail_html.py).
    html_body: Mapped[str | None] = mapped_column(Text)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    malformed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reports and system mail: never answered with a bounce.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    # Mail from outside: did its sender authenticate? The reading page says "Expéditeur non
    # vérifié" when not.
    sender_check: Mapped[SenderCheck | None] = mapped_column(_enum(SenderCheck, "sender_check"))
    # Header block (sanitised: no redirect address) + MIME body whose attachment payloads are
    # replaced by references to MailAttachment rows (mailgate/mime.py puts them back); the
    # body as received while the message waits for the indexer (indexed_at NULL).
    source: Mapped[bytes] = mapped_column(LargeBinary)
    # What the mailbox search compares: `search_key` of the subject, sender's name,
    # recipients (To and Cc) and text, filled on insert, and again by the indexer once it
    # has the text.
    search_text: Mapped[str] = mapped_column(Text, default=_search_text_of,
                                             server_default="")
    # Its distinct words, written with it: on PostgreSQL the GIN trigram index (migration
    # 0020) is on these, and finds the candidates whose words contain the searched words;
    # `search_text LIKE '%…%'` then keeps those that contain the searched text itself
    # (portal/messagerie/search.py).
    search_words: Mapped[str] = mapped_column(Text, default=_search_words_of,
                                              server_default="")
    # When the message's parts were read (text, HTML, attachments, search text): NULL while
    # the SMTP gateway's raw copy waits for the indexer (mailgate/indexer.py, migration 0016).
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_mail_message_unindexed", "id", postgresql_where=text("indexed_at IS NULL"),
              sqlite_where=text("indexed_at IS NULL")),
    )

    @property
    def unverified_sender(self) -> bool:
        return self.sender_check == SenderCheck.UNVERIFIED


class MailAttachment(db.Model):
    __tablename__ = "mail_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("mail_message.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255))
    content_id: Mapped[str | None] = mapped_column(String(255))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("mail_blob.sha256"), index=True)


class MailboxItem(db.Model):
    """A message in one account's folder."""

    __tablename__ = "mailbox_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: ix_mailbox_item_account_folder begins with it.
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    folder_id: Mapped[int] = mapped_column(ForeignKey("mail_folder.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("mail_message.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    is_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    is_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The reader answered the read-receipt question (yes or no): it is not asked again.
    receipt_answered: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())

    __table_args__ = (
        # A folder's page, newest first, in one index range scan.
        Index("ix_mailbox_item_folder_page", "folder_id", "received_at", "id"),
        # The sidebar's counts per folder, from the index alone.
        Index("ix_mailbox_item_account_folder", "account_id", "folder_id", "is_read"),
    )


class OutboundEntry(db.Model):
    """One message to one outside address, written in the transaction that stores the message."""

    __tablename__ = "outbound_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, "entry_kind"))
    state: Mapped[EntryState] = mapped_column(_enum(EntryState, "entry_state"),
                                              default=EntryState.PENDING)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_message.id", ondelete="SET NULL"), index=True)
    # The member the mail is for (None for system mail not written for one account).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    # Who is told when it fails (the message's author).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"),
                                                  index=True)
    address: Mapped[str] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbound_entry_due", "next_attempt_at",
              postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
        Index("ix_outbound_entry_finished", "finished_at"),
    )
