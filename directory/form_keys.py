"""A form sent twice makes one object: a double click on « Valider », a reload after a slow
answer, two clicks that reach two web processes at once.

The form carries a hidden key drawn when it is shown (`cle`, a uuid). What it makes is
recorded under (author, `key(cle, what the form says)`) with the made object's table and id
(import_models.FormSubmission): the same form sent again finds that object, while the form
sent back with other words after the browser's « Précédent » makes its own.

`already_made` claims the key BEFORE the object is made, with INSERT … ON CONFLICT DO NOTHING
(db.insert_ignoring_duplicates), in the transaction that makes it; `made` then records the
object's id there. Two sendings at once on PostgreSQL: the second's INSERT waits for the
first's transaction, and once it commits finds the key taken and gets the first's object
(had the first failed and rolled back, the second claims the key and makes its own). On
SQLite the write lock already runs them one after the other. A later sending (after the
commit) finds the object the same way. Keys are kept a day (KEPT); an author's old keys go
when she claims a new one.

« Créer un compte » records its key after making the account (`record`): the account's unique
login already stops the second of two sendings at once (account_admin.create_by_hand)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import delete, select, update

from .clock import utcnow
from .db import db, insert_ignoring_duplicates
from .import_models import FormSubmission

KEPT = timedelta(days=1)
T = TypeVar("T")


def key(form_key: str, said: Iterable[object] = ()) -> str:
    """The form's key hashed with what it says (each item as str, one a line): what is
    stored and looked up."""
    return hashlib.sha256("\n".join([form_key, *map(str, said)]).encode()).hexdigest()


def already_made(author_id: int, stored_key: str, model: type[T]) -> T | None:
    """The object of `model` the form's first sending made, or None once this sending has
    claimed the key: the caller then makes the object and calls `made` in the same
    transaction (it commits). A key whose object is gone (deleted since) is claimed again."""
    _forget_old(author_id)
    now = utcnow()
    claimed = db.session.execute(insert_ignoring_duplicates(FormSubmission).values(
        author_id=author_id, form_key=stored_key, kind=model.__tablename__, object_id=None,
        created_at=now)).rowcount
    if claimed:
        return None
    first = made_by(author_id, stored_key, model)
    if first is not None:
        return first
    db.session.execute(update(FormSubmission).where(
        FormSubmission.author_id == author_id, FormSubmission.form_key == stored_key)
        .values(kind=model.__tablename__, object_id=None, created_at=now)
        .execution_options(synchronize_session=False))
    return None


def made(author_id: int, stored_key: str, object_id: int) -> None:
    """The object the claimed key made (`already_made` returned None)."""
    db.session.execute(update(FormSubmission).where(
        FormSubmission.author_id == author_id, FormSubmission.form_key == stored_key)
        .values(object_id=object_id).execution_options(synchronize_session=False))


def record(author_id: int, stored_key: str, model: type, object_id: int) -> None:
    """Record a key after its object was made: a second sending at once fails on the key
    (IntegrityError) unless something else stopped it first."""
    _forget_old(author_id)
    db.session.add(FormSubmission(author_id=author_id, form_key=stored_key,
                                  kind=model.__tablename__, object_id=object_id,
                                  created_at=utcnow()))
    db.session.flush()


def made_by(author_id: int, stored_key: str, model: type[T]) -> T | None:
    """The object of `model` made under this key, if it was and still exists."""
    object_id = db.session.scalar(select(FormSubmission.object_id).where(
        FormSubmission.author_id == author_id, FormSubmission.form_key == stored_key,
        FormSubmission.kind == model.__tablename__))
    return db.session.get(model, object_id) if object_id is not None else None


def _forget_old(author_id: int) -> None:
    """The author's keys past KEPT (her own only: no wait on another author's rows)."""
    db.session.execute(delete(FormSubmission).where(
        FormSubmission.author_id == author_id,
        FormSubmission.created_at < utcnow() - KEPT).execution_options(
        synchronize_session=False))
