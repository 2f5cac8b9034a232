"""Answers from one's own mail client (iTIP, RFC 5546; iMIP, RFC 6047).

An invitation's ORGANIZER is the event's answering address `agenda+<event id>-<signature>@
<domain>`: the signature (HMAC of the secret key) makes the address unguessable, so only
people who received an invitation can write to it, and nobody can answer for an event by
making up an address. The METHOD:REPLY that Gmail, Outlook or Thunderbird sends there comes
through the gateway, which already knows its author (the member whose verified redirect
address is the envelope sender; unknown senders are refused before this). It counts as that
member's answer only if its ATTENDEE is that member (their redirect or universal address):
a member cannot answer for another. PARTSTAT=ACCEPTED / DECLINED become accepted / refused,
the attendee's COMMENT the comment; anything else is refused with a reason, a proposal of
another time (METHOD:COUNTER) and a request for the invitation again (METHOD:REFRESH) included.

A family may register one address for two parents: the gateway then names the first of them
as the author, but each got an invitation of their own at that address, made out to their
name (the ATTENDEE's CN, which mail clients send back). The answer is for the one of the
address's people invited to the event, or the one the CN names; when it names none of them,
the sender is told so rather than one of them answered for.

Answers are kept per event, not per date: an answer to one occurrence of a repeated event
(a VEVENT with RECURRENCE-ID and no answer for the whole series beside it) is refused, so
that declining one Thursday does not decline them all. An event that does not repeat has one
date: a RECURRENCE-ID naming it (RFC 5546 §3.2.3 wants none there, some clients write one)
answers the event — a day (VALUE=DATE, the type RFC 5545 §3.8.4.4 wants for an all-day
event, which some clients write for a time of day too) names the event starting that day in
Paris, a time the event starting then; one naming another date answers no date of it.

A mail client may send its answer long after it was written (a phone offline for a day): the
mailed answer is given when the client wrote it, its DTSTAMP (in UTC, bounded by
`_written_at`), and is stored with that time — the organiser's « répondu le », and the
clock every later answer is compared with. An answer given after it was written, on the
page, by the notice's link, by the organiser or by another mail, is kept, and the sender
told why; one written before the event's dates changed is for the former dates.
"""
from __future__ import annotations

import base64
import email
import hashlib
import hmac
import html
import re
from datetime import datetime, timedelta
from email import policy

import icalendar
from flask import current_app
from sqlalchemy import select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from mailgate import identity
from mailgate.settings import current

from . import confirmations, ical_read, times
from .confirmations import COMMENT_MAX
from .errors import AgendaError, Problem
from .models import AnswerChannel, AnswerKind, Event

PREFIX = "agenda"
_TAG = re.compile(r"^(\d{1,18})-([a-z2-7]{16})$")
_PARTSTATS = {"ACCEPTED": AnswerKind.ACCEPTED, "DECLINED": AnswerKind.REFUSED}
# What an attendee's client may send besides a REPLY, refused with what to do instead.
_NOT_ANSWERS = {"COUNTER": Problem.REPLY_COUNTER, "REFRESH": Problem.REPLY_REFRESH}
CALENDAR_TYPES = ("text/calendar", "application/ics")


def _is_calendar(part) -> bool:
    """A calendar part: by its type, or an attachment named *.ics sent with no type of its own
    (application/octet-stream), as some mail clients and webmails attach an answer."""
    if part.get_content_type() in CALENDAR_TYPES:
        return True
    return part.get_content_type() == "application/octet-stream" \
        and (part.get_filename() or "").lower().endswith(".ics")


