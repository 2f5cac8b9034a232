"""What authors and managers do with communications, callable without a request; errors are
`CommunicationError` with a `Problem` code that the page turns into words.

Who may do what:
- "Écrire à plusieurs" is for whoever holds « Accès au service d'envoi étendu » (teachers
  and staff by default, or as an administrator grants or removes it: directory/roles.py) and
  for administrators; each author sees only their own messages.
- The automated communications of a school are managed by its staff who hold that role, and
  the administrators;
  those of a group by the staff of its school, the administrators and whoever manages the
  group's space, as for its rubrics (`directory.rubrics.creatable_spaces`): its managers and,
  for a class or an institutional group, its teachers and staff — a plain member of an ad hoc
  group manages nothing of it. Everything is loaded through `space_communication` /
  `own_message`, which answer None for anything else (a 404 for the page).
- A communication goes out in the name and under the rights of its author, and whoever
  edits it becomes its author (`update`): nobody's message goes out under the name of someone
  who did not write it. One whose author is suspended or deleted is no longer sent
  (`scheduler.author_sends`) until a manager takes it over by editing it.
"""
from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from directory import rubrics
from directory.audience import Audience, TriggerKind, count
from directory.clock import utcnow
from directory.db import db, lock_account
from directory.enums import Profile, Role
from directory.errors import PreauError
from directory.models import Account, AccountSchool, Group, GroupMember, School
from directory.roles import effective_roles
from directory.search import valid_id

from .. import fanout
from ..fanout_models import FanoutJob, FanoutRecipient
from .merge import fields_in
from .models import (
    TO_LABEL,
    Communication,
    CommunicationFile,
    CommunicationRun,
    Kind,
    Repeat,
    Signature,
)
from .schedule import parse_time, plan
from .scheduler import author_sends

NAME_MAX, SUBJECT_MAX, BODY_MAX = 120, 200, 20_000
FILENAME_MAX, CONTENT_TYPE_MAX = 200, 100     # CommunicationFile's columns
#: no school has this id: the audience of an author without a school is nobody, never the
#: whole region (an empty `Audience.school_ids`, kept for administrators)
NO_SCHOOL = 0
FILES_MAX_BYTES = 10 * 1024 * 1024
#: people one message may leave out one by one: the page lists 100 to tick, and a stored
#: list of ids is read by every count and every run
EXCLUDED_MAX = 1000


class Problem(enum.StrEnum):
    NAME_MISSING = "name_missing"
    SUBJECT_MISSING = "subject_missing"
    BODY_MISSING = "body_missing"
    TOO_LONG = "too_long"                       # max
    BAD_TIME = "bad_time"
    IN_THE_PAST = "in_the_past"
    BAD_DAYS = "bad_days"
    FILES_TOO_BIG = "files_too_big"             # max (Mo)
    NOT_A_DRAFT = "not_a_draft"                 # sent or scheduled meanwhile (a second click)
    TOO_MANY_EXCLUDED = "too_many_excluded"     # max
    BAD_EXCLUSION = "bad_exclusion"             # an id no account can have
    FIELDS_IN_SUBJECT = "fields_in_subject"     # fields (the merge fields written there)
    COUNT_TO_CONFIRM = "count_to_confirm"       # num: the people it would go to


class CommunicationError(PreauError):
    def __init__(self, problem: Problem, **params):
        super().__init__(problem.value)
        self.problem, self.params = problem, params


@dataclass
class Draft:
    """What a form says about a communication."""
    name: str
    subject: str
    body: str
    audience: Audience
    audience_label: str
    kind: Kind = Kind.MESSAGE
    repeat: Repeat = Repeat.ONCE
    send_at: datetime | None = None     # naive UTC; None with ONCE: now
    at_time: str = "08:00"
    weekday: int | None = None
    trigger: TriggerKind = TriggerKind.NONE
    days: str = ""
    draft: bool = False
    #: the audience as its recipients read it (the To: of the message): the chosen groups
    #: and profiles, never the author's filters nor who was left out ("" : `audience_label`)
    to_label: str = ""


# --- who may ----------------------------------------------------------------------------------

def may_write_to_many(account: Account) -> bool:
    return account.is_admin or Role.SEND_EXTENDED in effective_roles(account)


def manages_school(account: Account, school_id: int) -> bool:
    """Its staff (as for its rubrics, directory/rubrics.py) who may write to many: a school's
    communications go to all its members under their author's rights."""
    if account.is_admin:
        return True
    return account.profile == Profile.STAFF and may_write_to_many(account) \
        and any(s.id == school_id for s in account.schools)


