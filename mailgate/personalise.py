"""Per-recipient parts of a message that is stored once.

A message written for many (mailgate/fanout.py) is stored once, whatever the number of its
recipients. Where its text says `[[preau:lien]]`, each recipient reads a link of their own:
the job's `link_template` with a token signing (job, recipient), so that one click — without
logging in — says who confirmed having read it. The worker puts the values into the forward
it sends (`forward_bytes`), the messagerie into the text it shows (`text_for`).

This is the one hook for per-recipient text: mail-merge fields ({prenom}, {nom}…) are more
names in `values`, nothing else changes. A placeholder with no value is left as written.
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


def values(message_id: int, account_id: int) -> dict[str, str]:
    """What the placeholders of `message_id` say for `account_id`."""
    from .fanout_models import FanoutJob

    job = db.session.scalar(select(FanoutJob).where(FanoutJob.message_id == message_id)
                            .order_by(FanoutJob.id).limit(1))
    if job is None or not job.link_template:
        return {}
    return {"lien": job.link_template.replace("{token}", token(job.ack_job_id, account_id))}


def apply(text: str, found: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: found.get(match[1], match[0]), text)


def text_for(text: str, message_id: int, account_id: int) -> str:
    """The message's text as `account_id` reads it in the messagerie."""
    if _MARK not in text:
        return text
    return apply(text, values(message_id, account_id))


def forward_bytes(data: bytes, message_id: int | None, account_id: int | None) -> bytes:
    """The message as forwarded to `account_id`: its text parts with their values (and
    re-encoded), everything else as stored. Messages without a placeholder — nearly all —
    are returned as they are, without a query."""
    if message_id is None or account_id is None or _MARK.encode() not in data:
        return data
    found = values(message_id, account_id)
    if not found:
        return data
    message = message_from_bytes(data, policy=policy.default)
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        content = part.get_content()
        if _MARK in content:
            part.set_content(apply(content, found), subtype=part.get_content_subtype(),
                             cte="quoted-printable")
    return message.as_bytes(policy=policy.default.clone(linesep="\r\n"))
