"""What an agenda shows between two moments: the occurrences of the events one may see, in
one or every agenda one reads ("Mon agenda"). One indexed query for the events that overlap
the range (agenda_id, starts_at, last_ends_at), then the recurring ones expanded; at most
`MAX_EVENTS` events per range, so a page costs the same whatever the agenda's history."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account

from . import access, recurrence
from .models import Agenda, Event
from .recurrence import Occurrence

MAX_EVENTS = 500


def occurrences(account: Account, start: datetime, end: datetime,
                agendas: Sequence[Agenda] | None = None) -> list[Occurrence]:
    """Occurrences overlapping [start, end) (UTC), in `agendas` (already checked readable) or
    in every agenda `account` reads; cancelled events included (shown struck through)."""
    query = (select(Event).join(Agenda)
             .where(access.visible_events(account), Event.starts_at < end,
                    Event.last_ends_at > start)
             .order_by(Event.starts_at, Event.id).limit(MAX_EVENTS))
    if agendas is None:
        query = query.where(access.readable_agendas(account))
    else:
        query = query.where(Event.agenda_id.in_([a.id for a in agendas]))
    found = [o for event in db.session.scalars(query)
             for o in recurrence.between(event, start, end)]
    return sorted(found, key=lambda o: (o.starts_at, o.event.title, o.event.id))


def upcoming(account: Account, *, days: int = 60, limit: int = 5,
             agendas: Sequence[Agenda] | None = None) -> list[Occurrence]:
    """The next occurrences for the home page, a rubric's page and the list view."""
    now = utcnow()
    return [o for o in occurrences(account, now, now + timedelta(days=days), agendas)
            if o.ends_at > now][:limit]