def managed_group(account: Account, group_id: int) -> Group | None:
    """The group if `account` manages its automated communications (see the module's
    docstring), else None."""
    if not valid_id(group_id):
        return None
    group = db.session.get(Group, group_id)
    if group is None:
        return None
    if manages_school(account, group.school_id):
        return group
    _, spaces = rubrics.creatable_spaces(account)
    return group if any(space.id == group.id for space in spaces) else None


def managed_school(account: Account, school_id: int) -> School | None:
    if not valid_id(school_id) or not manages_school(account, school_id):
        return None
    return db.session.get(School, school_id)


def space_communication(account: Account, communication_id: int) -> Communication | None:
    """An automated communication of a space `account` manages, else None."""
    if not valid_id(communication_id):
        return None
    found = db.session.get(Communication, communication_id)
    if found is None or found.kind == Kind.MESSAGE:
        return None
    if found.group_id is not None:
        return found if managed_group(account, found.group_id) else None
    return found if found.school_id and manages_school(account, found.school_id) else None


def own_message(account: Account, communication_id: int) -> Communication | None:
    if not valid_id(communication_id):
        return None
    return db.session.scalar(select(Communication).where(
        Communication.id == communication_id, Communication.kind == Kind.MESSAGE,
        Communication.author_id == account.id))


def messages_query(account: Account) -> Select:
    """The author's messages, newest first, for their list to page through: only the columns
    the list shows are loaded (not the bodies, nor the audiences' JSON), and any other one
    read raises rather than costing a query per row."""
    return (select(Communication)
            .options(load_only(Communication.subject, Communication.audience_label,
                               Communication.draft, Communication.active,
                               Communication.next_run_at, raiseload=True))
            .where(Communication.author_id == account.id, Communication.kind == Kind.MESSAGE)
            .order_by(Communication.created_at.desc(), Communication.id.desc()))


@dataclass(frozen=True)
class Listed:
    """A communication of a space with its author (None once the account is deleted) and
    whether it still goes out (`scheduler.author_sends`)."""
    communication: Communication
    author: Account | None
    sends: bool


def of_space(school_id: int, group_id: int | None) -> list[Listed]:
    """A space's automated communications, active ones first, by name: one query."""
    query = (select(Communication, Account, author_sends().label("sends"))
             .outerjoin(Account, Account.id == Communication.author_id)
             .where(Communication.kind != Kind.MESSAGE, Communication.school_id == school_id))
    query = query.where(Communication.group_id == group_id if group_id
                        else Communication.group_id.is_(None))
    return [Listed(*row) for row in db.session.execute(
        query.order_by(Communication.active.desc(), func.lower(Communication.name),
                       Communication.id))]


def listed(communication: Communication) -> Listed:
    """One communication as its space's list shows it, for its own page."""
    author = db.session.get(Account, communication.author_id) \
        if communication.author_id else None
    return Listed(communication, author, bool(db.session.scalar(
        select(author_sends()).where(Communication.id == communication.id))))


def pickable_recipient(audience: Audience, account_id: int,
                       now: datetime | None = None) -> Account | None:
    """One person of the audience, for the preview of the merge fields (None otherwise)."""
    from directory.audience import recipients

    if not valid_id(account_id):
        return None
    chosen = recipients(audience, now or utcnow()).where(Account.id == account_id)
    return db.session.get(Account, account_id) if db.session.scalar(chosen) else None


def first_recipients(audience: Audience, limit: int = 50, now: datetime | None = None, *,
                     but: int | None = None):
    """The first people of the audience by name (the exclusion list of the page), the
    author `but` apart, as `count` leaves them out."""
    from directory.audience import recipients

    chosen = recipients(audience, now or utcnow(), but=but).subquery()
    return list(db.session.scalars(select(Account).where(Account.id.in_(select(chosen.c.id)))
                                   .order_by(Account.search_name, Account.id).limit(limit)))


def schools_of(account: Account) -> list[int]:
    """The schools an author's "Écrire à plusieurs" reaches: none listed for an
    administrator (the whole region); [NO_SCHOOL] for anyone else without a school."""
    if account.is_admin:
        return []
    return list(db.session.scalars(select(AccountSchool.school_id).where(
        AccountSchool.account_id == account.id))) or [NO_SCHOOL]


