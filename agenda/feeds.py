"""Private subscription URLs (SPEC §7): one per member and agenda, or for "Mon agenda" (every
agenda they read). The URL carries a random token; only its SHA-256 is stored, so a copy of
the database gives no feed away (`new_token` and `digest`: the rule of every private feed,
the rubrics' Atom feeds too), and the URL is shown once, when it is made. Revoking a token
(or making a new one, which revokes the old) makes its URL answer 404 at once. A feed shows
what its member may read *now*: leaving a group empties it of that group's events.

A token keeps the account's session key of when it was made (`of_current_sessions`): whatever
ends every session of the account (a password changed or reset by an administrator,
« Se déconnecter de tous les appareils », a suspension: directory.accounts.end_sessions draws a
new key) ends its private feeds too, the rubrics' included, with nothing to revoke: a feed
address taken with a stolen session dies with that session.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import or_, select, update

from directory.clock import utcnow
from directory.db import db, lock_account
from directory.models import Account

from .models import Agenda, FeedToken


def digest(token: str) -> str:
    """What is stored of a feed's token, and looked up when its URL is opened."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A new feed token (43 characters, for its URL, shown once) and its digest (stored)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def of_current_sessions(account: Account, session_key: str | None) -> bool:
    """Whether a token made under `session_key` still belongs to the account's sessions: the
    key changes whenever they all end (directory.accounts.end_sessions)."""
    return (account.session_key or "") == (session_key or "")


def live_condition(token_model, account: Account):
    """The condition on a token table's rows of `account` made since its sessions last ended."""
    return token_model.session_key.is_(None) if account.session_key is None \
        else token_model.session_key == account.session_key


def create(account: Account, agenda: Agenda | None) -> str:
    """A new token for (account, agenda), revoking the previous one; returns the token,
    shown once. The caller commits. The account is locked first (`lock_account`): the
    button clicked twice at once makes the tokens one after the other, the second revoking
    the first, instead of two live tokens for one agenda."""
    lock_account(account.id)
    revoke(account, agenda)
    token, stored = new_token()
    db.session.add(FeedToken(account_id=account.id, agenda_id=agenda.id if agenda else None,
                             token_sha256=stored, session_key=account.session_key))
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
        live_condition(FeedToken, account),
        FeedToken.agenda_id.is_(None) if agenda_id is None else FeedToken.agenda_id == agenda_id))


def active_by_group(account: Account, group_ids: list[int]) -> dict[int | None, FeedToken]:
    """The member's live tokens for "Mon agenda" (key None) and the agendas of `group_ids`,
    in one query whatever their number (the page listing them)."""
    rows = db.session.execute(
        select(Agenda.group_id, FeedToken)
        .outerjoin(Agenda, Agenda.id == FeedToken.agenda_id)
        .where(FeedToken.account_id == account.id, FeedToken.revoked_at.is_(None),
               live_condition(FeedToken, account),
               or_(FeedToken.agenda_id.is_(None), Agenda.group_id.in_(group_ids)))
        .order_by(FeedToken.id))
    return {group_id: token for group_id, token in rows}


def resolve(token: str) -> tuple[Account, Agenda | None] | None:
    """The member and agenda of a live token, or None (unknown, revoked, suspended, made
    before the member's sessions were last ended)."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(select(FeedToken).where(FeedToken.token_sha256 == digest(token),
                                                    FeedToken.revoked_at.is_(None)))
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    if account is None or account.suspended or not of_current_sessions(account,
                                                                         row.session_key):
        return None
    return account, db.session.get(Agenda, row.agenda_id) if row.agenda_id else None
