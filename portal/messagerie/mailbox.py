"""The mailbox as its owner handles it, callable without a request (SPEC §3).

- Students (role Messagerie interne) have Boîte de réception, Messages envoyés, Brouillons and
  Corbeille; the other profiles have a Boîte d'envoi (what they sent), Brouillons and
  Corbeille. Everyone may add folders of their own. The *home* folder — where messages go
  when their folder is deleted — is the inbox for students, the outbox for the others.
- Deleting sends messages to the Corbeille; deleting in the Corbeille (or emptying it)
  removes them for good through `mailgate.store.delete_items`, which frees the quota and
  the messages and attachments nobody holds any more.
- Every id comes from a query filtered by the owner: someone else's message or folder is
  `NotFound` (→ 404), for reading and for every action alike.
- A page is a fixed number of queries whatever the size of the mailbox: one for its rows
  (the page's ids found first on narrow rows, then only those joined), one for the counts of
  every folder (the sidebar, which also gives the total for pagination). The search is in
  search.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from flask_babel import gettext, ngettext
from sqlalchemy import func, select, update

from directory.db import db
from directory.enums import Role
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from directory.roles import effective_roles
from mailgate import store
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage

from ..i18n import N_

STUDENT_FOLDERS = (FolderKind.INBOX, FolderKind.SENT, FolderKind.DRAFTS, FolderKind.TRASH)
OUTBOX_FOLDERS = (FolderKind.OUTBOX, FolderKind.DRAFTS, FolderKind.TRASH)
PER_PAGE = 50
MAX_FOLDERS = 100
FOLDER_NAME_MAX = 120
MAX_ID = 2**31 - 1

# The names of the system folders are defined in mailgate/models.py (FOLDER_LABELS), outside
# the files `pybabel extract` reads: listed here so that the catalog has them. They are
# translated at run time by gettext(folder.label) here, in folder_views.py and in the
# templates (`_(f.label)`).
FOLDER_LABEL_MARKERS = (N_("Boîte de réception"), N_("Messages envoyés"), N_("Brouillons"),
                        N_("Corbeille"), N_("Boîte d'envoi"), N_("Dossier"))


def has_inbox(account: Account) -> bool:
    return Role.INTERNAL_MAIL in effective_roles(account)


def system_kinds(account: Account) -> tuple[FolderKind, ...]:
    return STUDENT_FOLDERS if has_inbox(account) else OUTBOX_FOLDERS


def home_kind(account: Account) -> FolderKind:
    return FolderKind.INBOX if has_inbox(account) else FolderKind.OUTBOX


# Folders -------------------------------------------------------------------------------

def folders(account: Account) -> tuple[list[MailFolder], bool]:
    """The folders the account sees — its system folders in their usual order, then its own
    by name — and whether system folders had to be created (the caller commits them)."""
    kinds = system_kinds(account)
    found = store.folders(account)
    present = {f.kind for f in found}
    missing = [kind for kind in kinds if kind not in present]
    for kind in missing:
        store.system_folders([account.id], kind)
    if missing:
        found = store.folders(account)
    order = {kind: n for n, kind in enumerate(kinds)}
    shown = [f for f in found if f.kind in kinds or f.kind == FolderKind.USER]
    return sorted(shown, key=lambda f: (order.get(f.kind, len(order)), f.name.lower())), \
        bool(missing)


def system_folder(account: Account, kind: FolderKind) -> MailFolder:
    folder_id = store.system_folders([account.id], kind)[account.id]
    return db.session.get(MailFolder, folder_id)


def owned_folder(account: Account, folder_id: int) -> MailFolder:
    """One of the account's folders, or NotFound (someone else's id, or a kind it has not)."""
    if not 0 < folder_id <= MAX_ID:
        raise NotFound("Ce dossier n'existe pas.")
    folder = store.folder_of(account, folder_id)
    if folder.kind not in system_kinds(account) and folder.kind != FolderKind.USER:
        raise NotFound("Ce dossier n'existe pas.")
    return folder


def checked_folder_name(account: Account, name: str, *, renaming: MailFolder | None = None
                        ) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(gettext("Donnez un nom au dossier."))
    if len(name) > FOLDER_NAME_MAX:
        raise InvalidInput(gettext("Le nom du dossier dépasse %(max)d caractères.",
                                   max=FOLDER_NAME_MAX))
    # The system folders' names in French and as the account reads them.
    reserved = {label.lower() for kind in FolderKind if kind != FolderKind.USER
                for label in (kind.label, gettext(kind.label))}
    if name.lower() in reserved:
        raise InvalidInput(gettext("« %(name)s » est le nom d'un dossier du système.",
                                   name=name))
    same = db.session.scalar(select(MailFolder).where(
        MailFolder.account_id == account.id, MailFolder.kind == FolderKind.USER,
        func.lower(MailFolder.name) == name.lower()))
    if same is not None and same is not renaming:
        raise InvalidInput(gettext("Vous avez déjà un dossier « %(name)s ».", name=same.name))
    return name


def create_folder(account: Account, name: str) -> MailFolder:
    name = checked_folder_name(account, name)
    count = db.session.scalar(select(func.count()).where(
        MailFolder.account_id == account.id, MailFolder.kind == FolderKind.USER))
    if count >= MAX_FOLDERS:
        raise InvalidInput(gettext("Vous avez déjà %(max)d dossiers : supprimez-en un avant "
                                   "d'en créer un autre.", max=MAX_FOLDERS))
    return store.create_folder(account, name)


def rename_folder(account: Account, folder: MailFolder, name: str) -> None:
    if folder.kind != FolderKind.USER:
        raise InvalidInput(gettext("Les dossiers du système ne peuvent pas être renommés."))
    folder.name = checked_folder_name(account, name, renaming=folder)


def delete_folder(account: Account, folder: MailFolder, *, move_to_home: bool) -> int:
    """Delete an own folder. A folder that still holds messages is deleted only when the
    owner agreed to move them to the home folder. Returns how many messages moved."""
    if folder.kind != FolderKind.USER:
        raise InvalidInput(gettext("Les dossiers du système ne peuvent pas être supprimés."))
    held = count_in(folder)
    if held and not move_to_home:
        raise InvalidInput(ngettext("Le dossier « %(name)s » contient encore %(num)d message(s).",
                                    "Le dossier « %(name)s » contient encore %(num)d message(s).",
                                    held, name=folder.name))
    if held:
        home = system_folder(account, home_kind(account))
        db.session.execute(update(MailboxItem).where(
            MailboxItem.folder_id == folder.id, MailboxItem.account_id == account.id)
            .values(folder_id=home.id))
    store.delete_folder(account, folder.id)
    return held


def count_in(folder: MailFolder) -> int:
    return db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.folder_id == folder.id))


# Lists ---------------------------------------------------------------------------------

SORTS = ("date", "expediteur", "objet")
ORDERS = ("desc", "asc")


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


def _ordering(sort: str, order: str) -> list:
    newest = [MailboxItem.received_at.desc(), MailboxItem.id.desc()]
    if sort == "date":
        return newest if order == "desc" else [MailboxItem.received_at, MailboxItem.id]
    column = func.coalesce(Account.search_name, func.lower(MailMessage.from_name)) \
        if sort == "expediteur" else func.lower(MailMessage.subject)
    return [column.desc() if order == "desc" else column] + newest


def folder_listing(account: Account, folder: MailFolder, total: int, number: int, *,
                   sort: str = "date", order: str = "desc") -> Listing:
    """A page of a folder; `total` comes from `folder_counts`. The page's 50 ids are found
    first on narrow rows — sorted by date, in the index (folder_id, received_at, id) alone,
    so that a deep page skips index entries and not joined rows — and only those 50 are
    joined for what the list shows."""
    ordering = _ordering(sort, order)
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


# Actions on selected messages ----------------------------------------------------------

def owned_item_ids(account: Account, item_ids: Sequence[int]) -> list[int]:
    """The ids, all of them the account's, or NotFound: a forged id changes nothing."""
    ids = sorted(set(item_ids))
    if not ids:
        raise InvalidInput(gettext("Sélectionnez au moins un message."))
    if any(not 0 < i <= MAX_ID for i in ids):
        raise NotFound("Ce message n'existe pas.")
    mine = db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.id.in_(ids), MailboxItem.account_id == account.id))
    if mine != len(ids):
        raise NotFound("Ce message n'existe pas.")
    return ids


