"""Automated communications, by time travel (directory.clock.travel_to): each rule fires on
the right day for the right people and once; 08:00 Paris on both sides of the changes of
time; two workers never run one occurrence twice; a worker down for three days runs each
missed communication once; deactivated communications do not run; merge fields print names
as written, `{` and `<script>` included; a trial goes to its author alone."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select, update

from directory.audience import Audience, TriggerKind
from directory.clock import travel_to, utcnow
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember
from mailgate import worker
from mailgate.automations import communications, scheduler
from mailgate.automations.communications import Draft
from mailgate.automations.merge import preview
from mailgate.automations.models import Communication, CommunicationRun, Kind, Repeat
from mailgate.fanout_models import FanoutJob, FanoutRecipient

from .conftest import account, new_account

DAY = timedelta(days=1)
START = datetime(2030, 1, 7, 12, 0)         # a Monday, winter time (Paris = UTC+1)


@pytest.fixture(autouse=True)
def _nothing_left_running():
    """Communications of a test never run in the next one (they share the database), nor
    do the mailings they started: a mailing still running would be routed by the next
    test's worker round, at the real time, and its forwards sent with that test's mail (to
    Claire, of the whole school's audiences)."""
    yield
    db.session.rollback()
    db.session.execute(update(Communication).values(active=False, next_run_at=None))
    db.session.execute(update(FanoutJob).where(FanoutJob.finished_at.is_(None))
                       .values(finished_at=utcnow()))
    db.session.commit()


def space(*people: Account, joined: datetime | None = None,
          ends: dict[int, datetime] | None = None) -> Group:
    """A fresh group of Zoé's school holding `people`."""
    school_id = account("zoe.le-gall").schools[0].id
    group = Group(kind=GroupKind.AD_HOC, name=f"Atelier {uuid.uuid4().hex[:8]}",
                  search_name="atelier", school_id=school_id)
    db.session.add(group)
    db.session.flush()
    for person in people:
        db.session.add(GroupMember(group_id=group.id, account_id=person.id,
                                   joined_at=joined or person.created_at,
                                   access_ends_at=(ends or {}).get(person.id)))
    db.session.commit()
    return group


def person(created: datetime, profile=Profile.STUDENT, **kwargs) -> Account:
    with travel_to(created):
        return new_account(profile, **kwargs)


def automated(group: Group | None, *, trigger=TriggerKind.NONE, days="", repeat=Repeat.DAILY,
              send_at=None, at_time="08:00", weekday=None, body="Bonjour {prénom}.",
              now=START, kind=Kind.REMINDER) -> Communication:
    author = account("paul.durand")
    school_id = author.schools[0].id
    with travel_to(now):
        made = communications.create(author, Draft(
            name=f"Rappel {uuid.uuid4().hex[:6]}", subject="Pensez à vous connecter",
            body=body, kind=kind, repeat=repeat, send_at=send_at, at_time=at_time,
            weekday=weekday, trigger=trigger, days=days, audience_label="Atelier",
            audience=Audience(school_ids=(school_id,),
                              group_ids=(group.id,) if group else ())),
            school_id=school_id, group_id=group.id if group else None,
            portal_url="https://ent.test/")
        db.session.commit()
    return made


def run_at(when: datetime) -> int:
    with travel_to(when):
        ran = scheduler.run_due(when)
    return ran


def recipients_by_day(communication: Communication) -> dict[int, set[int]]:
    """Day (from START) → ids the communication went to that day."""
    rows = db.session.execute(
        select(CommunicationRun.ran_at, FanoutRecipient.account_id)
        .join(FanoutJob, FanoutJob.id == CommunicationRun.job_id)
        .join(FanoutRecipient, FanoutRecipient.job_id == FanoutJob.id)
        .where(CommunicationRun.communication_id == communication.id,
               CommunicationRun.trial.is_(False)))
    found: dict[int, set[int]] = {}
    for ran_at, account_id in rows:
        found.setdefault((ran_at - START).days, set()).add(account_id)
    return found


def every_morning(days: int, at_hour_utc: int = 7) -> None:
    for n in range(1, days + 1):
        run_at(START.replace(hour=at_hour_utc) + n * DAY)


def test_never_logged_in_fires_7_and_15_days_after_joining_for_those_who_never_came():
    never = person(START)
    came = person(START)
    late = person(START + 3 * DAY)
    group = space(never, came)
    db.session.add(GroupMember(group_id=group.id, account_id=late.id, joined_at=late.created_at))
    db.session.commit()
    reminder = automated(group, trigger=TriggerKind.NEVER_LOGGED_IN, days="7,15")
    with travel_to(START + 2 * DAY):
        db.session.execute(update(Account).where(Account.id == came.id)
                           .values(last_access_at=START + 2 * DAY))
        db.session.commit()

    every_morning(20)

    assert recipients_by_day(reminder) == {7: {never.id}, 10: {late.id}, 15: {never.id},
                                           18: {late.id}}


def test_inactive_30_days_fires_once_per_stretch_of_inactivity():
    quiet = person(START - 60 * DAY)
    db.session.execute(update(Account).where(Account.id == quiet.id)
                       .values(last_access_at=START - 25 * DAY))
    db.session.commit()
    reminder = automated(space(quiet), trigger=TriggerKind.INACTIVE, days="30",
                         kind=Kind.INACTIVITY)

    every_morning(12)
    db.session.execute(update(Account).where(Account.id == quiet.id)
                       .values(last_access_at=START + 12 * DAY))
    db.session.commit()
    for n in range(13, 45):
        run_at(START.replace(hour=7) + n * DAY)

    assert recipients_by_day(reminder) == {5: {quiet.id}, 42: {quiet.id}}


def test_access_ends_in_15_7_5_3_1_days():
    leaving = person(START - 100 * DAY)
    staying = person(START - 100 * DAY)
    ends = START.replace(hour=18) + 20 * DAY
    group = space(leaving, staying, ends={leaving.id: ends})
    notice = automated(group, trigger=TriggerKind.ACCESS_ENDS, days="15,7,5,3,1",
                       kind=Kind.ACCESS_ENDING)

    every_morning(25)

    assert recipients_by_day(notice) == {n: {leaving.id} for n in (5, 13, 15, 17, 19)}


def test_an_account_ending_is_found_without_a_group():
    leaving = person(START - 100 * DAY)
    db.session.execute(update(Account).where(Account.id == leaving.id)
                       .values(access_ends_at=START.replace(hour=18) + 3 * DAY))
    db.session.commit()
    notice = automated(None, trigger=TriggerKind.ACCESS_ENDS, days="1",
                       kind=Kind.ACCESS_ENDING)

    every_morning(4)

    assert leaving.id in recipients_by_day(notice)[2]
    assert all(leaving.id not in ids for day, ids in recipients_by_day(notice).items()
               if day != 2)


@pytest.mark.parametrize(("day", "that_day", "next_day"), [
    (datetime(2030, 3, 30), 7, 6),      # spring: the night of 30 to 31 March 2030
    (datetime(2030, 10, 26), 6, 7),     # autumn: the night of 26 to 27 October 2030
])
def test_every_day_at_8_paris_follows_the_change_of_time(day, that_day, next_day):
    reminder = automated(space(person(START)), repeat=Repeat.DAILY, at_time="08:00",
                         now=day - timedelta(hours=1))

    assert reminder.next_run_at == day + timedelta(hours=that_day)
    assert run_at(day + timedelta(hours=that_day)) == 1
    assert reminder.next_run_at == day + DAY + timedelta(hours=next_day)
    assert run_at(day + DAY + timedelta(hours=next_day, minutes=-1)) == 0
    assert run_at(day + DAY + timedelta(hours=next_day)) == 1


def test_a_message_scheduled_at_8_paris_on_both_sides_of_the_autumn_change():
    """27 October 2030: 08:00 in Paris is 06:00 UTC on the Saturday, 07:00 UTC on Sunday."""
    zoe = account("zoe.le-gall")
    saturday, sunday = datetime(2030, 10, 26, 6, 0), datetime(2030, 10, 27, 7, 0)
    messages = [automated(None, repeat=Repeat.ONCE, send_at=when, kind=Kind.MESSAGE,
                          now=datetime(2030, 10, 20)) for when in (saturday, sunday)]
    for message in messages:
        message.audience = Audience(group_ids=tuple(
            g for g, in db.session.execute(select(GroupMember.group_id).where(
                GroupMember.account_id == zoe.id)))).as_dict()
    db.session.commit()

    assert run_at(saturday - timedelta(minutes=1)) == 0
    assert run_at(saturday) == 1
    assert run_at(sunday - timedelta(minutes=1)) == 0
    assert run_at(sunday) == 1
    assert run_at(sunday + 3 * DAY) == 0
    ran = [db.session.scalars(select(CommunicationRun.occurrence).where(
        CommunicationRun.communication_id == m.id)).all() for m in messages]
    assert ran == [[saturday], [sunday]]


def test_a_worker_down_for_three_days_runs_each_missed_communication_once():
    daily = automated(space(person(START)), repeat=Repeat.DAILY, at_time="08:00")
    weekly = automated(space(person(START)), repeat=Repeat.WEEKLY, weekday=2, at_time="18:30")

    back = START + 4 * DAY      # due on the 8th at 08:00, the workers came back on the 11th
    assert run_at(back) == 2
    assert run_at(back + timedelta(minutes=5)) == 0

    for communication in (daily, weekly):
        db.session.refresh(communication)
        assert db.session.scalar(select(func.count()).where(
            CommunicationRun.communication_id == communication.id)) == 1
    assert daily.next_run_at == datetime(2030, 1, 12, 7, 0)     # tomorrow 08:00 Paris
    assert weekly.next_run_at == datetime(2030, 1, 16, 17, 30)  # next Wednesday, 18:30


def test_a_deactivated_communication_does_not_run_and_comes_back_without_catching_up():
    quiet = person(START)
    reminder = automated(space(quiet), trigger=TriggerKind.NEVER_LOGGED_IN, days="7")
    with travel_to(START + DAY):
        communications.deactivate(reminder)
        db.session.commit()

    every_morning(10)
    assert recipients_by_day(reminder) == {}
    assert not db.session.scalar(select(func.count()).where(
        CommunicationRun.communication_id == reminder.id))

    with travel_to(START + 10 * DAY):
        communications.reactivate(reminder)
        db.session.commit()
    for n in range(11, 20):
        run_at(START.replace(hour=7) + n * DAY)
    assert recipients_by_day(reminder) == {}, "day 7 passed while it was off"


def test_two_workers_never_run_one_occurrence_twice(mail_app):
    reminders = [automated(space(person(START)), repeat=Repeat.DAILY) for _ in range(6)]
    when = START + DAY
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work():
        with mail_app.app_context():
            try:
                barrier.wait()
                for _ in range(3):
                    scheduler.run_due(when)
            except BaseException as error:      # reported below, in the test's thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    counts = db.session.execute(
        select(CommunicationRun.communication_id, func.count())
        .where(CommunicationRun.communication_id.in_([r.id for r in reminders]))
        .group_by(CommunicationRun.communication_id)).all()
    assert sorted(n for _, n in counts) == [1] * 6


