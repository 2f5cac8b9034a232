"""Importing an .ics file into a group's agenda (the web page and `preau import-ics`).

`plan` says what each event of the file would become — created, updated (same UID already
in this agenda), unchanged, or skipped with its reason — and `apply` does it. Imported
events are published without notices (the file's authors told their people already); a new
one reserves no resource, an updated one keeps its own, booked again for its new dates
(every updated event's bookings are released first, so that two events of the file may swap
their times). A UID that belongs to another agenda's event is skipped, never moved:
an import cannot take over someone else's event.

Since an import tells nobody, it does not do what would have to be told: an event cancelled
in Préau is not changed nor published again (the edit form refuses it too), and an event
whose people were told of it (« Avertir les personnes de l'espace ») is not moved nor
cancelled by the file; both are skipped with their reason. An event whose dates it changes
has its former answers to give again, as when its form moves it (`events.mark_moved`).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account

from . import booking, events, recurrence
from .errors import AgendaError
from .ical_read import ImportedEvent, ReadCalendar
from .models import Agenda, Event, EventException, EventStatus


class Fate(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"


# Skip reasons of the import (those of the file's reading are in agenda/ical_read.py)
ELSEWHERE = "elsewhere"                 # the UID is another agenda's event
CANCELLED_HERE = "cancelled_here"       # cancelled in Préau: the file would change it
NOTIFIED = "notified"                   # its people were told: the file would move or cancel it


@dataclass
class Line:
    fate: Fate
    uid: str
    title: str = ""
    starts_at: object = None
    reason: str = ""            # SKIP: the reader's reason, or one of the import's above
    notes: tuple[str, ...] = ()


# UIDs looked up per statement: one bound parameter each, and PostgreSQL takes at most 65,535
UID_CHUNK = 1_000


def _existing(uids: list[str]) -> dict[str, Event]:
    """The events already stored under these UIDs, whatever their agenda."""
    found: dict[str, Event] = {}
    for at in range(0, len(uids), UID_CHUNK):
        found.update((e.uid, e) for e in db.session.scalars(
            select(Event).where(Event.uid.in_(uids[at:at + UID_CHUNK]))))
    return found


def plan(agenda: Agenda, read: ReadCalendar) -> list[Line]:
    existing = _existing([e.uid for e in read.events])
    lines = [Line(Fate.SKIP, uid, reason=reason) for uid, reason in read.skipped]
    for imported in read.events:
        fate, reason = _fate(agenda, existing.get(imported.uid), imported)
        lines.append(Line(fate, imported.uid, imported.title, imported.starts_at, reason,
                          tuple(imported.notes)))
    return lines


def _fate(agenda: Agenda, current: Event | None, imported: ImportedEvent) -> tuple[Fate, str]:
    if current is None:
        return Fate.CREATE, ""
    if current.agenda_id != agenda.id:
        return Fate.SKIP, ELSEWHERE
    if _same(current, imported):
        return Fate.UNCHANGED, ""
    if current.status == EventStatus.CANCELLED:
        return Fate.SKIP, CANCELLED_HERE
    if current.status == EventStatus.PUBLISHED and current.notify and (
            imported.cancelled or _dates(imported) != events.dates(current)):
        return Fate.SKIP, NOTIFIED
    return Fate.UPDATE, ""


def apply(author: Account | None, agenda: Agenda, read: ReadCalendar) -> list[Line]:
    """Write what `plan` says; `author` None for the command line. The caller commits."""
    lines = plan(agenda, read)
    fates = {line.uid: line.fate for line in lines}
    existing = _existing([e.uid for e in read.events])
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
            published, before = event.status == EventStatus.PUBLISHED, events.dates(event)
            occurrences = _copy(event, imported)
            if published:
                events.mark_moved(event, before)
            if event.resources:
                holding.append((event, occurrences))
    if holding:     # their rooms follow them (freed when cancelled); a conflict refuses all
        db.session.flush()
        booking.release([event for event, _ in holding])
        for event, occurrences in holding:
            booking.book(event, occurrences, author)
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
    return (event.title, event.place, event.summary, *events.dates(event),
            event.status == EventStatus.CANCELLED) == (
        imported.title, imported.place, imported.summary, *_dates(imported),
        imported.cancelled)


def _dates(imported: ImportedEvent) -> tuple:
    """`events.dates` of the event as the file has it."""
    return (imported.starts_at, imported.ends_at, imported.all_day, imported.rrule,
            tuple(sorted(set(imported.exdates))))