def move(account: Account, item_ids: Sequence[int], folder: MailFolder) -> int:
    if folder.kind in (FolderKind.DRAFTS, FolderKind.OUTBOX, FolderKind.SENT):
        raise InvalidInput(gettext("On ne range pas de message dans « %(folder)s ».",
                                   folder=gettext(folder.label)))
    ids = owned_item_ids(account, item_ids)
    store.move_items(account, ids, folder.id)
    return len(ids)


def mark(account: Account, item_ids: Sequence[int], read: bool) -> int:
    ids = owned_item_ids(account, item_ids)
    store.mark_read(account, ids, read)
    return len(ids)


def delete(account: Account, item_ids: Sequence[int]) -> tuple[int, int]:
    """To the Corbeille; those already there go for good. Returns (trashed, destroyed)."""
    ids = owned_item_ids(account, item_ids)
    trash = system_folder(account, FolderKind.TRASH)
    in_trash = set(db.session.scalars(select(MailboxItem.id).where(
        MailboxItem.id.in_(ids), MailboxItem.folder_id == trash.id)))
    elsewhere = [i for i in ids if i not in in_trash]
    if elsewhere:
        store.move_items(account, elsewhere, trash.id)
    destroyed = store.delete_items(account, in_trash) if in_trash else 0
    return len(elsewhere), destroyed


def in_trash(account: Account, item_ids: Sequence[int]) -> int:
    """How many of the (owned) ids are in the Corbeille: they need a confirmation."""
    trash = system_folder(account, FolderKind.TRASH)
    return db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.id.in_(list(item_ids)), MailboxItem.folder_id == trash.id))


def empty_trash(account: Account) -> int:
    trash = system_folder(account, FolderKind.TRASH)
    ids = list(db.session.scalars(select(MailboxItem.id).where(
        MailboxItem.folder_id == trash.id, MailboxItem.account_id == account.id)))
    return store.delete_items(account, ids) if ids else 0


# Quota ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    used: int
    limit: int

    @property
    def percent(self) -> int:
        """Rounded up, so that any use shows as at least 1 % (SPEC §3's "22 Ko (1%)")."""
        if self.limit <= 0:
            return 100
        return min(100, ceil(self.used * 100 / self.limit))

    @property
    def full(self) -> bool:
        return self.used >= self.limit


def quota(account: Account, limit: int) -> Quota:
    return Quota(store.usage(account.id), limit)
