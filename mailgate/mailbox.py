"""The mailbox as its owner handles it (SPEC §3), callable without a request: the one place
for folders and mailbox rules. The portal's pages only call it.

- Students (role Messagerie interne) have Boîte de réception, Messages envoyés, Brouillons and
  Corbeille; the other profiles have a Boîte d'envoi (what they sent), Brouillons and
  Corbeille. Everyone may add folders of their own. The *home* folder — where messages go
  when their folder is deleted — is the inbox for students, the outbox for the others.
- Deleting an account (`delete_accounts`) erases with its mailbox the messages only it held.
- Deleting a message sends it to the Corbeille; deleting in the Corbeille (or emptying it)
  removes it for good through `store.delete_items`, which frees the quota and the messages
  and attachments nobody holds any more. Deleting an own folder that still holds messages
  moves them to the home folder, only when the owner agreed to.
- Every id comes from a query filtered by the owner: someone else's message or folder is
  `NotFound` (→ 404), for reading and for every action alike.
- Refusals are `directory.wording` codes with their parameters (words are the caller's).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from math import ceil

from sqlalchemy import case, func, select, update

from directory import account_admin
from directory.account_admin import Deletion
from directory.clock import utcnow
from directory.db import db, insert_ignoring_duplicates
from directory.enums import Role
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from directory.roles import effective_roles

from . import mime, queue, store
from .models import FolderKind, MailboxItem, MailFolder, MailMessage
from .settings import current

STUDENT_FOLDERS = (FolderKind.INBOX, FolderKind.SENT, FolderKind.DRAFTS, FolderKind.TRASH)
OUTBOX_FOLDERS = (FolderKind.OUTBOX, FolderKind.DRAFTS, FolderKind.TRASH)
# Where nobody files a message by hand: they are filled by writing.
NOT_FOR_FILING = (FolderKind.DRAFTS, FolderKind.OUTBOX, FolderKind.SENT)
MAX_FOLDERS = 100
FOLDER_NAME_MAX = 120
MAX_ID = 2**31 - 1
# The field compose writes into every draft (its options: portal/messagerie/drafts.py), never
# sent (a message sent is built without it) nor kept from mail received (mailgate/headers.py
# keeps its short list of fields only): what makes a stored message a draft, wherever its
# item is.
DRAFT_FIELD = "X-Preau-Options"


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
    query = select(MailFolder).where(MailFolder.account_id == account.id)
    found = list(db.session.scalars(query))
    missing = [kind for kind in kinds if kind not in {f.kind for f in found}]
    for kind in missing:
        store.system_folders([account.id], kind)
    if missing:
        found = list(db.session.scalars(query))
    order = {kind: n for n, kind in enumerate(kinds)}
    shown = [f for f in found if f.kind in kinds or f.kind == FolderKind.USER]
    return sorted(shown, key=lambda f: (order.get(f.kind, len(order)), f.name.lower())), \
        bool(missing)


def system_folder(account: Account, kind: FolderKind) -> MailFolder:
    folder_id = store.system_folders([account.id], kind)[account.id]
    return db.session.get(MailFolder, folder_id)


def owned_folder(account: Account, folder_id: int) -> MailFolder:
    """One of the account's folders, or NotFound (someone else's id, or a kind it has not)."""
    folder = db.session.scalar(select(MailFolder).where(
        MailFolder.id == folder_id, MailFolder.account_id == account.id)) \
        if 0 < folder_id <= MAX_ID else None
    if folder is None or (folder.kind not in system_kinds(account)
                          and folder.kind != FolderKind.USER):
        raise NotFound.of("folder_missing")
    return folder


def checked_folder_name(account: Account, name: str, *, renaming: MailFolder | None = None,
                        reserved: Iterable[str] = ()) -> str:
    """`name` with its spaces tidied, or InvalidInput. The system folders' names are
    reserved, in French and in the `reserved` words the caller adds (their names as the
    account reads them)."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput.of("folder_name_missing")
    if len(name) > FOLDER_NAME_MAX:
        raise InvalidInput.of("folder_name_too_long", max=FOLDER_NAME_MAX)
    taken = {kind.label.lower() for kind in FolderKind if kind != FolderKind.USER}
    if name.lower() in taken | {word.lower() for word in reserved}:
        raise InvalidInput.of("folder_name_reserved", name=name)
    # The name as stored, not as a folder the session loaded before (another request may
    # have renamed it since: see `create_folder`).
    same = select(MailFolder.name).where(
        MailFolder.account_id == account.id, MailFolder.kind == FolderKind.USER,
        func.lower(MailFolder.name) == name.lower())
    if renaming is not None:
        same = same.where(MailFolder.id != renaming.id)
    other = db.session.scalar(same.limit(1))
    if other is not None:
        raise InvalidInput.of("folder_name_taken", name=other)
    return name