def check_exclusions(excluded_ids: Sequence[int]) -> None:
    """The people left out one by one: at most EXCLUDED_MAX, each an id an account may have.
    Thousands of them made every count, and every run of the scheduler, one statement too
    big for the database driver, which held up every communication after it."""
    if len(excluded_ids) > EXCLUDED_MAX:
        raise CommunicationError(Problem.TOO_MANY_EXCLUDED, max=EXCLUDED_MAX)
    if not all(valid_id(i) for i in excluded_ids):
        raise CommunicationError(Problem.BAD_EXCLUSION)


def whole_space(audience: Audience) -> bool:
    """No group, no « parents des élèves de » and no profile chosen: the message goes to
    every member of its author's schools — of the whole region, for an administrator."""
    return not (audience.group_ids or audience.parents_of_group_ids or audience.profiles)


def audience_digest(audience: Audience) -> str:
    """The audience as « Compter et prévisualiser » counted it, in one word the form carries
    back (its `compte_vu`): a hash of its filters, each list sorted (the browser sends the
    ticked people in any order)."""
    said = {key: sorted(value) if isinstance(value, list) else value
            for key, value in audience.as_dict().items()}
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()


def check_count_seen(audience: Audience, seen: str | None, now: datetime, *,
                     but: int) -> None:
    """A message to a whole space (`whole_space`) is sent only once its author was shown
    how many people it goes to: `seen` is the `audience_digest` of the audience
    « Compter et prévisualiser » counted, and it must be this one — a forgotten group made a
    message for one class go to the whole region, at once. The same audience counted a
    moment ago is enough, whatever its count now: an inactivity filter, a region's
    logins, an import, make that number move all the time, and « Envoyer » never settled.
    Another audience (or none counted) gets COUNT_TO_CONFIRM with the count to show her
    (`num`). A message to nobody (an author without a school) sends nothing: it needs no
    count."""
    if not whole_space(audience):
        return
    if seen == audience_digest(audience):     # not a secret: a check of what was seen
        return
    reached = count(audience, now, but=but)
    if reached:
        raise CommunicationError(Problem.COUNT_TO_CONFIRM, num=reached)


# --- writing ----------------------------------------------------------------------------------

def create(author: Account, draft: Draft, *, school_id: int | None = None,
           group_id: int | None = None, portal_url: str = "",
           files: list[tuple[str, str, bytes]] = (),
           idempotency_key: str | None = None) -> Communication:
    """A new communication; with `idempotency_key` (drawn by the form), the one a first
    submission of the same form made, if any (`by_key`), whatever this one holds."""
    now = utcnow()
    _check(draft, files, now)
    communication = Communication(author_id=author.id, school_id=school_id, group_id=group_id,
                                  portal_url=portal_url, window_start=now, created_at=now,
                                  idempotency_key=idempotency_key)
    _fill(communication, draft)
    try:
        with db.session.begin_nested():
            db.session.add(communication)
            db.session.flush()
    except IntegrityError:
        first = by_key(author, idempotency_key)     # the first submission committed meanwhile
        if first is None:
            raise
        return first
    _attach(communication, files)
    plan(communication, now)
    return communication


def by_key(author: Account, idempotency_key: str | None) -> Communication | None:
    """The communication `author`'s form with this key created."""
    if not idempotency_key:
        return None
    return db.session.scalar(select(Communication).where(
        Communication.author_id == author.id,
        Communication.idempotency_key == idempotency_key))


