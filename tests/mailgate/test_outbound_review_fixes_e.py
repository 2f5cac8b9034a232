"""Fixes from the outbound review (items 6 to 10), each through the real parts:

- 7: a capture folder that cannot be written is a relay out of reach (the batch waits, what
  was sent is recorded, nothing goes twice); an unforeseen error sending one message makes it
  wait alone instead of ending the round; a relay user or password smtplib cannot send (not
  ASCII) stops `preau worker` at start with one French line;
- 6: `preau serve` lets the worker wait for the relay's final answer to the message it has
  out (up to DATA_DONE_TIMEOUT) before it kills it;
- 8: the population's name is written on one line into the mailing's To group, and a group
  cannot be named with a line break or a control character (the person names' rule);
- 9: the Message-IDs Préau writes say neither the process id nor the time;
- 10: DKIM over-signs: a second Subject, To or From put on top of a signed message breaks the
  signature.
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import Account, Group
from mailgate import compose, fanout, queue, reports, smarthost, worker
from mailgate.models import EntryState, MailMessage, OutboundEntry
from mailgate.settings import current
from portal import processes
from portal.cli import main
from portal.messagerie import receipts
from tests.conftest import login, post_form
from tests.portal.annuaire_helpers import html, messages, school_id

from .conftest import account, free_port, new_account
from .helpers import mail, raw
from .test_dkim import dns_of, signing  # noqa: F401 (signing: a fixture)
from .test_processes import _queue_forwards, preau_env

INJECTED = "Club\r\nKeywords: injecte"


@contextlib.contextmanager
def settings_with(mail_app, **changes):
    mail_app.extensions["mailgate.settings"] = replace(current(), **changes)
    try:
        yield
    finally:
        mail_app.extensions.pop("mailgate.settings")


def captured(folder: Path) -> list[str]:
    """The recipient of each message captured in `folder` (its Delivered-To field)."""
    return [re.search(rb"^Delivered-To: (\S+)\r$", path.read_bytes(), re.M)[1].decode()
            for path in folder.glob("*.eml")]


def states_of(addresses: list[str]) -> dict[str, tuple[EntryState, str | None]]:
    db.session.rollback()
    return {address: (state, error) for address, state, error in db.session.execute(
        select(OutboundEntry.address, OutboundEntry.state, OutboundEntry.last_error)
        .where(OutboundEntry.address.in_(addresses)))}


# --- 7. an exception while sending ends the round no more ----------------------------------

def test_a_capture_folder_that_cannot_be_written_defers_and_sends_nothing_twice(
        mail_app, tmp_path, monkeypatch):
    """A full disk on the second message of a batch: before, OSError left `run_once` after
    the first message was captured; nothing was recorded, and after the lease the first
    message was captured a second time."""
    addresses = _queue_forwards(3, f"capture{os.getpid()}-{time.time_ns()}-")
    folder = tmp_path / "mail-out"
    real_capture = smarthost.capture
    full = [addresses[1]]           # the disk is full when that message comes

    def capture(message: bytes, where: Path) -> Path:
        if full and f"Delivered-To: {full[0]}\r\n".encode() in message:
            full.clear()
            raise OSError(28, "No space left on device")
        return real_capture(message, where)

    monkeypatch.setattr(smarthost, "capture", capture)
    with settings_with(mail_app, smarthost=f"capture:{folder}", send_threads=1):
        with contextlib.suppress(OSError):      # a failed round, as run_forever's _step logs it
            while worker.run_once("capture-worker"):
                if not full:
                    break
        first = states_of(addresses)
        assert first[addresses[0]][0] == EntryState.SENT
        for address in addresses[1:]:
            state, error = first[address]
            assert state == EntryState.PENDING and "dossier de capture inutilisable" in error
        worker.drain(now=utcnow() + queue.LEASE + queue.FIRST_RETRY + timedelta(seconds=5))
    mine = [address for address in captured(folder) if address in addresses]
    assert sorted(mine) == sorted(addresses)        # each once: nothing lost, nothing twice
    assert {state for state, _ in states_of(addresses).values()} == {EntryState.SENT}


def test_a_capture_folder_that_is_no_folder_makes_the_messages_wait(mail_app, tmp_path):
    """PREAU_SMARTHOST=capture:DIR where DIR cannot be made (here a file is in the way): the
    OSError left the round at its first message, every round, with a traceback."""
    addresses = _queue_forwards(2, f"dossier{os.getpid()}-{time.time_ns()}-")
    in_the_way = tmp_path / "un-fichier"
    in_the_way.write_text("")
    with settings_with(mail_app, smarthost=f"capture:{in_the_way / 'mail-out'}"):
        worker.drain()
    for state, error in states_of(addresses).values():
        assert state == EntryState.PENDING and "dossier de capture inutilisable" in error
    folder = tmp_path / "mail-out"
    with settings_with(mail_app, smarthost=f"capture:{folder}"):
        worker.drain(now=utcnow() + queue.FIRST_RETRY + timedelta(seconds=5))
    assert sorted(a for a in captured(folder) if a in addresses) == sorted(addresses)
    assert {state for state, _ in states_of(addresses).values()} == {EntryState.SENT}


def test_an_unforeseen_error_sending_one_message_defers_it_alone(mail_app, sink, monkeypatch):
    """Any other exception out of the relay's send (a bug, a library's surprise) ended the
    round too: the messages the other threads had sent went again."""
    addresses = _queue_forwards(3, f"imprevu{os.getpid()}-{time.time_ns()}-")
    real_submit = smarthost._submit

    def submit(connection, sender, recipient, data, options):
        if recipient == addresses[1]:
            raise RuntimeError("surprise")
        return real_submit(connection, sender, recipient, data, options)

    monkeypatch.setattr(smarthost, "_submit", submit)
    with settings_with(mail_app, send_threads=2):
        worker.drain()
    states = states_of(addresses)
    assert states[addresses[1]][0] == EntryState.PENDING
    assert "erreur inattendue" in states[addresses[1]][1]
    for address in (addresses[0], addresses[2]):
        assert states[address][0] == EntryState.SENT and len(sink.to(address)) == 1
    monkeypatch.setattr(smarthost, "_submit", real_submit)
    worker.drain(now=utcnow() + queue.FIRST_RETRY + timedelta(seconds=5))
    assert [len(sink.to(address)) for address in addresses] == [1, 1, 1]


@pytest.mark.parametrize("smarthost_url", [
    "smtp://relais:mötdepasse@127.0.0.1:{port}",
    "smtps://élodie:secret@127.0.0.1:{port}",
    "smtp://relais:m%C3%B6tdepasse@127.0.0.1:{port}",
])
def test_relay_credentials_smtplib_cannot_send_stop_the_worker_at_start(
        smarthost_url, live_database, tmp_path):
    """Before, they were accepted, and every connection raised UnicodeEncodeError in AUTH:
    every round failed with a traceback, its batch sent again by the next."""
    result = CliRunner().invoke(main, ["worker", "--drain"], env={
        "PREAU_DATABASE_URL": live_database, "PREAU_INSTANCE_PATH": str(tmp_path),
        "PREAU_SECRET_KEY": "ascii-test",
        "PREAU_SMARTHOST": smarthost_url.format(port=free_port())})
    assert result.exit_code == 1
    assert any("PREAU_SMARTHOST invalide" in line and "ASCII" in line
               for line in result.output.splitlines()), result.output
    assert "secret" not in result.output and "depasse" not in result.output  # never shown
    assert "Traceback" not in result.output and "envoi(s) traité(s)" not in result.output


# --- 6. preau serve's grace covers the relay's timeouts ------------------------------------

def test_serve_lets_the_worker_wait_for_the_relays_final_answer(mail_app, live_database,
                                                                monkeypatch):
    """Killed 75 s after SIGTERM, a worker whose relay was still scanning the message it had
    out (which may take up to DATA_DONE_TIMEOUT, 600 s) had its whole batch sent again."""
    for name, value in preau_env(mail_app, live_database).items():
        if name.startswith("PREAU_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PREAU_WEB_LISTEN", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("PREAU_SMTP_LISTEN", f"127.0.0.1:{free_port()}")
    started = []
    monkeypatch.setattr(processes.Supervisor, "run", lambda self: started.append(self))
    processes.serve()
    (supervisor,) = started
    assert set(supervisor.commands) == {"web", "mailgate", "worker"}
    # the final answer, the data's writing, and what comes before it
    assert supervisor.grace >= smarthost.DATA_DONE_TIMEOUT + 2 * smarthost.TIMEOUT


# --- 8. the population's name in the To group; group names ---------------------------------

def test_the_population_name_is_one_line_in_the_mailings_to_group(mail_app, sink):
    """A group named before names were checked (or a class from an old import) with a line
    break: its mailing carried a header field of the name's choosing."""
    claire = account("claire.bernard")
    parent = new_account(Profile.PARENT, redirect="groupe.nom@example.org",
                         group_of="zoe.le-gall")
    message = fanout.message(claire, subject="Sortie", text="Bonjour", audience=INJECTED)
    job = fanout.submit(claire, message, select(Account.id).where(Account.id == parent.id),
                        origin="test:audience", idempotency_key=f"audience-{time.time_ns()}",
                        audience=INJECTED)
    db.session.commit()
    worker.drain()
    (delivery,) = sink.to("groupe.nom@example.org")
    received = message_from_bytes(delivery.data, policy=policy.default)
    assert received["Keywords"] is None
    assert str(received["To"]) == '"Club Keywords: injecte":;'
    stored = db.session.get(MailMessage, job.message_id)
    assert b"\nKeywords:" not in stored.source


