"""Recurring communications by time travel, as a review found them: an occurrence with nobody
in its window stores nothing (it filled its author's Boîte d'envoi and pushed the real sends
out of the history); a rule taken over from a suspended author starts from the takeover, not
from its last run; « Réactiver » on an active rule skips nobody; a double click on « Envoyer
un essai à moi-même » sends one trial."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from directory.audience import TriggerKind
from directory.clock import travel_to
from directory.db import db
from directory.enums import Profile
from directory.models import Account, AccountSchool, GroupMember
from mailgate.automations import communications, scheduler
from mailgate.automations.communications import Draft
from mailgate.automations.models import Communication, CommunicationRun, Kind
from mailgate.models import FolderKind, MailboxItem, MailFolder

from .conftest import account
from .test_automations import (  # noqa: F401 (the fixture)
    DAY,
    START,
    _nothing_left_running,
    automated,
    every_morning,
    person,
    recipients_by_day,
    run_at,
    space,
)


def outbox_size(author: Account) -> int:
    return db.session.scalar(
        select(func.count()).select_from(MailboxItem)
        .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
        .where(MailboxItem.account_id == author.id, MailFolder.kind == FolderKind.OUTBOX))


def test_an_occurrence_with_nobody_in_its_window_stores_nothing_and_is_not_listed():
    never = person(START)
    late = person(START + 3 * DAY)
    group = space(never)
    db.session.add(GroupMember(group_id=group.id, account_id=late.id, joined_at=late.created_at))
    db.session.commit()
    reminder = automated(group, trigger=TriggerKind.NEVER_LOGGED_IN, days="7,15")
    paul = account("paul.durand")
    before = outbox_size(paul)

    every_morning(20)

    assert recipients_by_day(reminder) == {7: {never.id}, 10: {late.id}, 15: {never.id},
                                           18: {late.id}}
    runs = db.session.scalars(select(CommunicationRun).where(
        CommunicationRun.communication_id == reminder.id)).all()
    assert len(runs) == 20, "every occurrence keeps its run: it guards the occurrence"
    assert sum(run.job_id is not None for run in runs) == 4
    assert outbox_size(paul) - before == 4
    listed = communications.runs_of(reminder)
    assert [(sent.run.ran_at - START).days for sent in listed] == [18, 15, 10, 7]
    assert all(sent.job.total == 1 for sent in listed)


def fifteen_day_notice_across_a_suspension(meanwhile) -> Communication:
    """An access-ending notice (15 days) of Paul's, Paul suspended for 30 days, during which
    an account's 15-day moment falls (its end set on day 30, three days ahead); on day 30
    `meanwhile(paul, notice)` runs, then three mornings. Returns the notice."""
    leaving = person(START - 100 * DAY)
    notice = automated(space(leaving), trigger=TriggerKind.ACCESS_ENDS, days="15",
                       kind=Kind.ACCESS_ENDING)
    run_at(START.replace(hour=7) + DAY)
    paul = account("paul.durand")
    db.session.execute(update(Account).where(Account.id == paul.id).values(suspended=True))
    db.session.commit()
    try:
        every_morning(30)
        with travel_to(START + 30 * DAY + DAY / 2):
            db.session.execute(update(Account).where(Account.id == leaving.id)
                               .values(access_ends_at=START + 33 * DAY))
            meanwhile(paul, notice)
            db.session.commit()
        for n in range(31, 34):
            run_at(START.replace(hour=7) + n * DAY)
    finally:
        db.session.execute(update(Account).where(Account.id == paul.id)
                           .values(suspended=False))
        db.session.commit()
    return notice


def test_a_rule_taken_over_from_a_suspended_author_starts_from_the_takeover():
    def take_over(paul, notice):
        editor = db.session.scalar(
            select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == paul.schools[0].id,
                   Account.profile == Profile.STAFF, Account.suspended.is_(False),
                   Account.is_admin.is_(False), Account.id != paul.id)
            .order_by(Account.id).limit(1))
        communications.update(editor, notice, Draft(
            name=notice.name, subject=notice.subject, body=notice.body, kind=notice.kind,
            repeat=notice.repeat, trigger=notice.trigger, days=notice.days,
            audience=notice.chosen, audience_label=notice.audience_label))

    notice = fifteen_day_notice_across_a_suspension(take_over)
    assert recipients_by_day(notice) == {}, \
        "its 15-day moment fell while the author was suspended: it is stale"


def test_reactivating_an_active_rule_skips_nobody():
    reminder = automated(space(), trigger=TriggerKind.NEVER_LOGGED_IN, days="7")
    group_id = reminder.group_id
    run_at(START.replace(hour=7) + DAY)             # ran at 08:00 Paris
    newcomer = person(START + DAY - 7 * DAY)        # its moment: 12:00 UTC that day
    db.session.add(GroupMember(group_id=group_id, account_id=newcomer.id,
                               joined_at=newcomer.created_at))
    db.session.commit()
    with travel_to(START + DAY + DAY / 3):          # 16:00 UTC: after the moment
        reactivated = communications.reactivate(reminder)
        db.session.commit()

    run_at(START.replace(hour=7) + 2 * DAY)

    assert recipients_by_day(reminder) == {1: {newcomer.id}}
    assert reactivated is False


def test_a_second_trial_within_seconds_is_the_first_one():
    reminder = automated(space(person(START)))
    author = account("paul.durand")
    with travel_to(START + DAY):
        first = scheduler.send_trial(reminder, author)
        db.session.commit()
    with travel_to(START + DAY + timedelta(seconds=3)):
        second = scheduler.send_trial(reminder, author)
        db.session.commit()
    with travel_to(START + DAY + timedelta(minutes=1)):
        later = scheduler.send_trial(reminder, author)
        db.session.commit()

    assert second.id == first.id and later.id != first.id
    assert db.session.scalar(select(func.count()).where(
        CommunicationRun.communication_id == reminder.id, CommunicationRun.trial)) == 2


def test_a_rule_whose_author_is_reinstated_does_not_catch_up_on_her_suspension():
    """While its author is suspended, a recurring rule lets its occurrences go (nothing
    sent, its window starting again): reinstated, she does not send the reminders whose
    moment fell meanwhile, stale by then."""
    def reinstate(paul, _notice):
        db.session.execute(update(Account).where(Account.id == paul.id)
                           .values(suspended=False))

    notice = fifteen_day_notice_across_a_suspension(reinstate)
    assert recipients_by_day(notice) == {}, \
        "its 15-day moment fell while the author was suspended: it is stale"
