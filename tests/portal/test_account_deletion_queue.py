"""Deleting an account (SPEC §8, RGPD) also reaches the outbound queue: what was waiting to
be forwarded to its redirect address is not sent after the deletion, and no entry keeps that
address. An account only withdrawn from a school keeps its mail."""
from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import select

from directory.db import db
from mailgate import routing, worker
from mailgate.models import EntryState, OutboundEntry
from tests.conftest import post_form

from . import messagerie_helpers as helpers
from .messagerie_helpers import person

JOSEPH_REDIRECT = "joseph@example.org"


def captured_to(app, address: str, subject: str) -> int:
    folder = Path(app.instance_path) / "mail-out"
    parser = BytesParser(policy=policy.default)
    return sum(1 for path in (folder.glob("*.eml") if folder.exists() else ())
               if (m := parser.parsebytes(path.read_bytes(), headersonly=True))["Delivered-To"]
               == address and m["Subject"] == subject)


def forward_to_joseph(subject: str) -> int:
    claire, joseph = helpers.account("claire.bernard"), helpers.account("joseph.fabre")
    message_id = routing.route(claire, [joseph.id], helpers.message(
        "claire.bernard", ["joseph.fabre"], subject)).message_id
    db.session.commit()
    return message_id


def test_deleting_an_account_drops_its_waiting_forwards_and_forgets_its_address(admin, app):
    with app.app_context():
        sent = forward_to_joseph("Déjà parti")
        worker.drain()
        waiting = forward_to_joseph("Encore en attente")
        states = dict(db.session.execute(select(OutboundEntry.message_id, OutboundEntry.state)
                                         .where(OutboundEntry.address == JOSEPH_REDIRECT)).all())
        assert states == {sent: EntryState.SENT, waiting: EntryState.PENDING}
    assert captured_to(app, JOSEPH_REDIRECT, "Déjà parti") == 1
    url = f"/administration/comptes/{person(app, 'joseph.fabre')}/suppression"
    assert post_form(admin, url, {}, page=url).status_code == 303
    with app.app_context():
        assert helpers.account("joseph.fabre") is None
        worker.drain()
        assert captured_to(app, JOSEPH_REDIRECT, "Encore en attente") == 0
        entries = db.session.execute(select(OutboundEntry.message_id, OutboundEntry.state,
                                            OutboundEntry.address).where(
            OutboundEntry.message_id.in_([sent, waiting]))).all()
        assert entries == [(sent, EntryState.SENT, "")]


def test_an_account_only_withdrawn_from_a_school_keeps_its_waiting_forwards(school_admin, app):
    from directory.models import School

    with app.app_context():
        claire, joseph = helpers.account("claire.bernard"), helpers.account("joseph.fabre")
        claire.schools.append(db.session.scalar(select(School).where(School.uai == "0310002C")))
        waiting = routing.route(joseph, [claire.id], helpers.message(
            "joseph.fabre", ["claire.bernard"], "Pour Claire")).message_id
        db.session.commit()
    url = f"/administration/comptes/{person(app, 'claire.bernard')}/suppression"
    assert post_form(school_admin, url, {}, page=url).status_code == 303
    with app.app_context():
        assert helpers.account("claire.bernard") is not None
        assert db.session.execute(select(OutboundEntry.state, OutboundEntry.address).where(
            OutboundEntry.message_id == waiting)).all() == [
            (EntryState.PENDING, "claire.bernard@example.net")]
