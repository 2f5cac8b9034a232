"""Background fan-out: the preview counts what the report then says, a double submit sends
once, a worker killed with SIGKILL in the middle resumes with no duplicate and no loss, and
each forward carries its recipient's own signed link."""
from __future__ import annotations

import re
import signal
import time
import uuid
from email import message_from_bytes, policy

from sqlalchemy import func, select, update

from directory.db import db
from directory.enums import Profile, Role
from directory.models import Account, AccountSchool, GroupMember, MailCorrespondent, RoleOverride
from mailgate import fanout, personalise, store
from mailgate.fanout_models import AckChannel, FanoutJob, FanoutRecipient, RecipientState
from mailgate.fanout_preview import preview
from mailgate.models import FolderKind, Mailbox, MailboxItem, OutboundEntry
from mailgate.routing import Refusal
from mailgate.settings import current

from .conftest import account, new_account
from .helpers import count
from .test_processes import preau_env, start, stop

LINK_TEMPLATE = "http://portail.test/lecture/{token}"


def population_of(people) -> select:
    return select(Account.id).where(Account.id.in_([p.id for p in people]))


def school_population():
    """Everyone of Zoé's school: pupils, parents, teachers, staff."""
    return select(AccountSchool.account_id).where(
        AccountSchool.school_id == account("zoe.le-gall").schools[0].id)


def new_job(author, recipients, *, acknowledge=False, key=None, text="Un mot pour tous."):
    mail = fanout.message(author, subject="Sortie au musée", audience="Parents d'élèves de 4A",
                          text=f"{text}\n\n{personalise.LINK}\n" if acknowledge else text)
    job = fanout.submit(author, mail, recipients, origin=f"test:{uuid.uuid4().hex[:8]}",
                        idempotency_key=key or uuid.uuid4().hex, audience="4A",
                        acknowledge=acknowledge, link_template=LINK_TEMPLATE)
    db.session.commit()
    return job


def run_to_the_end(limit: int = 25) -> None:
    while fanout.run_batch(limit):
        pass


def restricted_teacher() -> Account:
    """A teacher whose extended send service was replaced by the plain one: she may write
    to the members of her groups only, so the rights engine refuses some recipients."""
    teacher = new_account(Profile.TEACHER, redirect="restreinte@example.net",
                          group_of="zoe.le-gall")
    db.session.add_all([RoleOverride(account_id=teacher.id, role=Role.SEND_EXTENDED,
                                     granted=False),
                        RoleOverride(account_id=teacher.id, role=Role.SEND, granted=True)])
    db.session.commit()
    return teacher


def fill_mailbox(person: Account) -> None:
    store.system_folders([person.id], FolderKind.INBOX)
    db.session.execute(update(Mailbox).where(Mailbox.account_id == person.id)
                       .values(used_bytes=45 * 1024 * 1024))
    db.session.commit()


