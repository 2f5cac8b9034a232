"""A member's own data, downloaded from Préférences (RGPD, SPEC §8): a zip of their profile
(JSON), their messages (one .eml per message, by folder) and their address book (.vcf)."""
from __future__ import annotations

import io
import json
import re
import zipfile

from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, ParentLink
from directory.roles import effective_roles
from mailgate import store
from mailgate.models import MailboxItem, MailFolder

from .carnet import exporting

BATCH = 200       # messages read at once: a large mailbox is never all in memory


def personal_data_zip(account: Account, domain: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("profil.json", json.dumps(profile(account, domain), ensure_ascii=False,
                                                   indent=2))
        items = db.session.execute(
            select(MailFolder.name, MailboxItem.id, MailboxItem.message_id)
            .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
            .where(MailboxItem.account_id == account.id)
            .order_by(MailFolder.name, MailboxItem.received_at, MailboxItem.id)).all()
        for start in range(0, len(items), BATCH):
            batch = items[start:start + BATCH]
            # the stored source has its attachments apart (mailgate/store): put them back
            whole = store.messages_bytes(message_id for _, _, message_id in batch)
            for folder, item_id, message_id in batch:
                if message_id in whole:     # else deleted meanwhile
                    archive.writestr(f"messages/{_safe(folder)}/{item_id}.eml",
                                     whole[message_id])
        archive.writestr("carnet.vcf", exporting.export_book(account, "4.0"))
    return out.getvalue()


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