@pytest.mark.parametrize("name", [INJECTED, "Club\nlecture", "Club\x1b lecture",
                                  "Club\u2028lecture"])
def test_a_group_name_with_a_line_break_or_a_control_character_is_refused(mail_app, name):
    teacher = mail_app.test_client()
    assert login(teacher, "claire.bernard").status_code == 302
    count = db.session.scalar(select(func.count()).select_from(Group))
    response = post_form(teacher, "/groupes/nouveau", {
        "name": name, "description": "", "school": school_id(mail_app, "0310024H")})
    assert response.status_code == 400
    assert "Le nom du groupe ne peut contenir ni retour à la ligne ni caractère de contrôle." \
        in messages(html(response)), messages(html(response))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Group)) == count

    good = f"Club {time.time_ns()}"
    response = post_form(teacher, "/groupes/nouveau", {
        "name": good, "description": "", "school": school_id(mail_app, "0310024H")})
    assert response.status_code == 302
    gid = int(response.headers["Location"].rstrip("/").split("/")[-1])
    response = post_form(teacher, f"/groupes/{gid}/modifier", {
        "name": name, "description": "", "school": school_id(mail_app, "0310024H")})
    assert response.status_code == 400
    db.session.rollback()
    assert db.session.get(Group, gid).name == good


