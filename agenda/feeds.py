"""Private subscription URLs (SPEC §7): one per member and agenda, or for "Mon agenda" (every
agenda they read). The URL carries a random token; only its SHA-256 is stored, so a copy of
the database gives no feed away (`new_token` and `digest`: the rule of every private feed,
the rubrics' Atom feeds too), and the URL is shown once, when it is made. Revoking a token
(or making a new one, which revokes the old) makes its URL answer 404 at once. A feed shows
what its member may read *now*: leaving a group empties it of that group's events.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import or_, select, update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account

from .models import Agenda, FeedToken


def digest(token: str) -> str:
    """What is stored of a feed's token, and looked up when its URL is opened."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A new feed token (43 characters, for its URL, shown once) and its digest (stored)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def create(account: Account, agenda: Agenda | None) -> str:
    """A new token for (account, agenda), revoking the previous one; returns the token,
    shown once. The caller commits."""
    revoke(account, agenda)
    token, stored = new_token()
    db.session.add(FeedToken(account_id=account.id, agenda_id=agenda.id if agenda else None,
                             token_sha256=stored))
    return token


def revoke(account: Account, agenda: Agenda | None) -> int:
    agenda_id = agenda.id if agenda else None
    result = db.session.execute(
        update(FeedToken).where(FeedToken.account_id == account.id,
                                FeedToken.agenda_id.is_(None) if agenda_id is None
                                else FeedToken.agenda_id == agenda_id,
                                FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount


def active(account: Account, agenda: Agenda | None) -> FeedToken | None:
    agenda_id = agenda.id if agenda else None
    return db.session.scalar(select(FeedToken).where(
        FeedToken.account_id == account.id, FeedToken.revoked_at.is_(None),
        FeedToken.agenda_id.is_(None) if agenda_id is None else FeedToken.agenda_id == agenda_id))


def active_by_group(account: Account, group_ids: list[int]) -> dict[int | None, FeedToken]:
    """The member's live tokens for "Mon agenda" (key None) and the agendas of `group_ids`,
    in one query whatever their number (the page listing them)."""
    rows = db.session.execute(
        select(Agenda.group_id, FeedToken)
        .outerjoin(Agenda, Agenda.id == FeedToken.agenda_id)
        .where(FeedToken.account_id == account.id, FeedToken.revoked_at.is_(None),
               or_(FeedToken.agenda_id.is_(None), Agenda.group_id.in_(group_ids)))
        .order_by(FeedToken.id))
    return {group_id: token for group_id, token in rows}


def resolve(token: str) -> tuple[Account, Agenda | None] | None:
    """The member and agenda of a live token, or None (unknown, revoked, suspended)."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(select(FeedToken).where(FeedToken.token_sha256 == digest(token),
                                                    FeedToken.revoked_at.is_(None)))
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    if account is None or account.suspended:
        return None
    return account, db.session.get(Agenda, row.agenda_id) if row.agenda_id else None
