"""Two requests at once (a double click, two tabs), each in its own transaction, as the
portal runs them: two « Enregistrer » of one signature make one signature, one default; two
« Envoyer un essai à moi-même » send one trial — the second request waits for the first
one's lock and then finds what it made."""
from __future__ import annotations

import threading
import time
from contextlib import nullcontext

from sqlalchemy import delete, select

from directory.db import db, is_lock_conflict, writing_from_the_start
from directory.enums import Profile
from directory.models import Account
from mailgate.automations import communications, scheduler
from mailgate.automations.models import CommunicationRun, Signature

from .conftest import account, new_account
from .test_automations import _nothing_left_running, automated, space  # noqa: F401


def as_a_request(work) -> None:
    """`work()` then commit, run again as a writer from the start if SQLite's lock was lost
    to the other request, as the portal runs a request (portal/retry.py)."""
    for attempt in range(3):
        try:
            with writing_from_the_start() if attempt else nullcontext():
                db.session.rollback()
                work()
                db.session.commit()
            return
        except Exception as error:
            db.session.rollback()
            if not is_lock_conflict(error) or attempt == 2:
                raise


def at_once(mail_app, work) -> None:
    """`work()` in two requests, the second one starting 0.2 s after the first."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def request(pause: float):
        with mail_app.app_context():
            try:
                barrier.wait()
                time.sleep(pause)
                as_a_request(work)
            except BaseException as error:      # reported below, in the test's thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request, args=(pause,)) for pause in (0, 0.2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors


def test_a_signature_saved_twice_at_once_is_made_once(mail_app, monkeypatch):
    author = new_account(Profile.TEACHER)
    listed = communications.signatures_of

    def slowly(account):
        """The first request pauses between its check and its insert, where the second one
        used to check too."""
        found = listed(account)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(communications, "signatures_of", slowly)
    at_once(mail_app, lambda: communications.add_signature(
        db.session.get(Account, author.id), "Classique", "Claire Bernard", default=True))
    monkeypatch.undo()

    db.session.rollback()
    try:
        assert db.session.execute(select(Signature.name, Signature.is_default).where(
            Signature.account_id == author.id)).all() == [("Classique", True)]
    finally:
        db.session.execute(delete(Signature).where(Signature.account_id == author.id))
        db.session.commit()


def test_two_trials_at_once_send_one(mail_app, monkeypatch):
    reminder = automated(space())
    made = scheduler.mail_of

    def slowly(communication, author):
        """The first request pauses before its trial is written, where the second one used
        to look for a recent trial too."""
        time.sleep(0.5)
        return made(communication, author)

    monkeypatch.setattr(scheduler, "mail_of", slowly)
    at_once(mail_app, lambda: scheduler.send_trial(
        db.session.get(type(reminder), reminder.id), account("paul.durand")))
    monkeypatch.undo()

    db.session.rollback()
    assert len(db.session.scalars(select(CommunicationRun.id).where(
        CommunicationRun.communication_id == reminder.id, CommunicationRun.trial)).all()) == 1
