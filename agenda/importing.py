"""Importing an .ics file into a group's agenda (the web page and `preau import-ics`).

`plan` says what each event of the file would become — created, updated (same UID already
in this agenda), unchanged, or skipped with its reason — and `apply` does it. Imported
events are published without notices (the file's authors told their people already); a new
one reserves no resource, an updated one keeps its own, booked again for its new dates
(every updated event's bookings are released first, so that two events of the file may swap
their times). A UID that belongs to another agenda's event is skipped, never moved:
an import cannot take over someone else's event.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account

from . import booking, recurrence
from .errors import AgendaError
from .ical_read import ImportedEvent, ReadCalendar
from .models import Agenda, Event, EventException, EventStatus


class Fate(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"


@dataclass
class Line:
    fate: Fate
    uid: str
    title: str = ""
    starts_at: object = None
    reason: str = ""            # SKIP: the reader's reason, or "elsewhere"
    notes: tuple[str, ...] = ()


def plan(agenda: Agenda, read: ReadCalendar) -> list[Line]:
    uids = [e.uid for e in read.events]
    existing = {e.uid: e for e in db.session.scalars(select(Event).where(Event.uid.in_(uids)))}
    lines = [Line(Fate.SKIP, uid, reason=reason) for uid, reason in read.skipped]
    for imported in read.events:
        current = existing.get(imported.uid)
        if current is not None and current.agenda_id != agenda.id:
            fate = Fate.SKIP
        elif current is None:
            fate = Fate.CREATE
        else:
            fate = Fate.UNCHANGED if _same(current, imported) else Fate.UPDATE
        lines.append(Line(fate, imported.uid, imported.title, imported.starts_at,
                          "elsewhere" if fate == Fate.SKIP else "", tuple(imported.notes)))
    return lines


def apply(author: Account | None, agenda: Agenda, read: ReadCalendar) -> list[Line]:
    """Write what `plan` says; `author` None for the command line. The caller commits."""
    lines = plan(agenda, read)
    fates = {line.uid: line.fate for line in lines}
    existing = {e.uid: e for e in db.session.scalars(
        select(Event).where(Event.uid.in_([e.uid for e in read.events])))}
    holding = []        # updated events with resources, and their new occurrences
    for imported in read.events:
        fate = fates[imported.uid]
        if fate == Fate.CREATE:
            event = Event(agenda_id=agenda.id, author_id=author.id if author else None,
                          uid=imported.uid,
                          sequence=0, notify=False, created_at=utcnow())
            db.session.add(event)
            _copy(event, imported)
        elif fate == Fate.UPDATE:
            event = existing[imported.uid]
            event.sequence += 1
            occurrences = _copy(event, imported)
            if event.resources:
                holding.append((event, occurrences))
    if holding:     # their rooms follow them (freed when cancelled); a conflict refuses all
        db.session.flush()
        booking.release([event for event, _ in holding])
        for event, occurrences in holding:
            booking.book(event, occurrences)
    return lines


def _copy(event: Event, imported: ImportedEvent) -> list[recurrence.Occurrence]:
    """The file's values into `event`; its occurrences (the first date only for a rule the
    expander rejects; none when every date is excluded)."""
    event.title, event.place, event.summary = imported.title, imported.place, imported.summary
    event.starts_at, event.ends_at = imported.starts_at, imported.ends_at
    event.all_day, event.rrule = imported.all_day, imported.rrule
    event.status = EventStatus.CANCELLED if imported.cancelled else EventStatus.PUBLISHED
    event.exceptions = [EventException(starts_at=moment)
                        for moment in sorted(set(imported.exdates))]
    event.updated_at = utcnow()
    first = [recurrence.Occurrence(event, imported.starts_at, imported.ends_at)]
    try:
        every = recurrence.all_of(event, strict=False) if event.rrule else first
    except AgendaError:
        every = first
    event.last_ends_at = max((o.ends_at for o in every), default=imported.ends_at)
    return every


def _same(event: Event, imported: ImportedEvent) -> bool:
    return (event.title, event.place, event.summary, event.starts_at, event.ends_at,
            event.all_day, event.rrule, sorted(e.starts_at for e in event.exceptions),
            event.status == EventStatus.CANCELLED) == (
        imported.title, imported.place, imported.summary, imported.starts_at,
        imported.ends_at, imported.all_day, imported.rrule, sorted(set(imported.exdates)),
        imported.cancelled)