def _signature(event_id: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"agenda-organizer:{event_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:16].lower()


def organizer_address(event: Event) -> str:
    return f"{PREFIX}+{event.id}-{_signature(event.id)}@{current().domain}"


def event_of_tag(tag: str) -> int | None:
    """The event id named by the tag of an answering address, if signed and still there."""
    match = _TAG.match(tag.lower())
    if match is None:
        return None
    event_id = int(match[1])
    if not hmac.compare_digest(match[2], _signature(event_id)):
        return None
    return event_id if db.session.get(Event, event_id) is not None else None


def receive_reply(author: Account, event_id: int, raw: bytes) -> AnswerKind:
    """Record the answer that `raw` (a mail carrying a METHOD:REPLY) gives for `author`;
    raises AgendaError. The caller commits."""
    event = db.session.get(Event, event_id)
    if event is None or event.is_draft:
        raise AgendaError(Problem.REPLY_NOT_FOR_EVENT)
    if (closed := confirmations.closed(event)) is not None:
        raise AgendaError(closed)
    component = _reply_event(raw, event)
    attendee, account = _attendee_of(component, event, author)
    partstat = str(attendee.params.get("PARTSTAT", "")).upper()
    kind = _PARTSTATS.get(partstat)
    if kind is None:
        raise AgendaError(Problem.REPLY_PARTSTAT, partstat=partstat or "?")
    written = _written_at(component, event)
    _check_not_outdated(written, event, account)
    confirmations.answer(event, account, kind, _comment(component, attendee),
                         channel=AnswerChannel.MAIL, given_at=written)
    return kind


def _reply_event(raw: bytes, event: Event):
    """The VEVENT of the message's METHOD:REPLY answering the whole of `event`. A message or
    a calendar nested too deep for Python's recursion (the parts of a mail and the
    components of a calendar are walked recursively) is unreadable: refused, never left to
    the gateway's 451, which the sender's server would retry for days."""
    try:
        return _reply_event_of(raw, event)
    except RecursionError:
        raise AgendaError(Problem.REPLY_UNREADABLE) from None


def _reply_event_of(raw: bytes, event: Event):
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        if not _is_calendar(part):
            continue
        data = part.get_payload(decode=True) or b""
        if ical_read.nul_line(data) is not None:
            raise AgendaError(Problem.REPLY_UNREADABLE)
        try:
            cal = icalendar.Calendar.from_ical(data)
        except ical_read.UNREADABLE:
            raise AgendaError(Problem.REPLY_UNREADABLE) from None
        method = str(cal.get("METHOD", "")).upper()
        if method in _NOT_ANSWERS:
            raise AgendaError(_NOT_ANSWERS[method])
        if method != "REPLY":
            continue
        mine = [c for c in cal.walk("VEVENT") if str(c.get("UID", "")) == event.uid]
        for component in mine:
            if "RECURRENCE-ID" not in component or _names_its_date(component, event):
                return component
        raise AgendaError(Problem.REPLY_ONE_OCCURRENCE if mine and event.rrule
                          else Problem.REPLY_NOT_FOR_EVENT)
    raise AgendaError(Problem.REPLY_UNREADABLE)


def _names_its_date(component, event: Event) -> bool:
    """Whether the RECURRENCE-ID of `component` names the one date of `event`, which does
    not repeat: in its day in Paris for a day or an all-day event (the date as written),
    to the second for a time."""
    if event.rrule:
        return False
    moment = getattr(component.get("RECURRENCE-ID"), "dt", None)
    if isinstance(moment, datetime) and not event.all_day:
        try:
            start = times.from_aware(moment) if moment.tzinfo else times.to_utc(moment)
        except (times.AmbiguousTime, OverflowError):     # year 1 in Paris: before UTC's year 1
            return False
        return start == event.starts_at.replace(microsecond=0)
    if isinstance(moment, datetime):
        moment = moment.date()
    return moment == times.local_date(event.starts_at)


def _attendee_of(component, event: Event, author: Account) -> tuple[object, Account]:
    """The ATTENDEE that is one of the sender's people, and the member it stands for."""
    household = _sharing_address(author)
    redirect = (author.verified_redirect or "").lower()
    attendees = component.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).lower().removeprefix("mailto:")
        for account in household:
            if address == current().universal(account.address).lower():
                return attendee, account
        if redirect and address == redirect:
            return attendee, _named(attendee, event, household)
    raise AgendaError(Problem.REPLY_WRONG_ATTENDEE)


