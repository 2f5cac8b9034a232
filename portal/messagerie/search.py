"""Searching one's own messages: subject, sender's name, recipients (To and Cc, never Bcc)
and text (SPEC §3) — never a sender's address, which may be a member's redirect address.

The searched text is folded by mailgate.models.search_key, the function that filled each
message's `search_text`, so the search ignores case, accents ("eleve" finds "Élève") and line
breaks, and is a containment test, with no function applied per row:
- PostgreSQL: `search_text LIKE '%…%'`, with, for each searched word, `search_words LIKE
  '%word%'`, which the GIN trigram index on the message's distinct words (migration 0020)
  serves. The planner starts from that index when the text is rare and from the account's
  items when it is common. A text without three letters or digits in a row has no trigram
  to look up: `strpos` then, which no index serves, so that the account's items are read
  rather than the whole index.
- SQLite: `instr`, over the account's messages.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy import func, select

from directory.db import db, dialect_name
from directory.errors import InvalidInput
from directory.models import Account
from mailgate.models import MailboxItem, MailFolder, MailMessage, search_key

from .listing import PER_PAGE, Listing, list_columns, with_message

MAX_SEARCH = 100
# Three letters or digits in a row: a trigram the index can look up.
_HAS_TRIGRAM = re.compile(r"[^\W_]{3}")


def _like(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching(key: str) -> sa.ColumnElement[bool]:
    """Messages whose subject, sender, recipients (To, Cc) or text (folded) contain `key`
    (folded)."""
    postgresql = dialect_name() == "postgresql"
    if postgresql and _HAS_TRIGRAM.search(key):
        # A text that contains `key` has each of key's words within one of its words: the
        # index on the distinct words finds those candidates, the whole text decides.
        candidates = [MailMessage.search_words.like(_like(word)) for word in key.split()
                      if _HAS_TRIGRAM.search(word)]
        return sa.and_(*candidates, MailMessage.search_text.like(_like(key)))
    position = func.strpos if postgresql else func.instr
    return position(MailMessage.search_text, key) > 0


def search(account: Account, text: str, number: int, folder: MailFolder | None = None
           ) -> Listing:
    """The account's own messages that contain `text`, newest first, across every folder or
    within one."""
    if len(" ".join((text or "").split())) > MAX_SEARCH:
        raise InvalidInput(gettext("Le texte cherché dépasse %(max)d caractères.",
                                   max=MAX_SEARCH))
    key = search_key(text or "")
    if not key:
        raise InvalidInput(gettext("Saisissez le texte à chercher."))
    where = [MailboxItem.account_id == account.id, matching(key)]
    if folder is not None:
        where.append(MailboxItem.folder_id == folder.id)
    newest = [MailboxItem.received_at.desc(), MailboxItem.id.desc()]
    # The matches are found and counted on narrow rows; only the page's 50 are joined for
    # what the list shows.
    found = (select(MailboxItem.id, func.count().over().label("total"))
             .join(MailMessage, MailMessage.id == MailboxItem.message_id).where(*where)
             .order_by(*newest).limit(PER_PAGE).offset((number - 1) * PER_PAGE).subquery())
    rows = db.session.execute(with_message(select(*list_columns(), found.c.total))
                              .join(found, found.c.id == MailboxItem.id)
                              .order_by(*newest)).all()
    total = rows[0].total if rows else 0
    if not rows and number > 1:
        total = db.session.scalar(
            select(func.count()).select_from(MailboxItem)
            .join(MailMessage, MailMessage.id == MailboxItem.message_id).where(*where))
    return Listing(rows, total, number)