def update(editor: Account, communication: Communication, draft: Draft,
           files: list[tuple[str, str, bytes]] = (), *,
           removed_file_ids: Sequence[int] = ()) -> None:
    """Change a communication: its files `removed_file_ids` taken off, `files` added, all
    of them together within FILES_MAX_BYTES. `editor` becomes its author: it goes out in
    her name and under her rights from now on.

    A draft is changed only while it is one: one conditional UPDATE of its row (… WHERE
    draft) before anything else is written, so that of two submissions of one draft (a second
    click on « Envoyer », another tab) the second finds it sent — on PostgreSQL it waits for
    the first one's lock and then matches no row — and raises NOT_A_DRAFT, having attached
    nothing and planned no second occurrence."""
    now = utcnow()
    if communication.draft and db.session.execute(
            sa.update(Communication)
            .where(Communication.id == communication.id, Communication.draft.is_(True))
            .values(draft=draft.draft)
            .execution_options(synchronize_session=False)).rowcount != 1:
        db.session.refresh(communication)
        raise CommunicationError(Problem.NOT_A_DRAFT)
    removed = [i for i in removed_file_ids if valid_id(i)]
    if removed:
        db.session.execute(delete(CommunicationFile).where(
            CommunicationFile.communication_id == communication.id,
            CommunicationFile.id.in_(removed)))
    attached = files_of(communication)
    files = _not_attached(communication, attached, files)
    # a one-time communication sent already keeps its date: its name or text may still be
    # put right for the record (its run stands for the occurrence: nothing goes out again)
    _check(draft, files, now, kept_bytes=sum(size for _, _, size in attached),
           same_date=not communication.draft and draft.send_at == communication.send_at)
    if not listed(communication).sends:     # taken over from a suspended or deleted author:
        communication.window_start = now    # what happened meanwhile does not trigger it
    communication.author_id = editor.id
    _fill(communication, draft)
    _attach(communication, files)
    plan(communication, now)


class Cancel(enum.StrEnum):
    """What became of a message's « Annuler l'envoi »."""
    CANCELLED = "cancelled"
    TOO_LATE = "too_late"               # the scheduler took it first: it is going out
    ALREADY_DRAFT = "already_draft"     # cancelled already (another tab, a second click)


