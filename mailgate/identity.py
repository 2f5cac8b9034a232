"""Who wrote a message that came by SMTP (SPEC §4): the member whose verified redirect address
is the envelope sender. Several members may share one address (a family's); the one that is
not suspended and was created first is taken, so the choice is stable."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload, selectinload

from directory.db import db
from directory.models import Account


def author_for(sender: str) -> Account | None:
    """The member, detached from the session (usable in another thread), or None."""
    address = sender.strip().strip("<>").strip().lower()
    if not address:
        return None
    return _detached(db.session.scalar(
        _authors().where(*writing_from(address)).order_by(Account.suspended, Account.id).limit(1)))


def writing_from(address: str) -> tuple:
    """The conditions on Account of the members who may write from `address` (any case): it
    is their verified redirect address. One indexed lookup (ix_account_redirect_lower)."""
    return (func.lower(Account.redirect_address) == address.lower(),
            Account.redirect_verified.is_(True))


def author_by_id(account_id: int) -> Account | None:
    """The member as `author_for` gives it, by id (the shared writer, mailgate/shared_writer.py,
    when it no longer has an account a gateway process sent)."""
    return _detached(db.session.scalar(_authors().where(Account.id == account_id)))


def _authors():
    return select(Account).options(selectinload(Account.role_overrides),
                                   lazyload(Account.schools))


def _detached(author: Account | None) -> Account | None:
    if author is not None:
        db.session.expunge(author)
    return author
