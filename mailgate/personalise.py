"""Per-recipient parts of a message that is stored once.

A message written for many (mailgate/fanout.py) is stored once, whatever the number of its
recipients. Where its text says `[[preau:lien]]`, each recipient reads a link of their own:
the job's `link_template` with a token signing (job, recipient), so that one click — without
logging in — says who confirmed having read it. The worker puts the values into the forward
it sends (`forward_bytes`), the messagerie into the text it shows (`text_for`).

A job may also carry an iCalendar invitation (`FanoutJob.forward_invitation`, RFC 6047):
forwarded copies get it addressed to their recipient — `[[preau:destinataire]]` is the
address the message is forwarded to, the one their mail client knows them by and nobody else
sees, `[[preau:nom]]` their name — as a text/calendar alternative with its METHOD (what
Outlook and Gmail read) and an invite.ics attachment (what other clients open). Internal
copies, read in the portal, carry no invitation.

This is the one hook for per-recipient text: the merge fields of messages to many
([[preau:prenom]], [[preau:nom]]… written by mailgate/automations/merge.py) are more names in
`values`, read from directory/merge_fields.py only when the text holds one. A placeholder
with no value is left as written.

The worker makes out a batch of forwards at a time: `for_batch` reads what they all need —
each message's job, the merge fields and names of their recipients — in a handful of
queries, however many copies (asked copy by copy, a mailing to 2,000 parents cost 10,000).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import lru_cache
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from directory.db import db, dialect_name
from directory.merge_fields import values_of as field_values_of
from directory.models import Account
from directory.sets import any_of, ids_parameter

if TYPE_CHECKING:
    from .fanout_models import FanoutJob

LINK = "[[preau:lien]]"
ADDRESS = "[[preau:destinataire]]"
NAME = "[[preau:nom]]"
_MARK = "[[preau:"
_PLACEHOLDER = re.compile(r"\[\[preau:([a-z_]+)\]\]")
_PLACEHOLDER_BYTES = re.compile(_PLACEHOLDER.pattern.encode())
_SALT = "preau.fanout.link"


def _serializer() -> URLSafeSerializer:
    from flask import current_app

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token(job_id: int, account_id: int) -> str:
    return _serializer().dumps([job_id, account_id])


def read_token(value: str) -> tuple[int, int] | None:
    """(job id, account id) of a token we signed; None for anything else."""
    try:
        job_id, account_id = _serializer().loads(value)
    except (BadSignature, TypeError, ValueError):
        return None
    if not (isinstance(job_id, int) and isinstance(account_id, int)):
        return None
    return job_id, account_id


def _job(message_id: int):
    return jobs_of([message_id]).get(message_id)


def jobs_of(message_ids: Iterable[int]) -> dict[int, FanoutJob]:
    """The fan-out job (the first) of each of the messages that have one, in one query: the
    worker asks for a whole batch."""

    ids = set(message_ids)
    if not ids:
        return {}
    found: dict[int, FanoutJob] = {}
    for job in db.session.scalars(_jobs_statement(dialect_name()), {"ids": sorted(ids)}):
        found.setdefault(job.message_id, job)
    return found


@lru_cache(maxsize=4)
def _jobs_statement(_dialect: str):
    """`jobs_of`'s query, built once per database (every round of the outbound worker)."""
    from .fanout_models import FanoutJob

    return select(FanoutJob).where(ids_parameter(FanoutJob.message_id)).order_by(FanoutJob.id)


