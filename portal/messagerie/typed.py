"""A recipient typed in the compose form — a name or a universal address — with suggestions
as one types: one person is a few letters away instead of a trip through the picker (which
stays for groups).

Only people of the sender's directory perimeter whom the sender may write to are suggested
or accepted; anyone else is « destinataire inconnu », without a name (a typed address must
not tell whether someone exists outside one's perimeter)."""
from __future__ import annotations

import re

from flask_babel import gettext
from sqlalchemy import Select, false, select, union

from directory.db import db
from directory.domain import mail_domain
from directory.errors import InvalidInput
from directory.models import Account
from directory.rights import writable_condition
from directory.search import (
    AccountFilters,
    can_search,
    name_key,
    perimeter_of,
    prefix_condition,
    search_query,
)

MAX_SUGGESTIONS = 8
TEXT_MAX = 200
_ADDRESS = re.compile(r"<?([^\s<>@]+)@([^\s<>@]+)>?\s*$")


def _domain() -> str:
    return mail_domain()


def address_of(account: Account) -> str:
    return f"{account.address}@{_domain()}"


def suggestion_text(account: Account) -> str:
    """What the suggestion list shows and what choosing one puts in the field."""
    return f"{account.full_name} <{address_of(account)}>"


def suggestions(sender: Account, text: str) -> list[Account]:
    """People whose name or universal address begins with `text`, writable by `sender`,
    sorted like the Annuaire; at most MAX_SUGGESTIONS, one bounded query."""
    text = " ".join((text or "").split())[:TEXT_MAX]
    if len(text) < 2 or not can_search(sender):
        return []
    local = _local_part(text)
    if local is False or local == "":   # another domain's address, or only a domain typed
        return []
    if local is None:
        return list(db.session.scalars(_by_name(sender, text)))
    # addresses are written in lower case (directory.naming): the unique index's range
    # (bytewise: migration 0027), where lower(address) read every account at each pause
    query = search_query(sender, AccountFilters()).where(
        prefix_condition(Account.address, local),
        Account.address.startswith(local, autoescape=True), writable_condition(sender))
    return list(db.session.scalars(query.limit(MAX_SUGGESTIONS)))


def _by_name(sender: Account, text: str) -> Select:
    """The first MAX_SUGGESTIONS people whose last or first name begins with `text`, among
    those `sender` may find and write to: the rights apply before the limit (cut first, a
    name many others share hid the few one may write to). A perimeter of listed schools (a
    pupil's: a thousand people) is read from their members; the region's from the names'
    indexes, each name column its own SELECT cut at the limit and only their union sorted,
    as `directory.search.search_page` reads them."""
    key = name_key(text)
    if not key:
        return select(Account).where(false())
    writable = writable_condition(sender)
    if perimeter_of(sender).school_ids is not None:
        return search_query(sender, AccountFilters(name=text), members_first="perimeter") \
            .where(writable).limit(MAX_SUGGESTIONS)
    allowed = search_query(sender, AccountFilters()).where(writable).with_only_columns(
        Account.id, Account.search_name)
    sides = [allowed.where(prefix_condition(column, key)).limit(MAX_SUGGESTIONS).subquery()
             for column in (Account.search_name, Account.search_first)]
    found = union(*(select(side.c.id, side.c.search_name) for side in sides)).subquery()
    return (select(Account).join(found, found.c.id == Account.id)
            .order_by(found.c.search_name, found.c.id).limit(MAX_SUGGESTIONS))


def resolve(sender: Account, text: str) -> Account:
    """The one person `text` names — « Nom <adresse> », an address, or a name matching one
    writable person — or InvalidInput saying what to do."""
    text = " ".join((text or "").split())[:TEXT_MAX]
    if not text:
        raise InvalidInput(gettext("Saisissez un nom ou une adresse."))
    address = _ADDRESS.search(text)
    if address:
        local, domain = address.group(1).lower(), address.group(2).lower()
        found = None
        if domain == _domain() and can_search(sender):
            found = db.session.scalar(search_query(sender, AccountFilters()).where(
                Account.address == local, writable_condition(sender)))
        if found is None:
            raise InvalidInput(gettext("Destinataire inconnu : %(text)s.", text=text))
        return found
    matches = suggestions(sender, text)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InvalidInput(gettext("Aucune personne à qui vous pouvez écrire ne correspond à "
                                   "« %(text)s ».", text=text))
    raise InvalidInput(gettext("Plusieurs personnes correspondent à « %(text)s » : précisez, "
                               "ou choisissez dans les suggestions.", text=text))


def in_perimeter(viewer: Account, account_id: int) -> bool:
    """Whether `viewer` could find this person in the Annuaire: only then may a page name
    them in a refusal."""
    return can_search(viewer) and db.session.scalar(
        search_query(viewer, AccountFilters()).where(Account.id == account_id)
        .with_only_columns(Account.id).limit(1)) is not None


def _local_part(text: str) -> str | None | bool:
    """The beginning of an address when `text` looks like one (has an @ or a dot and no
    space), lower-cased; None for a name; False for an address of another domain."""
    if " " in text or ("@" not in text and "." not in text):
        return None
    local, _, domain = text.lower().partition("@")
    if domain and not _domain().startswith(domain):
        return False
    return local
