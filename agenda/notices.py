"""The notices of an agenda: "Évènement ajouté : <titre> (le <date>) par <auteur>" to the
people of the space, and its sequels (changed, cancelled, reminder to answer).

They take the one routing path (mailgate/routing.py) with the population flag: `check` judges
every reader at once (rights, suspended accounts, mailboxes, redirect addresses), then
`deliver_many` stores and queues in a fixed number of statements:
- pupils (internal mailbox) share one message with the link to the event page, where they
  answer;
- everyone whose mail is forwarded gets a message of their own: the same text with a signed
  one-click answer link, and an iCalendar invitation (METHOD:REQUEST, or METHOD:CANCEL)
  naming them alone as ATTENDEE at their redirect address — the address their mail client
  knows them by, which nobody else sees — and the event's signed answering address as
  ORGANIZER, so that the Accept/Decline buttons of Gmail, Outlook or Thunderbird answer
  through the gateway (agenda/itip.py). The invitation is both the text/calendar
  alternative with its method parameter (what Outlook and Gmail read, RFC 6047 §2.4) and an
  invite.ics attachment (what other clients offer to open).
Mail goes to people whose language the portal does not know: it is written in French, like
every mail Préau writes (mailgate/reports.py).

`announce` is the one seam through which notices leave: it runs in the caller's
transaction, so an event is never saved without its notices nor the reverse.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import compose, routing
from mailgate.routing import Decision, Delivery, RecipientResult
from mailgate.settings import current

from . import access, confirmations, ical, itip, times
from .events import Change
from .models import Event


class Kind(enum.StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    CANCELLED = "cancelled"
    REMINDER = "reminder"


_SUBJECTS = {
    Kind.ADDED: "Évènement ajouté : {title} (le {date}) par {author}",
    Kind.CHANGED: "Évènement modifié : {title} (le {date}) par {author}",
    Kind.CANCELLED: "Évènement annulé : {title} (le {date}) par {author}",
    Kind.REMINDER: "Rappel : merci de répondre pour « {title} » (le {date})",
}
_KIND_OF_CHANGE = {Change.ADDED: Kind.ADDED, Change.CHANGED: Kind.CHANGED,
                   Change.CANCELLED: Kind.CANCELLED}
CONFIRM_LINE = "Vous pouvez confirmer votre présence sur la fiche de l'évènement"


class Links(Protocol):
    """URLs of the portal, built by the web layer (agenda knows no routes)."""

    def event(self, event: Event) -> str: ...

    def answer(self, event: Event, account_id: int) -> str: ...


@dataclass
class Report:
    """What became of a notice, for the organiser's flash message."""

    delivered: int = 0
    forwarded: int = 0
    refused: list[RecipientResult] = field(default_factory=list)


def after_save(author: Account, event: Event, change: Change, links: Links) -> Report | None:
    """The notice a saved event calls for: none for drafts and events saved without
    "Avertir les personnes de l'espace"."""
    if change == Change.NONE or not event.notify:
        return None
    return announce(author, event, _KIND_OF_CHANGE[change], links)


def remind(author: Account, event: Event, links: Links) -> Report:
    """Remind those who have not answered."""
    return announce(author, event, Kind.REMINDER, links,
                    recipients=confirmations.silent_ids(event))


def announce(author: Account, event: Event, kind: Kind, links: Links, *,
             recipients: Sequence[int] | None = None) -> Report:
    if recipients is None:
        recipients = list(db.session.scalars(access.readers(event.agenda)))
    recipients = [r for r in recipients if r != author.id]
    if not recipients:
        return Report()
    decisions = routing.check(author, recipients, population=True)
    internal = [d for d in decisions if d.result.accepted and d.internal]
    forwarded = [d for d in decisions if d.result.accepted and not d.internal]
    jobs = []
    if internal:
        jobs.append(Delivery(author, routing.as_parsed(
            _message(author, event, kind, links.event(event), internal)),
            internal, save_copy=False))
    names = _names([d.result.account_id for d in forwarded])
    for decision in forwarded:
        account_id = decision.result.account_id
        message = _message(author, event, kind, links.event(event), [decision],
                           answer_link=links.answer(event, account_id))
        _attach_invitation(message, event, kind, author,
                           ical.Person(decision.redirect, names[account_id]), links.event(event))
        jobs.append(Delivery(author, routing.as_parsed(message), [decision], save_copy=False))
    report = Report(refused=[d.result for d in decisions if not d.result.accepted])
    for result in routing.deliver_many(jobs):
        report.delivered += sum(r.outcome == routing.Outcome.DELIVERED for r in result.accepted)
        report.forwarded += sum(r.outcome == routing.Outcome.FORWARDED for r in result.accepted)
        report.refused += result.refused
    return report


def when(event: Event) -> str:
    """"12/03/2026 à 09:00", or "12/03/2026" for an all-day event (Paris time)."""
    local = times.to_local(event.starts_at)
    return f"{local:%d/%m/%Y}" if event.all_day else f"{local:%d/%m/%Y à %H:%M}"


def subject(event: Event, kind: Kind, author: Account) -> str:
    return _SUBJECTS[kind].format(title=event.title, date=when(event), author=author.full_name)


def _message(author: Account, event: Event, kind: Kind, event_link: str,
             decisions: Sequence[Decision], *, answer_link: str = "") -> EmailMessage:
    lines = [subject(event, kind, author), ""]
    if event.place:
        lines.append(f"Lieu : {event.place}")
    if event.summary:
        lines += ["", event.summary]
    lines.append("")
    if event.ask_confirmation and kind != Kind.CANCELLED:
        lines += [f"{CONFIRM_LINE} : {event_link}"]
        if answer_link:
            lines += ["", f"Ou répondez en un clic : {answer_link}"]
    else:
        lines.append(f"Fiche de l'évènement : {event_link}")
    message = compose.compose(author, to=_accounts([d.result.account_id for d in decisions]),
                              subject=subject(event, kind, author), text="\n".join(lines) + "\n",
                              read_receipt=event.read_receipt and kind == Kind.ADDED)
    if len(decisions) > 1:          # one shared copy: nobody sees the others' addresses
        del message["To"]
        message["To"] = f"{event.agenda.name} <ne-pas-repondre@{current().domain}>"
    return message


def _attach_invitation(message: EmailMessage, event: Event, kind: Kind, author: Account,
                       attendee: ical.Person, url: str) -> None:
    method = "CANCEL" if kind == Kind.CANCELLED else "REQUEST"
    data = ical.invitation(event, method=method, attendee=attendee, url=url,
                           organizer=ical.Person(itip.organizer_address(event),
                                                 author.full_name),
                           rsvp=event.ask_confirmation)
    message.add_alternative(data, maintype="text", subtype="calendar",
                            params={"method": method, "charset": "UTF-8"})
    message.add_attachment(data, maintype="application", subtype="ics",
                           filename="invite.ics")


def _accounts(ids: Sequence[int]) -> list[Account]:
    return list(db.session.scalars(select(Account).where(Account.id.in_(ids))))


def _names(ids: Sequence[int]) -> dict[int, str]:
    return {a.id: a.full_name for a in _accounts(ids)}