def cancel_sending(message: Communication) -> Cancel:
    """Put a scheduled message back to the drafts, unless the scheduler has taken it.

    The scheduler takes a due message by locking its row and moving its next run on in the
    transaction that starts the sending (scheduler.run_due). The cancel is one conditional
    UPDATE of the row as it was read — still not a draft, still waiting for the same run — so
    the two exclude each other in either order: on PostgreSQL the UPDATE waits for the
    scheduler's lock and then finds the row changed, and the scheduler skips a row the UPDATE
    holds; on SQLite the writers take turns, and a request whose row changed since it read it
    is run again (portal/retry.py)."""
    seen = message.next_run_at
    changed = seen is not None and db.session.execute(
        sa.update(Communication)
        .where(Communication.id == message.id, Communication.draft.is_(False),
               Communication.next_run_at == seen)
        .values(draft=True, next_run_at=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(message)
    if changed:
        return Cancel.CANCELLED
    return Cancel.ALREADY_DRAFT if message.draft else Cancel.TOO_LATE


def deactivate(communication: Communication) -> int:
    """Off: nothing more is planned, and its sendings under way stop — the recipients they
    have not reached yet are refused (fanout.CANCELLED) — so that a wrong text started for
    thousands goes no further. Returns how many people it will not reach."""
    communication.active = False
    communication.next_run_at = None
    db.session.flush()          # its row first: the scheduler, which locks it, goes before
    return fanout.cancel_pending(communication.origin)


def reactivate(communication: Communication) -> bool:
    """Active again from now: what happened while it was off does not trigger it. False for
    one already active (a stale page, a second click), left as it is: moving its window to
    now would skip the people whose moment came since its last run."""
    if communication.active:
        return False
    now = utcnow()
    communication.active = True
    communication.window_start = now
    plan(communication, now)
    return True


def _fill(communication: Communication, draft: Draft) -> None:
    communication.name = (draft.name.strip() or draft.subject.strip())[:NAME_MAX]
    if draft.kind == Kind.MESSAGE:
        communication.active = True     # a failed sending's mark (scheduler) goes with it
    communication.kind = draft.kind
    communication.subject = draft.subject.strip()
    communication.body = draft.body.strip()
    communication.audience = {**draft.audience.as_dict(), TO_LABEL: draft.to_label}
    communication.audience_label = draft.audience_label
    communication.repeat = draft.repeat
    communication.send_at = draft.send_at
    communication.at_time = draft.at_time
    communication.weekday = draft.weekday
    communication.trigger = draft.trigger
    communication.days = draft.days
    communication.draft = draft.draft


def _check(draft: Draft, files, now: datetime, *, kept_bytes: int = 0,
           same_date: bool = False) -> None:
    if draft.kind != Kind.MESSAGE and not draft.name.strip():
        raise CommunicationError(Problem.NAME_MISSING)
    if not draft.subject.strip():
        raise CommunicationError(Problem.SUBJECT_MISSING)
    fields = fields_in(draft.subject)
    if fields:                  # a header is written once for all: they would go as written
        raise CommunicationError(Problem.FIELDS_IN_SUBJECT, fields=" ".join(fields))
    check_exclusions(draft.audience.excluded_ids)
    if not draft.body.strip():
        raise CommunicationError(Problem.BODY_MISSING)
    name = draft.name if draft.kind != Kind.MESSAGE else ""    # a message's is its subject
    for value, most in ((name, NAME_MAX), (draft.subject, SUBJECT_MAX),
                        (draft.body, BODY_MAX)):
        if len(value.strip()) > most:
            raise CommunicationError(Problem.TOO_LONG, max=most)
    try:
        parse_time(draft.at_time)
    except ValueError:
        raise CommunicationError(Problem.BAD_TIME) from None
    if draft.repeat == Repeat.ONCE and draft.send_at is not None and draft.send_at < now \
            and not draft.draft and not same_date:
        raise CommunicationError(Problem.IN_THE_PAST)
    if draft.days and not all(n.strip().isdecimal() and 0 < int(n) <= 3650
                              for n in draft.days.split(",")):
        raise CommunicationError(Problem.BAD_DAYS)
    if kept_bytes + sum(len(data) for _, _, data in files) > FILES_MAX_BYTES:
        raise CommunicationError(Problem.FILES_TOO_BIG, max=FILES_MAX_BYTES // 1024 // 1024)


def _attach(communication: Communication, files) -> None:
    for filename, content_type, data in files:
        if not content_type or len(content_type) > CONTENT_TYPE_MAX:
            content_type = "application/octet-stream"
        db.session.add(CommunicationFile(communication_id=communication.id,
                                         filename=fitting_name(filename), content_type=content_type,
                                         data=data))


def fitting_name(filename: str, most: int = FILENAME_MAX) -> str:
    """The name cut to `most` characters, its extension kept (systems allow 255)."""
    if len(filename) <= most:
        return filename
    stem, dot, extension = filename.rpartition(".")
    if not dot or not stem or len(extension) >= most // 2:
        return filename[:most]
    return stem[:most - len(extension) - 1] + "." + extension


def _not_attached(communication: Communication, attached: list[tuple[int, str, int]],
                  files) -> list:
    """`files` but those the communication already holds (same name, same bytes): a form
    posted again with its files (the back button, then « Envoyer ») attaches them once."""
    alike = {i for i, name, size in attached
             for filename, _, data in files if (name, size) == (fitting_name(filename),
                                                               len(data))}
    if not alike:
        return list(files)
    held = set(db.session.execute(select(CommunicationFile.filename, CommunicationFile.data)
                                  .where(CommunicationFile.id.in_(alike))).tuples())
    return [f for f in files if (fitting_name(f[0]), f[2]) not in held]


def files_of(communication: Communication) -> list[tuple[int, str, int]]:
    return list(db.session.execute(
        select(CommunicationFile.id, CommunicationFile.filename,
               func.length(CommunicationFile.data))
        .where(CommunicationFile.communication_id == communication.id)
        .order_by(CommunicationFile.id)))


# --- history ----------------------------------------------------------------------------------

HISTORY_SHOWN = 60


@dataclass(frozen=True)
class Sent:
    """One occurrence in the history: its fan-out and how many per outcome."""
    run: CommunicationRun
    job: FanoutJob | None
    outcomes: dict[str, int]

    @property
    def reached(self) -> int:
        return self.outcomes.get("delivered", 0) + self.outcomes.get("forwarded", 0)

    @property
    def finished(self) -> bool:
        return self.job is None or self.job.finished_at is not None


def runs_of(communication: Communication) -> list[Sent]:
    """The newest HISTORY_SHOWN occurrences with their outcomes: two queries, however long
    the communication has been running. An occurrence that found nobody in its window sent
    nothing (scheduler._send) and is not listed."""
    rows = list(db.session.execute(
        select(CommunicationRun, FanoutJob)
        .outerjoin(FanoutJob, FanoutJob.id == CommunicationRun.job_id)
        .where(CommunicationRun.communication_id == communication.id,
               or_(CommunicationRun.job_id.isnot(None), CommunicationRun.trial.is_(True)))
        .order_by(CommunicationRun.ran_at.desc(), CommunicationRun.id.desc())
        .limit(HISTORY_SHOWN)).tuples())
    return _with_outcomes(rows)


def sent_of(communication: Communication, run_id: int) -> Sent | None:
    """One occurrence of the communication, with its outcomes (an older one than the
    history lists, say); None if it has no such occurrence."""
    found = run_of(communication, run_id)
    return _with_outcomes([found])[0] if found is not None else None


def _with_outcomes(rows) -> list[Sent]:
    """(run, job) rows as Sent, their outcomes counted in one query."""
    outcomes: dict[int, dict[str, int]] = {}
    job_ids = [job.id for _, job in rows if job is not None]
    if job_ids:
        for job_id, state, n in db.session.execute(
                select(FanoutRecipient.job_id, FanoutRecipient.state, func.count())
                .where(FanoutRecipient.job_id.in_(job_ids))
                .group_by(FanoutRecipient.job_id, FanoutRecipient.state)):
            outcomes.setdefault(job_id, {})[str(state)] = n
    return [Sent(run, job, outcomes.get(job.id, {}) if job else {}) for run, job in rows]


def run_of(communication: Communication, run_id: int) -> tuple[CommunicationRun,
                                                               FanoutJob | None] | None:
    if not valid_id(run_id):
        return None
    return db.session.execute(
        select(CommunicationRun, FanoutJob)
        .outerjoin(FanoutJob, FanoutJob.id == CommunicationRun.job_id)
        .where(CommunicationRun.id == run_id,
               CommunicationRun.communication_id == communication.id)).tuples().first()


# --- signatures -------------------------------------------------------------------------------

def signatures_of(account: Account) -> list[Signature]:
    return list(db.session.scalars(select(Signature).where(Signature.account_id == account.id)
                                   .order_by(Signature.is_default.desc(), Signature.name)))


def add_signature(account: Account, name: str, body: str, *, default: bool) -> Signature:
    """A new signature, or the same one the account already has (a second click on
    « Enregistrer »)."""
    if not name.strip():
        raise CommunicationError(Problem.NAME_MISSING)
    if not body.strip():
        raise CommunicationError(Problem.BODY_MISSING)
    _lock_signatures(account)
    same = db.session.scalar(select(Signature).where(
        Signature.account_id == account.id, Signature.name == name.strip()[:80],
        Signature.body == body.strip()).limit(1))
    if same is not None:
        if default:
            make_default(same)
        return same
    is_first = not db.session.scalar(select(exists().where(Signature.account_id == account.id)))
    if default:
        _clear_default(account)
    signature = Signature(account_id=account.id, name=name.strip()[:80], body=body.strip(),
                          is_default=default or is_first)
    db.session.add(signature)
    db.session.flush()
    return signature


def locked_signature(account: Account, signature_id: int) -> Signature | None:
    """One of the account's signatures, read once its signatures are locked
    (`_lock_signatures`), to be changed or deleted: a change made meanwhile by another
    request (« Supprimer » in another tab) is committed by then, so a deleted signature is
    None instead of a row that an UPDATE or a DELETE would then miss (a StaleDataError on
    PostgreSQL)."""
    _lock_signatures(account)
    if not valid_id(signature_id):
        return None
    return db.session.scalar(select(Signature).where(
        Signature.id == signature_id, Signature.account_id == account.id)
        .execution_options(populate_existing=True))


def make_default(signature: Signature) -> None:
    account = db.session.get(Account, signature.account_id)
    _lock_signatures(account)
    _clear_default(account)
    signature.is_default = True


def _lock_signatures(account: Account) -> None:
    """Changes to one account's signatures take turns (its row locked until the commit):
    two requests at once would each add the same one, or each leave one as the default."""
    lock_account(account.id)


def delete_signature(signature: Signature) -> None:
    """Takes the lock `make_default` takes: a deletion and a change of the default of the
    same account's signatures are made one after the other."""
    _lock_signatures(db.session.get(Account, signature.account_id))
    db.session.delete(signature)


def _clear_default(account: Account) -> None:
    for signature in signatures_of(account):
        signature.is_default = False


def spaces_of(account: Account) -> tuple[list[School], list[Group]]:
    """The schools and groups whose automated communications `account` manages (for the
    links of the "Écrire à plusieurs" page); an administrator, who manages them all, is
    offered the groups she belongs to."""
    if not account.is_admin:
        schools = [s for s in account.schools if manages_school(account, s.id)]
        return schools, rubrics.creatable_spaces(account)[1]
    schools = list(db.session.scalars(select(School).order_by(School.name).limit(50)))
    return schools, list(db.session.scalars(
        select(Group).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.account_id == account.id).order_by(Group.name, Group.id)))
