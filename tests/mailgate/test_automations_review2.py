"""Automated communications, as a second review found them: one communication the database
refuses (thousands of exclusions, one bind parameter each) held up every other one of the
region, for ever; « Désactiver » let a sending under way go on to everyone; {établissement}
named a recipient's other school."""
from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from directory.audience import Audience
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import AccountSchool, School
from mailgate import fanout, worker
from mailgate.automations import communications, scheduler
from mailgate.automations.models import Communication, CommunicationRun, Kind, Repeat
from mailgate.fanout_models import FanoutJob, FanoutRecipient, RecipientState

from .conftest import account, new_account
from .test_automations import DAY, START, automated, person, run_at, space


def _finish_everything() -> None:
    db.session.rollback()
    db.session.execute(update(Communication).values(active=False, next_run_at=None))
    db.session.execute(update(FanoutJob).where(FanoutJob.finished_at.is_(None))
                       .values(finished_at=utcnow()))
    db.session.commit()


@pytest.fixture(autouse=True)
def _alone():
    """Nothing of another test runs in these (a batch takes the oldest running job), nor of
    these in the next."""
    _finish_everything()
    yield
    _finish_everything()


def _runs(communication: Communication) -> list[CommunicationRun]:
    return list(db.session.scalars(select(CommunicationRun).where(
        CommunicationRun.communication_id == communication.id)))


def test_three_hundred_thousand_exclusions_hold_up_no_other_communication():
    """Stored as they came (before the form refused them): one bind parameter each made
    its fan-out a statement the driver refused, first of every round."""
    group = space(person(START))
    crafted = automated(group, repeat=Repeat.ONCE, send_at=START + DAY, kind=Kind.MESSAGE)
    crafted.audience = {**crafted.audience, "excluded_ids": list(range(1, 300_001))}
    other = automated(group, repeat=Repeat.DAILY)
    db.session.commit()

    assert run_at(START + DAY + timedelta(minutes=1)) == 2

    [ran] = _runs(other)
    assert ran.job_id is not None
    [crafted_run] = _runs(crafted)       # its exclusions are one parameter: it ran too
    assert crafted_run.job_id is not None


def one_refused_beside_another(monkeypatch, refuse) -> tuple:
    """A one-time communication whose run calls `refuse()` (a statement the database
    refuses, an error raised) and a daily one beside it; both due in the round run_at
    makes. Returns (refused, other)."""
    group = space(person(START))
    refused = automated(group, repeat=Repeat.ONCE, send_at=START + DAY, kind=Kind.ANNOUNCE)
    other = automated(group, repeat=Repeat.DAILY)
    real = scheduler.run

    def run(communication, now):
        if communication.id == refused.id:
            refuse()
        return real(communication, now)

    monkeypatch.setattr(scheduler, "run", run)
    return refused, other


def test_a_communication_the_database_refuses_fails_alone(monkeypatch):
    refused, other = one_refused_beside_another(monkeypatch, lambda: db.session.execute(
        text("SELECT no_such_column FROM no_such_table")))
    assert run_at(START + DAY + timedelta(minutes=1)) == 1

    db.session.refresh(refused)
    assert not refused.active and refused.next_run_at is None    # failed, to reactivate
    assert [r.job_id is not None for r in _runs(other)] == [True]
    assert _runs(refused) == []


def test_a_lost_connection_fails_the_round_to_be_tried_again(monkeypatch):
    refused = automated(space(person(START)), repeat=Repeat.ONCE, send_at=START + DAY,
                        kind=Kind.ANNOUNCE)

    def run(communication, now):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"),
                               connection_invalidated=True)

    monkeypatch.setattr(scheduler, "run", run)
    with pytest.raises(OperationalError):
        run_at(START + DAY + timedelta(minutes=1))
    db.session.rollback()
    db.session.refresh(refused)
    assert refused.active and refused.next_run_at == START + DAY


def test_deactivating_stops_the_sending_under_way():
    pupils = [new_account(Profile.STUDENT) for _ in range(3)]
    made = automated(space(*pupils), repeat=Repeat.DAILY, now=utcnow())
    made.next_run_at = utcnow()
    db.session.commit()
    assert scheduler.run_due() == 1
    [run] = _runs(made)
    assert fanout.run_batch(limit=1) == 1           # one of three routed, then « Désactiver »

    assert communications.deactivate(db.session.get(Communication, made.id)) == 2
    db.session.commit()
    worker.drain()

    states = dict(db.session.execute(select(FanoutRecipient.account_id, FanoutRecipient.refusal)
                                     .where(FanoutRecipient.job_id == run.job_id)).all())
    assert sorted(states.values(), key=str) == [None, fanout.CANCELLED, fanout.CANCELLED]
    assert db.session.scalar(select(FanoutRecipient.state).where(
        FanoutRecipient.job_id == run.job_id, FanoutRecipient.refusal.is_(None))) == \
        RecipientState.DELIVERED
    assert db.session.get(FanoutJob, run.job_id).finished_at is not None


def test_etablissement_is_the_school_of_the_communication(sink):
    """A parent of two schools read the name of the one whose UAI comes first."""
    two = new_account(Profile.PARENT, redirect="two-schools@example.org")
    [own] = two.schools
    first = db.session.scalar(select(School).where(School.uai < own.uai)
                              .order_by(School.uai).limit(1))
    db.session.add(AccountSchool(account_id=two.id, school_id=first.id))
    db.session.commit()

    automated(space(two), repeat=Repeat.ONCE, kind=Kind.MESSAGE,
              body="Bienvenue à {établissement}.", now=utcnow())
    worker.drain()

    [forward] = sink.to("two-schools@example.org")
    body = message_from_bytes(forward.data, policy=policy.default).get_body(
        ("plain",)).get_content()
    assert f"Bienvenue à {own.name}." in body, body
    assert account(two.login) is not None