def create_folder(account: Account, name: str, *, reserved: Iterable[str] = ()
                  ) -> MailFolder:
    """A folder of the account's own. Created and renamed under the account's lock
    (`lock_writing`): the name is checked once the others' creations and renamings have
    committed, so two of them choosing one name at once (« Maths » and « maths » too: the
    unique key is case-sensitive, the rule is not) keep one, and the other is told the
    name is taken."""
    lock_writing(account)
    name = checked_folder_name(account, name, reserved=reserved)
    count = db.session.scalar(select(func.count()).where(
        MailFolder.account_id == account.id, MailFolder.kind == FolderKind.USER))
    if count >= MAX_FOLDERS:
        raise InvalidInput.of("too_many_folders", max=MAX_FOLDERS)
    folder_id = db.session.scalar(insert_ignoring_duplicates(MailFolder).values(
        account_id=account.id, kind=FolderKind.USER, name=name, created_at=utcnow())
        .returning(MailFolder.id))
    if folder_id is None:       # the same name, written meanwhile by the form sent twice
        checked_folder_name(account, name, reserved=reserved)
    return db.session.get(MailFolder, folder_id)


def rename_folder(account: Account, folder: MailFolder, name: str, *,
                  reserved: Iterable[str] = ()) -> None:
    """Rename an own folder, under the account's lock as `create_folder`."""
    if folder.kind != FolderKind.USER:
        raise InvalidInput.of("system_folder_rename")
    lock_writing(account)
    folder.name = checked_folder_name(account, name, renaming=folder, reserved=reserved)


def delete_folder(account: Account, folder: MailFolder, *, move_to_home: bool = False) -> int:
    """Delete an own folder. A folder that still holds messages is deleted only when the
    owner agreed to move them to the home folder. Returns how many messages moved.

    The folder's row is locked before its messages are counted: a move into it at the same
    instant (`move`) waits, then finds it gone. Counted before the lock, those messages were
    deleted with the folder (its items go by ON DELETE CASCADE), quota and all."""
    if folder.kind != FolderKind.USER or folder.account_id != account.id:
        raise InvalidInput.of("system_folder_delete")
    _lock_folder(account, folder, exclusive=True)
    held = count_in(folder)
    if held and not move_to_home:
        raise InvalidInput.of("folder_not_empty", name=folder.name, num=held)
    if held:
        home = system_folder(account, home_kind(account))
        db.session.execute(update(MailboxItem).where(
            MailboxItem.folder_id == folder.id, MailboxItem.account_id == account.id)
            .values(folder_id=home.id))
    db.session.delete(folder)
    db.session.flush()
    return held


def _lock_folder(account: Account, folder: MailFolder, *, exclusive: bool) -> None:
    """Lock the folder's row until commit — `exclusive` to delete it, else shared, to file
    messages into it — or NotFound when it is no longer the account's. On SQLite the
    writer's lock (`directory.db.write_lock`) already keeps the two apart."""
    query = select(MailFolder.id).where(MailFolder.id == folder.id,
                                        MailFolder.account_id == account.id)
    locked = query.with_for_update(read=not exclusive, key_share=not exclusive)
    if db.session.scalar(locked) is None:
        raise NotFound.of("folder_missing")


def count_in(folder: MailFolder) -> int:
    return db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.folder_id == folder.id))


def folder_counts(account: Account) -> dict[int, tuple[int, int]]:
    """folder id → (messages, unread), one grouped query."""
    rows = db.session.execute(
        select(MailboxItem.folder_id, func.count(),
               func.sum(case((MailboxItem.is_read.is_(False), 1), else_=0)))
        .where(MailboxItem.account_id == account.id).group_by(MailboxItem.folder_id))
    return {folder: (count, int(unread or 0)) for folder, count, unread in rows}


# Actions on selected messages ----------------------------------------------------------

def owned_item_ids(account: Account, item_ids: Sequence[int]) -> list[int]:
    """The ids, all of them the account's, or NotFound: a forged id changes nothing."""
    ids = sorted(set(item_ids))
    if not ids:
        raise InvalidInput.of("nothing_selected")
    if any(not 0 < i <= MAX_ID for i in ids):
        raise NotFound.of("message_missing")
    mine = db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.id.in_(ids), MailboxItem.account_id == account.id))
    if mine != len(ids):
        raise NotFound.of("message_missing")
    return ids