def test_the_preview_counts_what_the_report_then_says(mail_app):
    author = restricted_teacher()
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    full = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    fill_mailbox(full)
    suspended = new_account(Profile.STUDENT, group_of="zoe.le-gall", suspended=True)
    forwarded = new_account(Profile.PARENT, redirect="parent.ok@example.org",
                            group_of="zoe.le-gall")
    unreachable = new_account(Profile.PARENT, group_of="zoe.le-gall")
    outsider = new_account(Profile.STUDENT)
    wrote_to_her = new_account(Profile.STUDENT)
    db.session.add(MailCorrespondent(account_id=author.id, author_id=wrote_to_her.id))
    db.session.commit()
    people = [pupil, full, suspended, forwarded, unreachable, outsider, wrote_to_her]
    recipients = population_of(people).union(school_population())
    mail = fanout.message(author, subject="Sortie", text="Bonjour", audience="Tous")
    # The preview estimates the message's size, the delivery knows it: a mailbox another
    # test of this worker left a few kilobytes short of its quota would be told apart by
    # the two. Such mailboxes are made full for any size.
    quota = current().quota_bytes
    db.session.execute(update(Mailbox).where(Mailbox.used_bytes > quota - 64 * 1024)
                       .values(used_bytes=quota))
    db.session.commit()
    before = preview(author, recipients, len(mail.as_bytes()) + 200)
    assert before.count(RecipientState.DELIVERED) >= 2
    assert before.count(RecipientState.REFUSED, Refusal.NOT_ALLOWED) >= 1
    for state, refusal in ((RecipientState.REFUSED, Refusal.MAILBOX_FULL),
                           (RecipientState.REFUSED, Refusal.SUSPENDED),
                           (RecipientState.REFUSED, Refusal.NO_REDIRECT),
                           (RecipientState.FORWARDED, None)):
        assert before.count(state, refusal) >= 1, (state, refusal, before.counts)
    assert before.total > 50
    assert {unreachable.id, suspended.id, full.id, outsider.id} <= {
        n.id for n in before.not_reached}
    assert wrote_to_her.id not in {n.id for n in before.not_reached}

    job = fanout.submit(author, mail, recipients, origin="test:preview",
                        idempotency_key=uuid.uuid4().hex)
    db.session.commit()
    assert job.total == before.total
    run_to_the_end()
    db.session.rollback()
    report = fanout.progress(db.session.get(FanoutJob, job.id))
    assert report.finished and report.percent == 100
    assert report.counts == before.counts
    fates = dict(db.session.execute(select(FanoutRecipient.account_id, FanoutRecipient.refusal)
                                    .where(FanoutRecipient.job_id == job.id)).all())
    assert fates[full.id] == Refusal.MAILBOX_FULL and fates[outsider.id] == Refusal.NOT_ALLOWED
    assert fates[wrote_to_her.id] is None and fates[unreachable.id] == Refusal.NO_REDIRECT


def test_a_double_submit_sends_once(mail_app):
    claire = account("claire.bernard")
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    parent = new_account(Profile.PARENT, redirect="double@example.org", group_of="zoe.le-gall")
    key = uuid.uuid4().hex
    first = new_job(claire, population_of([pupil, parent]), key=key)
    second = new_job(claire, population_of([pupil, parent, account("zoe.le-gall")]), key=key)
    assert second.id == first.id and second.total == 2
    assert count(FanoutJob, FanoutJob.idempotency_key == key) == 1
    run_to_the_end()
    assert count(MailboxItem, MailboxItem.message_id == first.message_id,
                 MailboxItem.account_id == pupil.id) == 1
    assert count(OutboundEntry, OutboundEntry.message_id == first.message_id) == 1
    # The author's copy, once, in her Boîte d'envoi.
    assert count(MailboxItem, MailboxItem.message_id == first.message_id,
                 MailboxItem.account_id == claire.id) == 1


def _routed(job_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(FanoutRecipient).where(
        FanoutRecipient.job_id == job_id, FanoutRecipient.state != RecipientState.PENDING))


def _check_no_duplicate_and_nothing_unrecorded(job: FanoutJob) -> None:
    """Every routed recipient's fate is in the store exactly once; nobody pending has
    anything."""
    db.session.rollback()
    rows = dict(db.session.execute(select(FanoutRecipient.account_id, FanoutRecipient.state)
                                   .where(FanoutRecipient.job_id == job.id)).all())
    items = db.session.execute(select(MailboxItem.account_id, func.count()).where(
        MailboxItem.message_id == job.message_id, MailboxItem.account_id != job.author_id)
        .group_by(MailboxItem.account_id)).all()
    entries = db.session.execute(select(OutboundEntry.account_id, func.count()).where(
        OutboundEntry.message_id == job.message_id).group_by(OutboundEntry.account_id)).all()
    assert all(n == 1 for _, n in items) and all(n == 1 for _, n in entries)
    assert {a for a, _ in items} == {a for a, s in rows.items()
                                     if s == RecipientState.DELIVERED}
    assert {a for a, _ in entries} == {a for a, s in rows.items()
                                       if s == RecipientState.FORWARDED}


def test_a_worker_killed_mid_fan_out_resumes_without_duplicate_or_loss(mail_app,
                                                                       live_database, sink):
    claire = account("claire.bernard")
    everyone = select(Account.id)
    job = new_job(claire, everyone)
    assert job.total > 300
    env = preau_env(mail_app, live_database, PREAU_FANOUT_BATCH="7")
    process = start(["worker"], env)
    try:
        deadline = time.monotonic() + 120
        while _routed(job.id) < job.total // 5:
            assert time.monotonic() < deadline and process.poll() is None, \
                process.stderr.read().decode() if process.poll() is not None else "slow"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        stop(process)
    routed = _routed(job.id)
    assert 0 < routed < job.total, "the fan-out ended before the worker could be killed"
    _check_no_duplicate_and_nothing_unrecorded(job)

    drained = start(["worker", "--drain"], env)
    assert drained.wait(300) == 0, drained.stderr.read().decode()
    assert _routed(job.id) == job.total
    _check_no_duplicate_and_nothing_unrecorded(job)
    assert db.session.get(FanoutJob, job.id).finished_at is not None


