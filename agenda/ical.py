"""Writing iCalendar (RFC 5545) and iTIP (RFC 5546) with the `icalendar` library — never by
string concatenation.

One `vevent` serves the agenda export, the subscription feeds, the invitations of the notices
and the expansion of recurrences (agenda/recurrence.py), so they all say the same thing:
times in TZID=Europe/Paris with its VTIMEZONE (clients that do not know the zone still read
it right), all-day events as DATE values (DTEND the day after, as RFC 5545 wants), the rule
and its cancelled occurrences as RRULE/EXDATE, SEQUENCE raised at each change sent out.

Invitations (METHOD:REQUEST / METHOD:CANCEL) name one ATTENDEE: the person the copy is sent
to, at the address their mail client knows them by (RFC 6047 §3: a client answers for the
attendee that matches one of its identities). The ORGANIZER is the event's signed answering
address (agenda/itip.py), so that the client's METHOD:REPLY comes back through the gateway;
its CN is the author's name.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import icalendar
from icalendar import vCalAddress, vText

from directory.clock import utcnow

from . import times
from .models import Event, EventStatus

PRODID = "-//Préau//Agenda//FR"


@dataclass(frozen=True)
class Person:
    """Someone named in an iTIP message: e-mail address and display name."""

    address: str
    name: str


def vevent(event: Event, *, url: str = "") -> icalendar.Event:
    component = icalendar.Event()
    component.add("uid", event.uid)
    component.add("dtstamp", times.aware(utcnow()))
    if event.all_day:
        first = times.local_date(event.starts_at)
        after = times.local_date(event.ends_at - timedelta(seconds=1)) + timedelta(days=1)
        component.add("dtstart", first)
        component.add("dtend", after)
    else:
        component.add("dtstart", times.aware(event.starts_at))
        component.add("dtend", times.aware(event.ends_at))
    component.add("summary", event.title)
    if event.place:
        component.add("location", event.place)
    if event.summary:
        component.add("description", event.summary + (f"\n\n{url}" if url else ""))
    elif url:
        component.add("description", url)
    if url:
        component.add("url", url)
    if event.rrule:
        component.add("rrule", icalendar.vRecur.from_ical(event.rrule))
        for exception in event.exceptions:
            moment = exception.starts_at
            component.add("exdate", times.local_date(moment) if event.all_day
                          else times.aware(moment))
    component.add("sequence", event.sequence)
    component.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED
                  else "CONFIRMED")
    component.add("created", times.aware(event.created_at))
    component.add("last-modified", times.aware(event.updated_at))
    return component


def calendar(components: Iterable[icalendar.Event], *, name: str = "",
             method: str | None = None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    for component in components:
        cal.add_component(component)
    cal.add_missing_timezones()
    return cal


def export(events: Iterable[Event], *, name: str, url_of=lambda event: "") -> bytes:
    """The agenda as a .ics file (export and subscription feeds)."""
    return calendar((vevent(e, url=url_of(e)) for e in events), name=name).to_ical()


def invitation(event: Event, *, method: str, organizer: Person, attendee: Person,
               url: str = "", rsvp: bool = True) -> bytes:
    """METHOD:REQUEST (new or changed event) or METHOD:CANCEL for one attendee."""
    component = vevent(event, url=url)
    if method == "CANCEL":
        component["status"] = vText("CANCELLED")
    who = vCalAddress(f"mailto:{organizer.address}")
    who.params["cn"] = vText(organizer.name)
    component.add("organizer", who)
    guest = vCalAddress(f"mailto:{attendee.address}")
    guest.params["cn"] = vText(attendee.name)
    guest.params["role"] = vText("REQ-PARTICIPANT")
    guest.params["partstat"] = vText("NEEDS-ACTION")
    guest.params["cutype"] = vText("INDIVIDUAL")
    if rsvp and method == "REQUEST":
        guest.params["rsvp"] = vText("TRUE")
    component.add("attendee", guest)
    return calendar([component], method=method).to_ical()
