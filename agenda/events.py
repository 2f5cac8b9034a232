"""Creating, changing and cancelling events (SPEC §7, the seed's "Nouvel évènement" form).

`save` takes what the form says (`EventInput`, local Paris times), checks it, books the
resources of every occurrence and tells the caller what changed for those already told
(`Change`), so that the notices (agenda/notices.py) go out in the same transaction. A draft
("Enregistrer en brouillon") is seen by its author alone, books nothing and tells nobody;
validating it publishes it. Callers run `save` inside `directory.db.write_transaction`.
"""
from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import inspect, select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from mailgate.settings import current

from . import booking, recurrence, times
from .errors import AgendaError, Problem
from .models import Agenda, Event, EventException, EventStatus, FollowUp, Resource
from .recurrence import Repeat

TITLE_MAX = 200
PLACE_MAX = 200
SUMMARY_MAX = 10_000
LONGEST = timedelta(days=366)


class Change(enum.StrEnum):
    NONE = "none"               # a draft saved, or nothing the invited need to know
    ADDED = "added"             # published for the first time
    CHANGED = "changed"         # a published event changed (new SEQUENCE), not its dates
    MOVED = "moved"             # its dates changed too: the answers given before count no more
    CANCELLED = "cancelled"


@dataclass
class EventInput:
    """The form, in the agenda's local time. For all-day events only the dates count."""

    title: str
    starts: datetime
    ends: datetime
    all_day: bool = False
    place: str = ""
    summary: str = ""
    resource_ids: Sequence[int] = ()
    notify: bool = False
    ask_confirmation: bool = False
    follow_up: FollowUp = FollowUp.OFF
    read_receipt: bool = False
    repeat: Repeat = Repeat.NONE
    until: date | None = None
    excluded: Sequence[date] = field(default_factory=tuple)
    publish: bool = True


def save(author: Account, agenda: Agenda, data: EventInput,
         event: Event | None = None) -> tuple[Event, Change]:
    """Create (event None) or change `event`; raises AgendaError, leaving the caller to roll
    back. The caller commits. An event cancelled (a draft deleted) since the form was shown
    is refused (CANCELLED_MEANWHILE): saving it would publish it again, or book rooms for an
    event that is not held."""
    if event is not None:
        _locked(event)
        if event.status == EventStatus.CANCELLED:
            raise AgendaError(Problem.CANCELLED_MEANWHILE)
    title, place, summary = _checked_text(data)
    starts, ends = _checked_times(data)
    resources = _checked_resources(agenda, data.resource_ids,
                                   event.resources if event is not None else ())
    was_published = event is not None and event.status == EventStatus.PUBLISHED
    if event is None:
        event = Event(agenda_id=agenda.id, author_id=author.id, uid=new_uid(),
                      status=EventStatus.DRAFT, sequence=0, created_at=utcnow())
        db.session.add(event)
    before, dates_before = _fingerprint(event), dates(event)
    event.title, event.place, event.summary = title, place, summary
    event.starts_at, event.ends_at, event.all_day = starts, ends, data.all_day
    event.last_ends_at = event.last_ends_at or ends
    event.rrule = (recurrence.rule(data.repeat, data.until, data.all_day)
                   if data.repeat != Repeat.OTHER else event.rrule)
    event.notify, event.ask_confirmation = data.notify, data.ask_confirmation
    event.follow_up = data.follow_up
    event.read_receipt = data.notify and data.read_receipt
    archived = [r for r in resources if not r.active]
    event.resources = resources
    if data.publish or was_published:
        event.status = EventStatus.PUBLISHED
    event.updated_at = utcnow()
    db.session.flush()
    occurrences = _set_exceptions(event, data.excluded, kept_rule=data.repeat == Repeat.OTHER)
    event.last_ends_at = max(o.ends_at for o in occurrences) if occurrences else ends
    if archived and event.status == EventStatus.PUBLISHED \
            and not booking.holds(event, occurrences):
        raise AgendaError(Problem.RESOURCE_ARCHIVED, resource=archived[0].name)
    booking.book(event, occurrences, author)
    if not was_published:
        return event, Change.ADDED if event.status == EventStatus.PUBLISHED else Change.NONE
    if _fingerprint(event) == before:
        return event, Change.NONE
    event.sequence += 1
    return event, Change.MOVED if mark_moved(event, dates_before) else Change.CHANGED


def cancel(event: Event) -> Change:
    """Cancel a published event (kept, shown as cancelled, resources freed) or delete a
    draft. The caller commits. A draft deleted meanwhile (a second click) is left so."""
    try:
        _locked(event)
    except AgendaError:
        return Change.NONE
    if event.status == EventStatus.DRAFT:
        db.session.delete(event)
        return Change.NONE
    if event.status == EventStatus.CANCELLED:
        return Change.NONE
    event.status = EventStatus.CANCELLED
    event.sequence += 1
    event.updated_at = utcnow()
    booking.book(event, [], None)
    return Change.CANCELLED


def _locked(event: Event) -> None:
    """Lock `event`'s row until the transaction ends, then read it again (PostgreSQL: FOR NO
    KEY UPDATE, which answers and comments, whose rows only point at it, do not wait for;
    SQLite: the writer's lock, taken first, already orders writers): an edit and a cancel, or
    two edits, sent at once run one after the other, and each sees what the other committed —
    the status, the SEQUENCE. CANCELLED_MEANWHILE when the row is gone (a draft deleted)."""
    event_id = inspect(event).identity[0]      # read without loading the row: it may be gone
    locked = db.session.scalar(select(Event.id).where(Event.id == event_id)
                               .with_for_update(key_share=True))
    if locked is None:
        raise AgendaError(Problem.CANCELLED_MEANWHILE)
    db.session.refresh(event)