def move(account: Account, item_ids: Sequence[int], folder: MailFolder) -> int:
    """Into an own folder or the inbox; never a draft, from Brouillons or from the Corbeille
    where « Supprimer » put it (elsewhere it would be a message nobody can send or edit any
    more: only Brouillons' items open in the editor) — drafts, and drafts only, go back into
    Brouillons."""
    ids = owned_item_ids(account, item_ids)
    drafts = _draft_ids(account, ids)
    if folder.kind == FolderKind.DRAFTS:
        if not drafts:
            raise InvalidInput.of("not_a_filing_folder", folder=folder.kind.reason)
        if drafts != set(ids):
            raise InvalidInput.of("only_drafts_to_drafts")
    elif folder.kind in NOT_FOR_FILING:
        raise InvalidInput.of("not_a_filing_folder", folder=folder.kind.reason)
    elif drafts:
        raise InvalidInput.of("draft_not_moved")
    _lock_folder(account, folder, exclusive=False)
    _move_items(account, ids, folder)
    return len(ids)


# Enough of a stored message to hold its header block: compose writes DRAFT_FIELD there.
DRAFT_HEADER_BYTES = 64 * 1024


def _draft_ids(account: Account, ids: Sequence[int]) -> set[int]:
    """The (owned) items that are drafts: in Brouillons, or whose message carries
    DRAFT_FIELD wherever it is (deleted to the Corbeille, or moved out of Brouillons before
    that was refused). Only the account's own messages are read for the field, their header
    only: a draft's author is its owner; received mail never carries it."""
    if not ids:
        return set()
    drafts = set(db.session.scalars(select(MailboxItem.id).join(
        MailFolder, MailFolder.id == MailboxItem.folder_id).where(
        MailboxItem.id.in_(ids), MailFolder.kind == FolderKind.DRAFTS)))
    own = (MailboxItem.account_id == account.id, MailMessage.author_id == account.id)
    heads = db.session.execute(
        select(MailboxItem.id, func.substr(MailMessage.source, 1, DRAFT_HEADER_BYTES))
        .join(MailMessage, MailboxItem.message_id == MailMessage.id)
        .where(MailboxItem.id.in_(ids), *own, MailboxItem.id.not_in(drafts or [0])))
    longer = []     # a header past DRAFT_HEADER_BYTES (a reply's long References): read whole
    for item_id, head in heads:
        head = bytes(head)
        if b"\r\n\r\n" not in head and b"\n\n" not in head:
            longer.append(item_id)
        elif _is_draft(head):
            drafts.add(item_id)
    if longer:
        drafts.update(item_id for item_id, source in db.session.execute(
            select(MailboxItem.id, MailMessage.source)
            .join(MailMessage, MailboxItem.message_id == MailMessage.id)
            .where(MailboxItem.id.in_(longer), *own)) if _is_draft(bytes(source)))
    return drafts


def _is_draft(start: bytes) -> bool:
    """Whether a stored message's start (its header block, and maybe more) holds
    DRAFT_FIELD."""
    key = DRAFT_FIELD.lower()
    return any(f.key == key for f in mime.split(start)[0])


def _move_items(account: Account, item_ids: Iterable[int], folder: MailFolder) -> None:
    db.session.execute(update(MailboxItem).where(
        MailboxItem.id.in_(set(item_ids)), MailboxItem.account_id == account.id)
        .values(folder_id=folder.id))


def mark(account: Account, item_ids: Sequence[int], read: bool = True) -> int:
    ids = owned_item_ids(account, item_ids)
    db.session.execute(update(MailboxItem).where(
        MailboxItem.id.in_(ids), MailboxItem.account_id == account.id).values(is_read=read))
    return len(ids)


def delete(account: Account, item_ids: Sequence[int]) -> tuple[int, int]:
    """To the Corbeille; those already there go for good. Returns (trashed, destroyed)."""
    ids = owned_item_ids(account, item_ids)
    trash = system_folder(account, FolderKind.TRASH)
    in_trash = set(db.session.scalars(select(MailboxItem.id).where(
        MailboxItem.id.in_(ids), MailboxItem.folder_id == trash.id)))
    elsewhere = [i for i in ids if i not in in_trash]
    if elsewhere:
        _move_items(account, elsewhere, trash)
    destroyed = store.delete_items(account, in_trash, folder_id=trash.id) if in_trash else 0
    return len(elsewhere), destroyed


def in_trash(account: Account, item_ids: Sequence[int]) -> int:
    """How many of the (owned) ids are in the Corbeille: they need a confirmation."""
    trash = system_folder(account, FolderKind.TRASH)
    return db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.id.in_(list(item_ids)), MailboxItem.folder_id == trash.id))


TRASH_BATCH = 5_000     # items removed per statement: a staff member's trash has no bound