def test_merge_fields_print_names_as_written(sink):
    odd = new_account(Profile.PARENT, redirect="odd@example.org")
    odd.first_name, odd.last_name = "{nom}<script>alert(1)</script>", "[[preau:lien]]"
    db.session.commit()
    text = "Bonjour {prénom} {nom} ({identifiant}), {établissement} : {lien_portail} {inconnu}"

    shown = preview(text, "https://ent.test/", odd.id)
    assert shown == (f"Bonjour {{nom}}<script>alert(1)</script> [[preau:lien]] ({odd.login}), "
                     "Collège Jean Jaurès : https://ent.test/ {inconnu}")

    automated(space(odd), repeat=Repeat.ONCE, kind=Kind.MESSAGE, body=text, now=utcnow())
    worker.drain()

    [forward] = sink.to("odd@example.org")
    body = message_from_bytes(forward.data, policy=policy.default).get_body(
        ("plain",)).get_content()
    assert shown in body


def test_a_trial_goes_to_its_author_alone():
    reminder = automated(space(person(START), person(START)), repeat=Repeat.DAILY)
    author = account("paul.durand")

    trial = scheduler.send_trial(reminder, author)
    db.session.commit()

    job = db.session.get(FanoutJob, trial.job_id)
    assert job.total == 1
    assert db.session.scalars(select(FanoutRecipient.account_id).where(
        FanoutRecipient.job_id == job.id)).all() == [author.id]
    assert trial.trial


def test_a_one_time_communication_reactivated_after_it_ran_holds_up_no_other():
    """Its occurrence has run: running it again broke the unique run, and the whole claim
    with it, at every round — no other communication of the region went out."""
    pupil = person(START)
    group = space(pupil)
    once = automated(group, repeat=Repeat.ONCE, send_at=START + DAY)
    assert run_at(START + DAY + timedelta(minutes=1)) == 1
    with travel_to(START + 2 * DAY):
        communications.deactivate(once)
        communications.reactivate(once)
        db.session.commit()
    daily = automated(group, now=START + 2 * DAY)
    assert run_at(START.replace(hour=7) + 3 * DAY) == 1
    assert list(recipients_by_day(daily).values()) == [{pupil.id}]
    assert len(recipients_by_day(once)) == 1