class Batch(Mapping[int, "FanoutJob"]):
    """The jobs of a batch's messages (message id → job, as `jobs_of`), with the merge
    fields and names of the recipients that `for_batch` found their copies need. A
    recipient it did not foresee is read alone."""

    def __init__(self, jobs: dict[int, FanoutJob] | None = None,
                 fields: dict[int, dict[str, str]] | None = None,
                 names: dict[int, str] | None = None):
        self._jobs, self._fields, self._names = jobs or {}, fields or {}, names or {}

    def __getitem__(self, message_id: int) -> FanoutJob:
        return self._jobs[message_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def fields(self, account_id: int) -> dict[str, str]:
        if account_id not in self._fields:
            self._fields.update(field_values_of([account_id]))
        return self._fields.get(account_id, {})

    def name(self, account_id: int) -> str | None:
        if account_id not in self._names:
            self._names.update(_names_of([account_id]))
        return self._names.get(account_id)


def for_batch(sources: Mapping[int, bytes],
              copies: Iterable[tuple[int | None, int | None]]) -> Batch:
    """What the forwards `copies` — (message id, account id) pairs — of the stored messages
    `sources` (message id → bytes) need to be made out, read in a bounded number of queries
    whatever the number of copies."""
    jobs = jobs_of(sources)
    wanted = {message_id: _wanted_in_bytes(data) for message_id, data in sources.items()
              if message_id in jobs}
    need_fields, need_names = set(), set()
    for message_id, account_id in copies:
        if account_id is None or message_id not in jobs:
            continue
        if wanted[message_id] - {"lien"}:
            need_fields.add(account_id)
        if jobs[message_id].forward_invitation:
            need_names.add(account_id)
    return Batch(jobs, field_values_of(need_fields), _names_of(need_names))


def _wanted_in_bytes(data: bytes) -> set[str]:
    """The placeholders a stored message's text may hold (quoted-printable keeps them whole
    but for its soft line breaks)."""
    joined = data.replace(b"=\r\n", b"").replace(b"=\n", b"")
    return {name.decode() for name in _PLACEHOLDER_BYTES.findall(joined)}


def _names_of(account_ids: Iterable[int]) -> dict[int, str]:
    ids = set(account_ids)
    if not ids:
        return {}
    return {account.id: account.full_name
            for account in db.session.scalars(select(Account).where(any_of(Account.id, ids)))}


def values(message_id: int, account_id: int,
           wanted: frozenset[str] | set[str] = frozenset({"lien"}), job=None, *,
           batch: Batch | None = None) -> dict[str, str]:
    """What the placeholders `wanted` of `message_id` say for `account_id`."""
    job = job or _job(message_id)
    if job is None:
        return {}
    batch = batch if batch is not None else Batch()
    found = dict(batch.fields(account_id)) if wanted - {"lien"} else {}
    if job.link_template:
        found["lien"] = job.link_template.replace("{token}",
                                                  token(job.ack_job_id, account_id))
    return found


def wanted_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def apply(text: str, found: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: found.get(match[1], match[0]), text)


def without_placeholders(text: str) -> str:
    """`text` with a space where each placeholder is: what the mailbox search compares
    (mailgate/models.py `search_text_of`). Each reader reads their own value there, never
    the placeholder, so a search must not find a message by it."""
    return _PLACEHOLDER.sub(" ", text) if _MARK in text else text


def text_for(text: str, message_id: int, account_id: int) -> str:
    """The message's text as `account_id` reads it in the messagerie."""
    if _MARK not in text:
        return text
    return apply(text, values(message_id, account_id, wanted_in(text)))


def forward_bytes(data: bytes, message_id: int | None, account_id: int | None,
                  address: str | None = None, *,
                  jobs: Mapping[int, FanoutJob] | None = None) -> bytes:
    """The message as forwarded to `account_id` at `address`: its text parts with their
    values (and re-encoded), the job's invitation if it has one, everything else as stored.
    A message no fan-out sent is returned as it is. (Quoted-printable may cut a placeholder
    with a soft line break: the search looks through them.) `jobs`: the messages' jobs
    already read (`jobs_of`), to ask nothing more of the database for a message without;
    `for_batch`'s, to ask nothing more for the recipients either."""
    if message_id is None or account_id is None or (jobs is not None and message_id not in jobs):
        return data
    marked = _MARK.encode() in data.replace(b"=\r\n", b"").replace(b"=\n", b"")
    if not (marked or address):
        return data
    job = jobs.get(message_id) if jobs is not None else _job(message_id)
    if job is None:
        return data
    invitation = job.forward_invitation if address else None
    if not marked and not invitation:
        return data
    message = message_from_bytes(data, policy=policy.default)
    parts = [part for part in message.walk()
             if part.get_content_maintype() == "text" and not part.is_attachment()]
    wanted = set().union(*(wanted_in(part.get_content()) for part in parts))
    batch = jobs if isinstance(jobs, Batch) else Batch()
    found = values(message_id, account_id, wanted, job, batch=batch) if wanted else {}
    if not found and not invitation:
        return data
    for part in parts:
        content = part.get_content()
        if _MARK in content:
            part.set_content(apply(content, found), subtype=part.get_content_subtype(),
                             cte="quoted-printable")
    if invitation:
        _invite(message, invitation, {**found, **_attendee(batch.name(account_id), address)})
    return message.as_bytes(policy=policy.default.clone(linesep="\r\n"))


def _attendee(name: str | None, address: str) -> dict[str, str]:
    # a quoted iCalendar parameter value cannot hold a double quote (RFC 5545 §3.2)
    return {"destinataire": address,
            "nom": name.replace('"', "'") if name is not None else address}


def _invite(message: EmailMessage, template: str, found: dict[str, str]) -> None:
    """Add the invitation, made out to this recipient, the way mail clients expect it."""
    data = fold(apply(unfold(template), found))
    method = re.search(r"^METHOD:(\w+)", data, re.M)
    params = {"method": method[1] if method else "REQUEST", "charset": "UTF-8"}
    if message.get_content_type() == "text/plain":
        message.add_alternative(data.encode(), maintype="text", subtype="calendar",
                                params=params)
    else:
        message.add_attachment(data.encode(), maintype="text", subtype="calendar",
                               params=params, disposition="inline")
    message.add_attachment(data.encode(), maintype="application", subtype="ics",
                           filename="invite.ics")


def unfold(text: str) -> str:
    """iCalendar lines as one line each (RFC 5545 §3.1): a placeholder may have been cut."""
    return re.sub(r"\r?\n[ \t]", "", text)


def fold(text: str) -> str:
    """Lines of at most 75 octets, continued after CRLF + space, never inside a character."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        while len(line.encode()) > 75:
            cut = 75
            while len(line[:cut].encode()) > 75:
                cut -= 1
            out.append(line[:cut])
            line = " " + line[cut:]
        out.append(line)
    return "\r\n".join(out)
