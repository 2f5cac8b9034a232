"""Reserving resources: no resource is ever booked twice at the same time (SPEC §7).

Every occurrence of an event holds each of its resources as a `Booking` row. The rule is
enforced by the database, so that two teachers saving at the same instant cannot both win:
- on PostgreSQL an exclusion constraint (migration 0013: btree_gist, resource_id WITH =,
  tsrange(starts_at, ends_at) WITH &&) refuses the second overlapping row; the loser's
  INSERT waits for the winner's commit, then fails, and is turned into RESOURCE_TAKEN (when
  both INSERTs wait on each other, PostgreSQL aborts one as a deadlock: it is tried again);
- on SQLite the check and the insert run in a transaction that took the write lock as its
  first statement (`directory.db.write_transaction`, what BEGIN IMMEDIATE does): the second writer waits
  for the first to commit, then its check sees the winner's booking.
Before inserting, the conflicts are looked up so the refusal names the resource, the event
holding it and the times — the constraint only guards the race. The other event's title is
told only to a writer who may read it (agenda/access.py): an ad hoc group's « Équipe
éducative – situation de … » is not shown to a teacher outside the group.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from directory.db import db, is_deadlock
from directory.models import Account

from . import access, times
from .errors import AgendaError, Problem
from .models import Booking, Event, EventStatus, Resource
from .recurrence import Occurrence


def book(event: Event, occurrences: Sequence[Occurrence], writer: Account | None) -> None:
    """Replace the bookings of `event` by one per occurrence and resource, or raise
    RESOURCE_TAKEN naming the first conflict (RESOURCE_TAKEN_ELSEWHERE, without its event,
    when `writer` may not read that event; None: the command line, whose operator reads
    every agenda). Drafts and cancelled events hold nothing."""
    db.session.execute(delete(Booking).where(Booking.event_id == event.id))
    if event.status != EventStatus.PUBLISHED or not event.resources or not occurrences:
        return
    resource_ids = [r.id for r in event.resources]
    _raise_on_conflict(event, resource_ids, occurrences, writer)
    rows = [{"resource_id": r, "event_id": event.id, "starts_at": o.starts_at,
             "ends_at": o.ends_at} for r in resource_ids for o in occurrences]
    try:
        _insert(rows)
    except IntegrityError:
        _raise_on_conflict(event, resource_ids, occurrences, writer)
        raise


def holds(event: Event, occurrences: Sequence[Occurrence]) -> bool:
    """Whether `event`'s bookings already cover exactly these occurrences (its dates did not
    change): an archived resource is kept then, never booked anew."""
    held = set(db.session.execute(select(Booking.starts_at, Booking.ends_at).where(
        Booking.event_id == event.id)).tuples())
    return held == {(o.starts_at, o.ends_at) for o in occurrences}


def release(events: Sequence[Event]) -> None:
    """Free every booking of `events` (before booking them again together)."""
    db.session.execute(delete(Booking).where(Booking.event_id.in_([e.id for e in events])))


def _insert(rows: list[dict]) -> None:
    """Two overlapping INSERTs at the same instant can each wait on the other's uncommitted
    row while checking the exclusion constraint: PostgreSQL then aborts one of them as a
    deadlock (SQLSTATE 40P01). Its savepoint is rolled back and the INSERT tried once more:
    it now waits for the winner's commit and fails as the constraint's IntegrityError."""
    try:
        with db.session.begin_nested():
            db.session.execute(insert(Booking), rows)
    except OperationalError as error:
        if not is_deadlock(error):
            raise
        with db.session.begin_nested():
            db.session.execute(insert(Booking), rows)


def conflicts(event: Event, resource_ids: Sequence[int],
              occurrences: Sequence[Occurrence]) -> list[tuple[Booking, Event, Resource]]:
    """Bookings of other events that overlap one of `occurrences` on one of the resources,
    earliest first. One query over the span of the occurrences; overlaps sorted out here."""
    first = min(o.starts_at for o in occurrences)
    last = max(o.ends_at for o in occurrences)
    rows = db.session.execute(
        select(Booking, Event, Resource).join(Event, Event.id == Booking.event_id)
        .join(Resource, Resource.id == Booking.resource_id)
        .where(Booking.resource_id.in_(resource_ids), Booking.event_id != event.id,
               Booking.starts_at < last, Booking.ends_at > first)
        .order_by(Booking.starts_at)).all()
    return [(b, e, r) for b, e, r in rows
            if any(b.starts_at < o.ends_at and b.ends_at > o.starts_at for o in occurrences)]


def _raise_on_conflict(event: Event, resource_ids: Sequence[int],
                       occurrences: Sequence[Occurrence], writer: Account | None) -> None:
    found = conflicts(event, resource_ids, occurrences)
    if found:
        booking, other, resource = found[0]
        when = {"resource": resource.name, "starts": times.to_local(booking.starts_at),
                "ends": times.to_local(booking.ends_at)}
        if writer is not None and access.visible_event(writer, other.id) is None:
            raise AgendaError(Problem.RESOURCE_TAKEN_ELSEWHERE, **when)
        raise AgendaError(Problem.RESOURCE_TAKEN, title=other.title, **when)
