"""Publishing an event whose notice carries an invitation, and reading the answers, for the
tests of replies from mail clients."""
from __future__ import annotations

import email
from email import policy

from agenda import access, events, notices
from agenda.models import Answer
from directory.db import db, write_transaction
from mailgate import worker
from tests.agenda.conftest import class_4a, event_input

from .conftest import account


class Links:
    def event(self, event):
        return f"https://preau.test/agenda/evenement/{event.id}"

    def answer_template(self, event):
        return "https://preau.test/agenda/reponse/{token}"


def published(title: str, **options):
    claire = account("claire.bernard")
    group_id = class_4a().id
    agenda = access.agenda_of_group(claire, group_id)

    def work():
        event, change = events.save(claire, agenda, event_input(title, **options))
        return event, notices.after_save(claire, event, change, Links())

    event, job = write_transaction(work)
    return event, job


def invitation_to(sink, address: str, title: str) -> tuple[email.message.EmailMessage, bytes]:
    worker.drain()
    for delivery in reversed(sink.to(address)):
        message = email.message_from_bytes(delivery.data, policy=policy.default)
        if title in str(message["Subject"]):
            part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
            return message, part.get_payload(decode=True)
    raise AssertionError(f"no notice of {title!r} for {address}")


def answer_of(event, login: str) -> Answer | None:
    db.session.rollback()
    return db.session.get(Answer, (event.id, account(login).id))
