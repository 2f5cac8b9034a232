"""A group commit holds the jobs of many sessions (of every gateway process, with the shared
writer): a job that is refused undoes its own writes, never those of the others in its
batch."""
from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

from directory.db import db
from directory.enums import Profile
from directory.models import Account
from mailgate.committer import Committer
from mailgate.local_handlers import find

from .conftest import new_account
from .helpers import run_in_own_loop


def rename(account_id: int, name: str) -> str:
    db.session.get(Account, account_id).first_name = name
    db.session.flush()
    return name


def test_a_refused_agenda_reply_leaves_the_other_jobs_of_its_batch_written(mail_app):
    person_id = new_account(Profile.TEACHER).id
    author = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    handler, _ = find(mail_app, "agenda+1-x@ent.test", "ent.test")     # the agenda's
    released = threading.Event()

    @contextmanager
    def held_first_turn():
        released.wait(10)       # the first batch waits here while the next two are queued
        yield

    committer = Committer(mail_app, turn=held_first_turn)

    async def batch():
        first = asyncio.ensure_future(committer.run(rename, person_id, "Premier"))
        await asyncio.sleep(0.2)
        renamed = asyncio.ensure_future(committer.run(rename, person_id, "Renommé"))
        refused = asyncio.ensure_future(committer.run(handler.receive, author, 10**9, b""))
        await asyncio.sleep(0.2)
        released.set()
        return await asyncio.gather(first, renamed, refused)

    try:
        first, renamed, refusal = run_in_own_loop(batch())
    finally:
        committer.stop()
    assert (first, renamed) == ("Premier", "Renommé") and refusal
    db.session.rollback()
    assert db.session.get(Account, person_id).first_name == "Renommé"