def test_no_communication_is_stored_with_more_than_1000_exclusions_or_impossible_ids():
    group = space(person(START))
    for excluded in (tuple(range(1, 1002)), (2**63 + 5,), (0,)):
        with pytest.raises(communications.CommunicationError):
            communications.create(account("paul.durand"), communications.Draft(
                name="Trop", subject="Trop", body="x", audience_label="Atelier",
                audience=Audience(group_ids=(group.id,), excluded_ids=excluded)))
        db.session.rollback()
    made = communications.create(account("paul.durand"), communications.Draft(
        name="Assez", subject="Assez", body="x", audience_label="Atelier",
        audience=Audience(group_ids=(group.id,), excluded_ids=tuple(range(1, 1001)))))
    assert made.chosen.excluded_ids == tuple(range(1, 1001))


# --- a passing trouble of the database retries the round; a refusal fails one --------------

class _Refusal(Exception):
    """A driver's error as psycopg's (`sqlstate`) or sqlite3's (`sqlite_errorcode`) carry it."""

    def __init__(self, message: str, sqlstate: str | None = None,
                 sqlite_errorcode: int | None = None):
        super().__init__(message)
        self.sqlstate, self.sqlite_errorcode = sqlstate, sqlite_errorcode


@pytest.mark.parametrize("orig", [
    _Refusal("could not extend file: No space left on device", "53100"),
    _Refusal("out of memory", "53200"),
    _Refusal("sorry, too many clients already", "53300"),
    _Refusal("canceling statement due to user request", "57014"),
    _Refusal("could not obtain lock on row in relation \"communication\"", "55P03"),
    _Refusal("could not serialize access due to concurrent update", "40001"),
    _Refusal("could not extend file: No space left on device"),         # no SQLSTATE told
    _Refusal("database or disk is full", sqlite_errorcode=13),         # SQLITE_FULL
    _Refusal("disk I/O error", sqlite_errorcode=10 | (3 << 8)),        # SQLITE_IOERR_WRITE
], ids=lambda orig: orig.sqlstate or str(orig.sqlite_errorcode or orig))
def test_a_passing_trouble_of_the_database_leaves_the_communication_for_the_next_round(
        monkeypatch, orig):
    """A full disk, a cancelled query, a lock not available, a serialization failure: the
    communication has nothing to do with it (it was put back to the drafts, or deactivated,
    and its author was not told); it waits for the next round, and the others of this round
    run (were it to recur at every round, it would hold up nobody)."""
    def trouble():
        raise OperationalError("SELECT 1", {}, orig, connection_invalidated=False)

    kept, other = one_refused_beside_another(monkeypatch, trouble)
    now = START + DAY + timedelta(minutes=1)
    assert run_at(now) == 1
    db.session.refresh(kept)
    assert kept.active and not kept.draft
    assert kept.next_run_at == now + scheduler.TRIED_AGAIN_AFTER    # behind the others
    assert [r.job_id is not None for r in _runs(other)] == [True]
    assert _runs(kept) == []


@pytest.mark.parametrize("orig", [
    _Refusal("connection failure", "08006"),
    _Refusal("terminating connection due to administrator command", "57P01"),
    _Refusal("database is locked", sqlite_errorcode=5),                # SQLITE_BUSY
    _Refusal("no such savepoint: sa_savepoint_1", sqlite_errorcode=1),  # a full disk undid all
])
def test_a_connection_lost_or_a_database_held_fails_the_round(monkeypatch, orig):
    kept = automated(space(person(START)), repeat=Repeat.ONCE, send_at=START + DAY,
                     kind=Kind.ANNOUNCE)

    def run(communication, now):
        raise OperationalError("SELECT 1", {}, orig, connection_invalidated=False)

    monkeypatch.setattr(scheduler, "run", run)
    with pytest.raises(OperationalError):
        run_at(START + DAY + timedelta(minutes=1))
    db.session.rollback()
    db.session.refresh(kept)
    assert kept.active and not kept.draft and kept.next_run_at == START + DAY


@pytest.mark.parametrize("error", [
    ProgrammingError("SELECT x", {}, _Refusal("column \"x\" does not exist", "42703")),
    DataError("SELECT 1", {}, _Refusal("value too long for type character varying(200)",
                                       "22001")),
    OperationalError("SELECT 1", {}, _Refusal("sending query and params failed: number of "
                                              "parameters must be between 0 and 65535")),
    OperationalError("SELECT 1", {}, _Refusal("too many SQL variables", sqlite_errorcode=1)),
    OperationalError("SELECT 1", {}, _Refusal("too many SQL variables")),
    OperationalError("SELECT 1", {}, _Refusal("cannot pass more than 100 arguments to a "
                                              "function", "54023")),
], ids=lambda error: f"{type(error).__name__}-{str(error.orig)[:20]}")
def test_what_would_fail_again_fails_the_communication_alone(monkeypatch, error):
    """Its statements refused as written: the same run fails the same way at every round,
    first of them all, holding up every other communication."""
    def refuse():
        raise error

    refused, other = one_refused_beside_another(monkeypatch, refuse)
    assert run_at(START + DAY + timedelta(minutes=1)) == 1

    db.session.refresh(refused)
    assert not refused.active and refused.next_run_at is None
    assert [r.job_id is not None for r in _runs(other)] == [True]
