"""The notices of an agenda: "Évènement ajouté : <titre> (le <date>) par <auteur>" to the
people of the space, and its sequels (changed, cancelled, reminder to answer).

They go out as the population mailing does, in the background (mailgate/fanout.py): the
message is stored once and the worker routes its readers in batches through the one routing
path with the population flag (rights, suspended accounts, mailboxes, redirect addresses
judged for each); the organiser follows the job's progress and report on a page. So:
- pupils (internal mailbox) read the notice in the portal, with the link to the event page;
- everyone whose mail is forwarded gets the same text with a signed one-click answer link
  of their own (`[[preau:lien]]`), and an iCalendar invitation (METHOD:REQUEST, or
  METHOD:CANCEL) naming them alone as ATTENDEE at their redirect address — the address their
  mail client knows them by, which nobody else sees — and the event's signed answering
  address as ORGANIZER, so that the Accept/Decline buttons of Gmail, Outlook or Thunderbird
  answer through the gateway (agenda/itip.py). The worker makes the invitation out to each
  of them (mailgate/personalise.py).
Mail goes to people whose language the portal does not know: it is written in French, like
every mail Préau writes (mailgate/reports.py).

`announce` is the one seam through which notices leave: it writes the job in the caller's
transaction, so an event is never saved without its notices nor the reverse.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Select

from directory.models import Account
from directory.wording import N_
from mailgate import fanout, personalise
from mailgate.fanout_models import FanoutJob

from . import access, confirmations, ical, itip, recurrence, times
from .errors import AgendaError, Problem
from .events import Change
from .models import Event, EventStatus
from .recurrence import Repeat


class Kind(enum.StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    MOVED = "moved"             # changed, dates included: the answers are to be given again
    CANCELLED = "cancelled"
    REMINDER = "reminder"


_SUBJECTS = {
    Kind.ADDED: "Évènement ajouté : {title} ({date}) par {author}",
    Kind.CHANGED: "Évènement modifié : {title} ({date}) par {author}",
    Kind.MOVED: "Évènement modifié : {title} ({date}) par {author}",
    Kind.CANCELLED: "Évènement annulé : {title} ({date}) par {author}",
    Kind.REMINDER: "Rappel : merci de répondre pour « {title} » ({date})",
}
_KIND_OF_CHANGE = {Change.ADDED: Kind.ADDED, Change.CHANGED: Kind.CHANGED,
                   Change.MOVED: Kind.MOVED, Change.CANCELLED: Kind.CANCELLED}
CONFIRM_LINE = "Vous pouvez confirmer votre présence sur la fiche de l'évènement"
ANSWER_AGAIN = ("Les dates ont changé : les réponses données pour l'ancienne date ne comptent "
                "plus. Merci de répondre à nouveau, même si votre réponse ne change pas.")

#: How an event repeats, in the words of the event page (translated there by gettext of the
#: same French text) and of the notices (French, the language of every mail of Préau).
RULE_WORDS = {
    Repeat.DAILY: N_("Chaque jour"),
    Repeat.WEEKLY: N_("Chaque semaine"),
    Repeat.FORTNIGHTLY: N_("Toutes les deux semaines"),
    Repeat.MONTHLY: N_("Chaque mois"),
    Repeat.OTHER: N_("Règle importée (conservée telle quelle)"),
}
UNTIL_WORDS = N_("%(rule)s jusqu'au %(day)s")


class Links(Protocol):
    """URLs of the portal, built by the web layer (agenda knows no routes)."""

    def event(self, event: Event) -> str: ...

    def answer_template(self, event: Event) -> str:
        """The one-click answer link, "{token}" standing for the recipient's token."""


ORIGIN = "event:{}"


def origin(event: Event) -> str:
    """What the notices' jobs are about: how the organiser's pages find them."""
    return ORIGIN.format(event.id)


def event_id_of(job: FanoutJob) -> int | None:
    kind, _, number = job.origin.partition(":")
    return int(number) if kind == "event" and number.isdecimal() else None


def after_save(author: Account, event: Event, change: Change, links: Links) -> FanoutJob | None:
    """The notice a saved event calls for: none for drafts and events saved without
    "Avertir les personnes de l'espace"."""
    if change == Change.NONE or not event.notify:
        return None
    return announce(author, event, _KIND_OF_CHANGE[change], links)


