"""The ids of the system folders (Boîte de réception, Corbeille…), created with the mailbox the
first time they are asked for, and remembered by the gateway.

System folder ids never change while the account lives: the gateway remembers them for a
minute, once the transaction that saw (or created) them has committed; keyed by database
too, since one process may serve two (the tests' live portal beside their gateway). The memory hooks
itself onto the Session only when `remember_folders` turns it on (never at import time).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from directory.clock import utcnow
from directory.db import db
from directory.sets import any_of, insert_rows

from ..cache import FOLDER_TTL, TimedCache
from ..models import FolderKind, Mailbox, MailFolder
from .sql import core

_folder_ids = TimedCache(FOLDER_TTL)
_PENDING = "preau.folder_ids"


def remember_folders(app) -> None:
    """Turn the memory on for `app` (the gateway's): never for the web app, whose tests roll
    back committed work and would leave ids of folders that no longer exist."""
    app.extensions[_PENDING] = True
    if not event.contains(Session, "after_commit", _remember_folders):
        event.listen(Session, "after_commit", _remember_folders)
        event.listen(Session, "after_rollback", _forget_folders)


def _remembering() -> bool:
    from flask import current_app

    return bool(current_app.extensions.get(_PENDING))


def _remember_folders(session) -> None:
    for key, folder_id in session.info.pop(_PENDING, {}).items():
        _folder_ids.put(key, folder_id)


def _forget_folders(session) -> None:
    session.info.pop(_PENDING, None)


def system_folders(account_ids: Iterable[int], kind: FolderKind) -> dict[int, int]:
    """account id → id of its `kind` system folder, created (with the mailbox) when missing."""
    ids = set(account_ids)
    if not ids:
        return {}
    remember = _remembering()
    # The bind is an Engine, or a Connection when the session is bound to one (the tests).
    database = db.session.get_bind().engine.url if remember else None
    if remember:
        known = {i: _folder_ids.get((database, i, kind)) for i in ids}
        if all(known.values()):
            return known
    folder = MailFolder.__table__.c
    query = select(folder.account_id, folder.id).where(
        folder.kind == kind.value, folder.name == kind.value)
    found = dict(core(query.where(any_of(folder.account_id, ids))).all())
    missing = ids - found.keys()
    if missing:
        now = utcnow()
        insert_rows(Mailbox.__table__, [{"account_id": i, "used_bytes": 0} for i in missing],
                    ignore_duplicates=True)
        insert_rows(MailFolder.__table__, [{"account_id": i, "kind": kind, "name": kind.value,
                                            "created_at": now} for i in missing],
                    ignore_duplicates=True)
        found.update(core(query.where(any_of(folder.account_id, missing))).all())
    if remember:
        db.session.info.setdefault(_PENDING, {}).update(
            {(database, account_id, kind): folder_id for account_id, folder_id in found.items()})
    return found

