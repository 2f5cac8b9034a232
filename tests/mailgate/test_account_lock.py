"""While a person's upload or signature is being written, her account's row is locked
(`directory.db.lock_account`) so that two of her requests take turns; mail delivered to her
meanwhile must not wait for it. On PostgreSQL a FOR UPDATE lock held back every INSERT of a
row pointing at her account (the forward queued for her, her copy of a message: each takes
FOR KEY SHARE on it); FOR NO KEY UPDATE holds back only the other lockers. SQLite has one writer at a time whatever the lock,
so these are PostgreSQL's tests."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from directory.db import db, lock_account
from directory.enums import Profile
from directory.models import Account
from mailgate import routing
from mailgate.automations import communications
from mailgate.models import OutboundEntry
from portal.rubriques.articles import add_file

from .conftest import account, new_account
from .helpers import mail

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


# Deselected on SQLite (a skip fails CI): its one writer has no row locks to tell apart.
pytestmark = pytest.mark.postgres_only


def holding(mail_app, work, release: threading.Event) -> threading.Thread:
    """`work()` in a transaction of another connection, kept open until `release`."""
    held, errors = threading.Event(), []

    def transaction():
        with mail_app.app_context():
            try:
                work()
                held.set()
                release.wait(10)
            except BaseException as error:      # reported by the test, in its thread
                errors.append(error)
                held.set()
            finally:
                db.session.rollback()
                db.session.remove()

    thread = threading.Thread(target=transaction)
    thread.start()
    assert held.wait(10)
    assert not errors, errors
    return thread


def upload(teacher_id: int) -> None:
    add_file(db.session.get(Account, teacher_id), "photo.png", "image/png", PNG, 2**20)


def signature(teacher_id: int) -> None:
    communications.add_signature(db.session.get(Account, teacher_id), "Classique",
                                 "Claire Bernard", default=True)


@pytest.mark.parametrize("work", [upload, signature])
def test_mail_to_a_person_is_delivered_while_her_own_write_holds_her_row(mail_app, work):
    teacher = new_account(Profile.TEACHER, redirect="claire.bernard@example.org")
    release = threading.Event()
    thread = holding(mail_app, lambda: work(teacher.id), release)
    try:
        db.session.execute(text("SET LOCAL lock_timeout = '500ms'"))
        result = routing.route(account("paul.durand"), [teacher.id],
                               mail("paul.durand@ent.test", "x@ent.test", "Réunion"))
        db.session.commit()
    finally:
        release.set()
        thread.join(10)
    assert len(result.accepted) == 1 and not result.refused
    assert db.session.scalar(select(OutboundEntry.id).where(
        OutboundEntry.account_id == teacher.id)) is not None


def test_two_writers_of_one_person_still_take_turns(mail_app):
    teacher = new_account(Profile.TEACHER)
    release = threading.Event()
    thread = holding(mail_app, lambda: lock_account(teacher.id), release)
    try:
        db.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            lock_account(teacher.id)
        db.session.rollback()
    finally:
        release.set()
        thread.join(10)