# --- 9. Message-IDs ----------------------------------------------------------------------

def test_the_message_ids_preau_writes_say_neither_process_nor_time(mail_app):
    claire, zoe = account("claire.bernard"), account("zoe.le-gall")
    settings = current()
    read = MailMessage(subject="Sortie", from_name="Claire Bernard",
                       from_address=f"{claire.address}@ent.test", sent_at=utcnow(),
                       message_id_header="<origine@ent.test>")
    with mail_app.test_request_context():
        written = {
            "compose": compose.compose(claire, to=[zoe], subject="Bonjour", text="Un mot."),
            "report": reports.build(to="Claire <c@ent.test>", subject="Non remis", body="x",
                                    settings=settings),
            "mailing": fanout.message(claire, subject="Sortie", text="x", audience="4A"),
            "receipt": receipts.build(zoe, read),
        }
    pid = str(os.getpid())
    for what, message in written.items():
        message_id = message["Message-ID"]
        assert re.fullmatch(r"<[0-9a-f]{32}@ent\.test>", message_id), (what, message_id)
        assert pid not in re.split(r"[<.@>]", message_id), what


# --- 10. DKIM over-signing -----------------------------------------------------------------

@pytest.mark.usefixtures("signing")
def test_a_field_added_on_top_of_a_signed_message_breaks_its_signature(smtp, sink, rsa_key):
    sent = mail("joseph@example.org", "claire.bernard@ent.test", "Sortie au musée",
                body="Départ à 8 h 30.")
    assert smtp.sendmail("joseph@example.org", ["claire.bernard@ent.test"], raw(sent)) == {}
    worker.drain()
    (delivery,) = sink.to("claire.bernard@example.net")
    lookup = dns_of(rsa_key[1])
    assert dkim.verify(delivery.data, dnsfunc=lookup)
    for added in (b"Subject: Sortie annulee\r\n", b"To: tous@example.com\r\n",
                  b"From: Directeur <direction@ent.test>\r\n"):
        # on top: mail programs show the first, a verifier takes the signed ones from below
        assert not dkim.verify(added + delivery.data, dnsfunc=lookup), added
    # an added field of a name that is not signed changes nothing
    assert dkim.verify(b"Comments: relu\r\n" + delivery.data, dnsfunc=lookup)