def _sharing_address(author: Account) -> list[Account]:
    """The members who may write from the author's address: the author, and the others who
    verified the same redirect address (a family's), suspended ones left out."""
    if not author.verified_redirect:
        return [db.session.get(Account, author.id)]
    return list(db.session.scalars(select(Account).where(
        *identity.writing_from(author.verified_redirect), Account.suspended.is_(False))
        .order_by(Account.id)))


def _named(attendee, event: Event, household: list[Account]) -> Account:
    """Which of the people of a shared address the answer is for: the one invited to the
    event, else the invited one the ATTENDEE's CN names; none or several: refused."""
    if len(household) == 1:
        return household[0]
    invited = [a for a in household if confirmations.is_invited(event, a.id)]
    if not invited:
        raise AgendaError(Problem.NOT_INVITED)
    if len(invited) == 1:
        return invited[0]
    name = _folded(str(attendee.params.get("CN", "")))
    named = [a for a in invited if name and _folded(a.full_name) == name]
    if len(named) != 1:
        raise AgendaError(Problem.REPLY_SHARED_ADDRESS)
    return named[0]


def _folded(name: str) -> str:
    """A name as the invitation's CN carries it (mailgate/personalise.py writes no double
    quote) and as clients send it back, case and spacing aside."""
    return " ".join(name.replace('"', "'").split()).casefold()


def _comment(component, attendee) -> str:
    """The note the attendee wrote: the VEVENT's COMMENT (RFC 5546 §3.2.3), or the ATTENDEE's
    X-RESPONSE-COMMENT parameter, where Google Calendar puts its "add a note" HTML-escaped
    ("D&eacute;sol&eacute;, j&#39;ai…", see tests/data/itip/gmail-declined.eml)."""
    notes = component.get("COMMENT", [])
    notes = notes if isinstance(notes, list) else [notes]
    text = "\n".join(str(n).strip() for n in notes if str(n).strip())
    text = text or html.unescape(str(attendee.params.get("X-RESPONSE-COMMENT", ""))).strip()
    # a mail client's long note keeps its answer: cut, where the form would refuse it
    return text if len(text) <= COMMENT_MAX else text[:COMMENT_MAX - 1] + "…"


def _check_not_outdated(written: datetime, event: Event, account: Account) -> None:
    """Refuse the answer if the one stored was given after the client wrote it, whatever its
    channel (a mailed one is stored at its own DTSTAMP); compared to the second, as DTSTAMP
    is written."""
    given = confirmations.answer_of(event, account)
    if given is not None and given.answered_at.replace(microsecond=0) > written:
        raise AgendaError(Problem.REPLY_OUTDATED, written=times.to_local(written),
                          answered=times.to_local(given.answered_at))


def _written_at(component, event: Event) -> datetime:
    """When the client wrote its answer: its DTSTAMP (UTC; a time without zone read as UTC,
    as RFC 5545 wants it written), within what a wrong clock cannot move:
    - no later than its arrival (a clock ahead): no answer is dated in the future;
    - for the invitation as it is now (the REPLY's SEQUENCE, RFC 5546 §2.1.4, is the
      event's), a second after its dates last changed at the earliest: that invitation was
      sent after, and a clock a few minutes behind must not make the answer one for the
      former dates. An answer to an earlier invitation keeps a DTSTAMP before the change:
      it was for the former dates, and is to be given again (agenda/confirmations.py).
    Its arrival when it has no DTSTAMP."""
    now = utcnow()
    moment = getattr(component.get("DTSTAMP"), "dt", None)
    if not isinstance(moment, datetime):
        return now
    written = times.from_aware(moment) if moment.tzinfo else moment
    if event.dates_changed_at is not None and _sequence(component) >= event.sequence:
        written = max(written, event.dates_changed_at + timedelta(seconds=1))
    return min(written, now)


def _sequence(component) -> int:
    """The REPLY's SEQUENCE: the invitation's it answers (0 when absent, RFC 5545 §3.8.7.4)."""
    try:
        return int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return 0