def new_uid() -> str:
    return f"{uuid.uuid4()}@{current().domain}"


def dates(event: Event) -> tuple:
    """When `event` happens: its start, end, all-day flag, rule and excluded dates."""
    return (event.starts_at, event.ends_at, event.all_day, event.rrule,
            tuple(e.starts_at for e in event.exceptions))


def mark_moved(event: Event, before: tuple) -> bool:
    """Stamp `event` (`dates_changed_at`) if its dates are no longer `before` (`dates(event)`
    taken before the change): an answer says « I come on that day », so the answers given
    until now are for the former date and are to be given again (agenda/confirmations.py).
    Whoever changes the dates of a published event calls it. True when they changed."""
    if dates(event) == before:
        return False
    event.dates_changed_at = utcnow()
    return True


def _fingerprint(event: Event) -> tuple:
    """What an invited person's calendar shows: a change of it is sent (RFC 5546 §2.1.4)."""
    return (event.title, event.place, event.summary, *dates(event))


def _checked_text(data: EventInput) -> tuple[str, str, str]:
    title = " ".join((data.title or "").split())
    if not title:
        raise AgendaError(Problem.TITLE_MISSING)
    if len(title) > TITLE_MAX:
        raise AgendaError(Problem.TITLE_TOO_LONG, max=TITLE_MAX)
    place = " ".join((data.place or "").split())
    if len(place) > PLACE_MAX:
        raise AgendaError(Problem.TEXT_TOO_LONG, field="place", max=PLACE_MAX)
    summary = (data.summary or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise AgendaError(Problem.TEXT_TOO_LONG, field="summary", max=SUMMARY_MAX)
    return title, place, summary


def _checked_times(data: EventInput) -> tuple[datetime, datetime]:
    if data.all_day:
        if data.ends.date() < data.starts.date():
            raise AgendaError(Problem.ENDS_BEFORE_START)
        starts, ends = times.all_day_range(data.starts.date(), data.ends.date())
    else:
        starts, ends = _utc(data.starts), _utc(data.ends)
        if ends <= starts:
            raise AgendaError(Problem.ENDS_BEFORE_START)
    if ends - starts > LONGEST:
        raise AgendaError(Problem.TOO_LONG, days=LONGEST.days)
    if data.repeat not in (Repeat.NONE, Repeat.OTHER) and (
            data.until is None or data.until < data.starts.date()):
        raise AgendaError(Problem.BAD_RECURRENCE)
    return starts, ends


def _utc(local: datetime) -> datetime:
    try:
        return times.to_utc(local)
    except times.AmbiguousTime as error:
        problem = Problem.NO_SUCH_TIME if error.kind == "gap" else Problem.TWICE_SUCH_TIME
        raise AgendaError(problem, when=local) from None


def _checked_resources(agenda: Agenda, ids: Sequence[int],
                       held: Sequence[Resource] = ()) -> list[Resource]:
    """Active resources of the agenda's school (its group's or its rubric's), and those the
    event already holds (one archived since stays booked until taken off), or
    UNKNOWN_RESOURCE."""
    wanted = {int(i) for i in ids}
    if not wanted:
        return []
    kept = [resource for resource in held if resource.id in wanted]
    found = list(db.session.scalars(select(Resource).where(
        Resource.id.in_(wanted - {resource.id for resource in kept}),
        Resource.active.is_(True), Resource.school_id == agenda.school_id)))
    if len(kept) + len(found) != len(wanted):
        raise AgendaError(Problem.UNKNOWN_RESOURCE)
    return kept + found


def _set_exceptions(event: Event, excluded: Sequence[date], *,
                    kept_rule: bool) -> list[recurrence.Occurrence]:
    """Keep as exceptions the occurrences that fall on an excluded local day; every
    excluded day must be one of the rule's. Returns the remaining occurrences.

    `kept_rule`: an imported rule the form cannot show, kept as it came; it is read as the
    import read it (agenda/importing.py): its first `recurrence.MAX_OCCURRENCES` dates, or
    its first date alone when the expander rejects it, and its excluded dates beyond those
    stay. Read strictly, a rule of more dates refused every later edit of the event."""
    held = {times.local_date(e.starts_at): e.starts_at for e in event.exceptions} \
        if kept_rule else {}
    event.exceptions = []
    db.session.flush()
    first = [recurrence.Occurrence(event, event.starts_at, event.ends_at)]
    if not event.rrule:
        if excluded:
            raise AgendaError(Problem.NOT_AN_OCCURRENCE, day=excluded[0])
        return first
    try:
        every = recurrence.all_of(event, strict=not kept_rule)
    except AgendaError:
        if not kept_rule:
            raise
        every = first
    days = {times.local_date(o.starts_at): o.starts_at for o in every}
    for day in sorted(set(excluded)):
        if day not in days and day not in held:
            raise AgendaError(Problem.NOT_AN_OCCURRENCE, day=day)
        event.exceptions.append(EventException(starts_at=days.get(day, held.get(day))))
    gone = {e.starts_at for e in event.exceptions}
    return [o for o in every if o.starts_at not in gone]
