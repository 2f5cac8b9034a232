"""Per-recipient parts of a message that is stored once.

A message written for many (mailgate/fanout.py) is stored once, whatever the number of its
recipients. Where its text says `[[preau:lien]]`, each recipient reads a link of their own:
the job's `link_template` with a token signing (job, recipient), so that one click — without
logging in — says who confirmed having read it. The worker puts the values into the forward
it sends (`forward_bytes`), the messagerie into the text it shows (`text_for`).

This is the one hook for per-recipient text: the merge fields of messages to many
([[preau:prenom]], [[preau:nom]]… written by mailgate/automations/merge.py) are more names in
`values`, read from directory/merge_fields.py only when the text holds one. A placeholder
with no value is left as written.
"""
from __future__ import annotations

import re
from email import message_from_bytes, policy

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from directory.db import db

LINK = "[[preau:lien]]"
_MARK = "[[preau:"
_PLACEHOLDER = re.compile(r"\[\[preau:([a-z_]+)\]\]")
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


def values(message_id: int, account_id: int,
           wanted: frozenset[str] | set[str] = frozenset({"lien"})) -> dict[str, str]:
    """What the placeholders `wanted` of `message_id` say for `account_id`."""
    from directory.merge_fields import values as field_values

    from .fanout_models import FanoutJob

    job = db.session.scalar(select(FanoutJob).where(FanoutJob.message_id == message_id)
                            .order_by(FanoutJob.id).limit(1))
    if job is None:
        return {}
    found = field_values(account_id) if wanted - {"lien"} else {}
    if job.link_template:
        found["lien"] = job.link_template.replace("{token}",
                                                  token(job.ack_job_id, account_id))
    return found


def wanted_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def apply(text: str, found: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: found.get(match[1], match[0]), text)


def text_for(text: str, message_id: int, account_id: int) -> str:
    """The message's text as `account_id` reads it in the messagerie."""
    if _MARK not in text:
        return text
    return apply(text, values(message_id, account_id, wanted_in(text)))


def forward_bytes(data: bytes, message_id: int | None, account_id: int | None) -> bytes:
    """The message as forwarded to `account_id`: its text parts with their values (and
    re-encoded), everything else as stored. Messages without a placeholder — nearly all —
    are returned as they are, without a query. (Quoted-printable may cut a placeholder with
    a soft line break: the search looks through them.)"""
    if message_id is None or account_id is None or \
            _MARK.encode() not in data.replace(b"=\r\n", b"").replace(b"=\n", b""):
        return data
    message = message_from_bytes(data, policy=policy.default)
    parts = [part for part in message.walk()
             if part.get_content_maintype() == "text" and not part.is_attachment()]
    wanted = set().union(*(wanted_in(part.get_content()) for part in parts))
    found = values(message_id, account_id, wanted) if wanted else {}
    if not found:
        return data
    for part in parts:
        content = part.get_content()
        if _MARK in content:
            part.set_content(apply(content, found), subtype=part.get_content_subtype(),
                             cte="quoted-printable")
    return message.as_bytes(policy=policy.default.clone(linesep="\r\n"))
