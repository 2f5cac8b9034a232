"""A member's own data, downloaded from Préférences (RGPD, SPEC §8): a zip of their profile
(JSON), their messages (one .eml per message, by folder) and their address book (.vcf).

An outbox has no quota, so a mailbox may weigh gigabytes: the archive is written to a
temporary file (in memory while it is small, on disk beyond), and the messages are read a
batch at a time, each batch bounded by its bytes rather than its count — two hundred messages
of 20 MB would be 4 GB. What is in memory at once is one batch, whatever the mailbox's size."""
from __future__ import annotations

import json
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO

from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, ParentLink
from directory.roles import effective_roles
from mailgate import store
from mailgate.models import MailboxItem, MailFolder

from .carnet import exporting

BATCH = 200                         # messages read in one query at most…
BATCH_BYTES = 16 * 1024 * 1024      # …and at most this many bytes of them (or one bigger one)
IN_MEMORY = 4 * 1024 * 1024         # an archive bigger than this is spooled to disk


def personal_data_zip(account: Account, domain: str) -> IO[bytes]:
    """The archive, in a temporary file at its start, which the caller sends and closes."""
    out = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("profil.json", json.dumps(profile(account, domain),
                                                       ensure_ascii=False, indent=2))
            _write_messages(archive, account)
            archive.writestr("carnet.vcf", exporting.export_book(account, "4.0"))
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
        for item in batch:
            if item.message_id in whole:     # else deleted meanwhile
                archive.writestr(f"messages/{_safe(item.name)}/{item.id}.eml",
                                 whole[item.message_id])


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