def test_each_forward_carries_its_recipients_own_acknowledgement_link(mail_app, sink):
    from mailgate import worker

    claire = account("claire.bernard")
    parent = new_account(Profile.PARENT, redirect="lien@example.org", group_of="zoe.le-gall")
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    job = new_job(claire, population_of([parent, pupil]), acknowledge=True)
    worker.drain()
    (delivery,) = sink.to("lien@example.org")
    text = message_from_bytes(delivery.data, policy=policy.default).get_body(
        ("plain",)).get_content()
    link = re.search(r"http://portail\.test/lecture/(\S+)", text)
    assert link and personalise.LINK not in text
    assert personalise.read_token(link[1]) == (job.id, parent.id)

    stored = db.session.get(FanoutJob, job.id)
    shown = personalise.text_for(store_text(stored), stored.message_id, pupil.id)
    assert personalise.read_token(re.search(r"lecture/(\S+)", shown)[1]) == (job.id, pupil.id)

    assert fanout.acknowledge_by_token(link[1] + "x") is None
    assert fanout.acknowledge_by_token(link[1]).id == job.id
    db.session.commit()
    row = db.session.get(FanoutRecipient, (job.id, parent.id))
    assert row.acknowledged_by == AckChannel.LINK and row.acknowledged_at is not None
    assert fanout.acknowledged_count(stored) == 1


def store_text(job: FanoutJob) -> str:
    from mailgate.models import MailMessage

    return db.session.get(MailMessage, job.message_id).text_body


def test_a_reminder_goes_to_those_who_have_not_confirmed(mail_app, sink):
    claire = account("claire.bernard")
    confirmed = new_account(Profile.PARENT, redirect="oui@example.org", group_of="zoe.le-gall")
    waiting = new_account(Profile.PARENT, redirect="pas-encore@example.org",
                          group_of="zoe.le-gall")
    job = new_job(claire, population_of([confirmed, waiting]), acknowledge=True)
    run_to_the_end()
    fanout.acknowledge(job.id, confirmed.id, AckChannel.PAGE)
    db.session.commit()
    mail = fanout.message(claire, subject="Rappel", text=f"Rappel\n{personalise.LINK}\n",
                          audience="4A")
    reminder = fanout.remind(db.session.get(FanoutJob, job.id), claire, mail,
                             idempotency_key=uuid.uuid4().hex)
    db.session.commit()
    assert reminder.total == 1 and reminder.reminder_of == job.id
    run_to_the_end()
    entry = db.session.scalar(select(OutboundEntry).where(
        OutboundEntry.message_id == reminder.message_id))
    assert entry.account_id == waiting.id
    # A confirmation by the reminder's link counts for the first job.
    found = personalise.values(reminder.message_id, waiting.id)["lien"]
    assert fanout.acknowledge_by_token(found.rsplit("/", 1)[1]).id == job.id
    db.session.commit()
    assert fanout.acknowledged_count(db.session.get(FanoutJob, job.id)) == 2


def test_the_message_stays_while_the_job_runs(mail_app):
    claire = account("claire.bernard")
    job = new_job(claire, population_of([new_account(Profile.STUDENT,
                                                     group_of="zoe.le-gall")]))
    db.session.execute(MailboxItem.__table__.delete().where(
        MailboxItem.message_id == job.message_id))
    store.collect_garbage([job.message_id])
    db.session.commit()
    assert db.session.get(FanoutJob, job.id).message_id is not None
    run_to_the_end()
    assert count(MailboxItem, MailboxItem.message_id == job.message_id) == 1


def test_a_job_without_recipients_is_finished_at_once(mail_app):
    job = new_job(account("claire.bernard"), select(GroupMember.account_id).where(False))
    assert job.total == 0 and job.finished_at is not None