def empty_trash(account: Account) -> int:
    """Delete for good what the Corbeille holds; how many went (by this call: the same
    emptying sent twice at once counts and frees each message once, see
    `store.delete_items`)."""
    trash = system_folder(account, FolderKind.TRASH)
    in_trash = select(MailboxItem.id).where(
        MailboxItem.folder_id == trash.id, MailboxItem.account_id == account.id)
    gone = 0
    while ids := list(db.session.scalars(in_trash.limit(TRASH_BATCH))):
        gone += store.delete_items(account, ids, folder_id=trash.id)
    return gone


def delete_accounts(admin: Account, accounts: list[Account]) -> Deletion:
    """`directory.account_admin.delete_accounts`, and with the mailboxes the messages nobody
    else holds (drafts, what only they received, and those messages' attachments): erasing an
    account erases what it alone kept (SPEC §8, RGPD), not only its references to it. Its
    mail still in the outbound queue is not sent to its redirect address, and the entries
    already finished forget that address (`queue.forget_recipients`); the messages only those
    entries were to send go too (a verification link to an address the member typed, with
    their name). The entries are read first: the deletion leaves them without account."""
    ids = [account.id for account in accounts]
    held = set(db.session.scalars(select(MailboxItem.message_id).where(
        MailboxItem.account_id.in_(ids))))
    queued = queue.entries_for(ids)
    deletion = account_admin.delete_accounts(admin, accounts)
    kept = {admin.id, *(account.id for account in deletion.withdrawn)}
    forgotten = [(entry, message) for entry, account_id, message in queued
                 if account_id not in kept]
    queue.forget_recipients([entry for entry, _ in forgotten])
    store.collect_garbage(held | {message for _, message in forgotten if message is not None})
    return deletion


# Drafts --------------------------------------------------------------------------------

def draft_item(author: Account, item_id: int) -> MailboxItem:
    """One of the author's drafts, or NotFound."""
    item, _message = store.item_of(author, item_id)
    if item.folder_id != system_folder(author, FolderKind.DRAFTS).id:
        raise NotFound.of("draft_missing")
    return item


def lock_writing(author: Account) -> None:
    """Lock the author's Brouillons until commit (FOR UPDATE on PostgreSQL; SQLite's writer
    holds the database already, see `directory.db.write_lock`). Sending and saving a draft
    take it before they read what they replace: the same form sent twice at once (a double
    click) then runs one after the other, and the second finds the draft it replaces gone
    and the message it sends sent, instead of sending it again or keeping two drafts.
    Creating and renaming a folder take it before checking the name."""
    _lock_folder(author, system_folder(author, FolderKind.DRAFTS), exclusive=True)


def save_draft(author: Account, message: EmailMessage, *, replacing: int | None = None) -> int:
    """Keep `message` in the author's Brouillons (replacing the draft `replacing`), counted
    in a student's quota like any message; returns its item id. Its header is kept whole:
    the fields only a draft carries (its recipients as chips, its options) are read back
    from it. A form saves one draft: the message of a draft the author holds already with
    the same Message-ID (the same form saved twice, drawn from its key by the caller, as
    sending does) replaces that draft, even a brand-new composition's, which names none.
    NotFound when the draft it replaces is gone (sent, or replaced by another form)."""
    parsed = mime.parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    block = b"".join(f.raw for f in parsed.fields if f.key != "bcc") + b"\r\n"
    lock_writing(author)
    folder = system_folder(author, FolderKind.DRAFTS)
    replacing = _same_draft(author, folder, parsed.message_id) or replacing
    if replacing is not None and not store.delete_items(author,
                                                        [draft_item(author, replacing).id]):
        raise NotFound.of("draft_missing")
    limit = current().quota_bytes if has_inbox(author) else None
    if not store.reserve([author.id], parsed.size, limit):
        raise InvalidInput.of("draft_quota_full")
    bcc = ", ".join(f"{n} <{a}>" if n else a for n, a in parsed.addresses("bcc"))
    message_id = store.save_message(parsed, block, message_id=parsed.message_id,
                                    author_id=author.id, bcc_display=bcc)
    store.add_items(message_id, parsed.size, [(author.id, folder.id)], read=True)
    return db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == message_id, MailboxItem.account_id == author.id))


def _same_draft(author: Account, drafts: MailFolder, message_id: str) -> int | None:
    """The author's draft whose message has this Message-ID, read under `lock_writing`: the
    same form saved a moment before, by a request that has committed since."""
    if not message_id:
        return None
    return db.session.scalar(
        select(MailboxItem.id).join(MailMessage, MailMessage.id == MailboxItem.message_id)
        .where(MailboxItem.account_id == author.id, MailboxItem.folder_id == drafts.id,
               MailMessage.author_id == author.id,
               MailMessage.message_id_header == message_id[:250])
        .order_by(MailboxItem.id).limit(1))


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


def quota(account: Account, limit: int | None = None) -> Quota:
    return Quota(store.usage(account.id), current().quota_bytes if limit is None else limit)