def remind(author: Account, event: Event, links: Links, *, key: str) -> FanoutJob:
    """Remind those who have not answered a published event that asks for answers (a draft
    would go out unpublished, a cancelled one come back in calendars). `key`: one per form
    shown, so that a second click finds the first reminder."""
    if not event.ask_confirmation or event.status != EventStatus.PUBLISHED:
        raise AgendaError(Problem.NOT_ASKED)
    return announce(author, event, Kind.REMINDER, links,
                    recipients=confirmations.silent(event),
                    key=f"{origin(event)}:{Kind.REMINDER}:{key}")


def announce(author: Account, event: Event, kind: Kind, links: Links, *,
             recipients: Select | None = None, key: str | None = None) -> FanoutJob:
    """The job that tells `recipients` (the agenda's readers) about `event`; the worker
    sends it. The same change announced twice (same SEQUENCE) makes one job."""
    answering = event.ask_confirmation and kind != Kind.CANCELLED
    method = "CANCEL" if kind == Kind.CANCELLED else "REQUEST"
    invitation = ical.invitation(
        event, method=method, url=links.event(event), rsvp=event.ask_confirmation,
        attendee=ical.Person(personalise.ADDRESS, personalise.NAME),
        organizer=ical.Person(itip.organizer_address(event), author.full_name))
    key = key or f"{origin(event)}:{kind}:{event.sequence}"
    return fanout.submit(
        author, _message(author, event, kind, links.event(event), answering),
        access.readers(event.agenda) if recipients is None else recipients,
        origin=origin(event), idempotency_key=key, audience=event.agenda.name,
        link_template=links.answer_template(event) if answering else None,
        forward_invitation=invitation.decode(), save_copy=False)


def repetition(event: Event, translate: Callable[[str], str] = str) -> str:
    """How `event` repeats and until when ("Chaque semaine jusqu'au 30/06/2026"), "" for an
    event of one date: in French, or in the reader's language through `translate` (gettext)."""
    repeat, until = recurrence.repeat_of(event.rrule)
    if repeat == Repeat.NONE:
        return ""
    rule = translate(RULE_WORDS[repeat])
    return translate(UNTIL_WORDS) % {"rule": rule, "day": f"{until:%d/%m/%Y}"} if until else rule


def when(event: Event) -> str:
    """"le 12/03/2026 à 09:00", or "le 12/03/2026" for an all-day event (Paris time); for a
    repeated event its rule and span from its first date ("chaque semaine jusqu'au
    30/06/2026, à partir du 08/09/2025 à 17:00"): the first date alone told a family that
    the September lesson had changed when a date of March was excluded."""
    local = times.to_local(event.starts_at)
    first = f"{local:%d/%m/%Y}" if event.all_day else f"{local:%d/%m/%Y à %H:%M}"
    repeat, _ = recurrence.repeat_of(event.rrule)
    if repeat == Repeat.NONE:
        return f"le {first}"
    if repeat == Repeat.OTHER:      # an imported rule: the page lists its dates
        return f"à plusieurs dates, à partir du {first}"
    words = repetition(event)
    return f"{words[:1].lower()}{words[1:]}, à partir du {first}"


def excluded(event: Event) -> str:
    """"Sauf le 23/02/2026" / "Sauf les 23/02/2026, 02/03/2026": the dates a repeated event
    skips, "" when none."""
    days = [f"{times.local_date(e.starts_at):%d/%m/%Y}" for e in event.exceptions]
    if not days:
        return ""
    return ("Sauf le " if len(days) == 1 else "Sauf les ") + ", ".join(days)


def subject(event: Event, kind: Kind, author: Account) -> str:
    return _SUBJECTS[kind].format(title=event.title, date=when(event), author=author.full_name)


def _message(author: Account, event: Event, kind: Kind, event_link: str, answering: bool):
    lines = [subject(event, kind, author), ""]
    if event.exceptions:
        lines.append(excluded(event))
    if event.place:
        lines.append(f"Lieu : {event.place}")
    if event.summary:
        lines += ["", event.summary]
    lines.append("")
    if answering and kind == Kind.MOVED:
        lines += [ANSWER_AGAIN, ""]
    if answering:
        lines += [f"{CONFIRM_LINE} : {event_link}", "",
                  f"Ou répondez en un clic : {personalise.LINK}"]
    else:
        lines.append(f"Fiche de l'évènement : {event_link}")
    message = fanout.message(author, subject=subject(event, kind, author),
                             text="\n".join(lines) + "\n", audience=event.agenda.name)
    if event.read_receipt and kind == Kind.ADDED:
        message["Disposition-Notification-To"] = message["From"]
    return message
