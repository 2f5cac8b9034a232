"""A folder's page of messages as the Messagerie lists it: the columns of a row, the sorts,
and one page found in a fixed number of queries whatever the size of the mailbox — the page's
ids first on narrow rows, then only those joined. The counts of every folder (the sidebar,
which also gives the total for pagination) are `mailgate.mailbox.folder_counts`; the search
is in search.py."""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from sqlalchemy import func, select

from directory.db import db
from directory.models import Account
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage

PER_PAGE = 50

SORTS = ("date", "expediteur", "objet")
ORDERS = ("desc", "asc")
# Folders of what one wrote: their lists show the recipients where the others show the
# sender (always oneself here), and « expediteur » sorts by them.
RECIPIENT_FOLDERS = (FolderKind.SENT, FolderKind.OUTBOX, FolderKind.DRAFTS)


def shows_recipients(folder: MailFolder) -> bool:
    return folder.kind in RECIPIENT_FOLDERS


@dataclass(frozen=True)
class Listing:
    """One page of messages: rows of (MailboxItem, MailMessage fields…, folder_id)."""

    rows: list
    total: int
    number: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))


def list_columns():
    """What a list row shows. The sender is the author's account when there is one (its
    name, never an address the message may have come from)."""
    author_name = (Account.first_name + " " + Account.last_name).label("author_name")
    return (MailboxItem.id, MailboxItem.folder_id, MailboxItem.is_read, MailboxItem.size,
            MailboxItem.received_at, MailboxItem.is_answered, MailMessage.subject,
            MailMessage.from_name, MailMessage.from_address, MailMessage.to_display,
            MailMessage.has_attachments, MailMessage.author_id, author_name)


def with_message(query):
    """The query joined to the message and its author's account (for the list columns)."""
    return (query.join(MailMessage, MailMessage.id == MailboxItem.message_id)
            .outerjoin(Account, Account.id == MailMessage.author_id))


def _ordering(sort: str, order: str, *, recipients: bool = False) -> list:
    newest = [MailboxItem.received_at.desc(), MailboxItem.id.desc()]
    if sort == "date":
        return newest if order == "desc" else [MailboxItem.received_at, MailboxItem.id]
    if sort == "objet":
        column = func.lower(MailMessage.subject)
    elif recipients:
        column = func.lower(MailMessage.to_display)
    else:
        column = func.coalesce(Account.search_name, func.lower(MailMessage.from_name))
    return [column.desc() if order == "desc" else column] + newest


def folder_listing(account: Account, folder: MailFolder, total: int, number: int, *,
                   sort: str = "date", order: str = "desc") -> Listing:
    """A page of a folder; `total` comes from `folder_counts`. The page's 50 ids are found
    first on narrow rows — sorted by date, in the index (folder_id, received_at, id) alone,
    so that a deep page skips index entries and not joined rows — and only those 50 are
    joined for what the list shows."""
    ordering = _ordering(sort, order, recipients=shows_recipients(folder))
    page_ids = select(MailboxItem.id).where(MailboxItem.folder_id == folder.id)
    if sort != "date":
        page_ids = with_message(page_ids)
    page_ids = page_ids.order_by(*ordering).limit(PER_PAGE).offset((number - 1) * PER_PAGE)
    rows = db.session.execute(
        with_message(select(*list_columns()))
        .where(MailboxItem.id.in_(page_ids.scalar_subquery()),
               MailboxItem.account_id == account.id)
        .order_by(*ordering)).all()
    return Listing(rows, total, number)
