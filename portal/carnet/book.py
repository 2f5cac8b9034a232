"""Rules of the personal address book (SPEC §5), callable without a request.

- A contact group belongs to one account; anyone else asking for it gets None (→ 404), so a
  forged request on someone else's group changes nothing.
- Members are people the owner can find in the directory (`directory.search.search_query`):
  the book may hold people the owner cannot write to; pages show the envelope only where
  `directory.rights` allows it. A member the owner can no longer find (gone to another
  school, suspended) stays until removed, shown by name only: the book never tells more of a
  person than the directory would.
- "Ajouter la liste" adds every result of a search, across pages, in one INSERT ... SELECT.
- A form sent twice at once (a double click) adds nobody twice and fails nowhere: members and
  groups are written with `insert_ignoring_duplicates`, and the counts are of the rows really
  written.
- Limits keep a book usable: `MAX_GROUPS` groups per owner, `MAX_MEMBERS` per group.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from flask_babel import gettext, ngettext
from sqlalchemy import exists, func, literal, select
from sqlalchemy.orm import lazyload

from directory.db import db, insert_ignoring_duplicates
from directory.errors import InvalidInput
from directory.models import Account
from directory.naming import fold
from directory.rights import writable_condition
from directory.search import AccountFilters, perimeter_condition, search_query

from .models import NAME_KEY_MAX, NAME_MAX, ContactGroup, ContactMember

MAX_GROUPS = 200
MAX_MEMBERS = 1000
MAX_ID = 2**31 - 1


def name_key(name: str) -> str:
    return " ".join(fold(name).split())


def checked_name(name: str) -> str:
    """A group name as stored, or InvalidInput saying what is wrong with it."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(gettext("Donnez un nom au groupe."))
    if len(name) > NAME_MAX:
        raise InvalidInput(gettext("Le nom du groupe dépasse %(max)d caractères.", max=NAME_MAX))
    if not any(c.isalnum() for c in name):
        raise InvalidInput(gettext("Le nom du groupe doit contenir au moins une lettre ou un "
                                   "chiffre."))
    if len(name_key(name)) > NAME_KEY_MAX:
        raise InvalidInput(gettext("Ce nom de groupe contient trop de caractères composés."))
    return name


# Groups ----------------------------------------------------------------------------------

def owned_group(owner: Account, group_id: int) -> ContactGroup | None:
    return owned_groups(owner, [group_id]).get(group_id)


def owned_groups(owner: Account, group_ids: Sequence[int]) -> dict[int, ContactGroup]:
    """`owned_group` of several ids in one query: id → group, the owner's only."""
    ids = [i for i in group_ids if isinstance(i, int) and 0 < i <= MAX_ID]
    if not ids:
        return {}
    return {group.id: group for group in db.session.scalars(
        select(ContactGroup).where(ContactGroup.id.in_(ids), ContactGroup.owner_id == owner.id))}


def group_named(owner: Account, name: str) -> ContactGroup | None:
    return db.session.scalar(select(ContactGroup).where(ContactGroup.owner_id == owner.id,
                                                        ContactGroup.name_key == name_key(name)))


def groups_query(owner: Account) -> sa.Select:
    """The owner's groups with their member counts, sorted by name."""
    count = (select(func.count()).where(ContactMember.group_id == ContactGroup.id)
             .scalar_subquery())
    return (select(ContactGroup, count.label("members"))
            .where(ContactGroup.owner_id == owner.id)
            .order_by(ContactGroup.name_key, ContactGroup.id))


def group_count(owner: Account) -> int:
    return db.session.scalar(select(func.count()).where(ContactGroup.owner_id == owner.id))


def create_group(owner: Account, name: str) -> ContactGroup:
    """A new empty group; the caller commits."""
    name = checked_name(name)
    _check_room_for_a_group(owner)
    _check_name_free(owner, name)
    group = _new_group(owner, name)
    if group is None:       # the same name, written meanwhile by the form sent twice
        _check_name_free(owner, name)
    return group


def group_called(owner: Account, name: str) -> ContactGroup:
    """The owner's group named `name`, a new one if there is none: where an import puts
    people. The same import confirmed twice at once (a double click) fills one group."""
    name = checked_name(name)
    existing = group_named(owner, name)
    if existing is not None:
        return existing
    _check_room_for_a_group(owner)
    return _new_group(owner, name) or group_named(owner, name)


def _new_group(owner: Account, name: str) -> ContactGroup | None:
    """A new group called `name` (checked), or None when the owner has one of that name
    already, written meanwhile by a request running at the same time."""
    group_id = db.session.scalar(insert_ignoring_duplicates(ContactGroup).values(
        owner_id=owner.id, name=name, name_key=name_key(name)).returning(ContactGroup.id))
    return None if group_id is None else db.session.get(ContactGroup, group_id)


def rename_group(owner: Account, group: ContactGroup, name: str) -> None:
    name = checked_name(name)
    if name_key(name) != group.name_key:
        _check_name_free(owner, name)
    group.name, group.name_key = name, name_key(name)


def delete_group(group: ContactGroup) -> None:
    db.session.execute(sa.delete(ContactMember).where(ContactMember.group_id == group.id))
    db.session.delete(group)


def _check_room_for_a_group(owner: Account) -> None:
    if group_count(owner) >= MAX_GROUPS:
        raise InvalidInput(gettext("Votre carnet compte déjà %(max)d groupes : supprimez-en un "
                                   "avant d'en créer un autre.", max=MAX_GROUPS))


def _check_name_free(owner: Account, name: str) -> None:
    existing = group_named(owner, name)
    if existing is not None:
        raise InvalidInput(gettext("Vous avez déjà un groupe « %(name)s ».", name=existing.name))


# Members ---------------------------------------------------------------------------------

def findable(owner: Account, filters: AccountFilters | None = None) -> sa.Select:
    """The ids of the people `owner` can find, unsorted: for IN (...) and INSERT ... SELECT."""
    return (search_query(owner, filters or AccountFilters())
            .with_only_columns(Account.id, maintain_column_froms=True).order_by(None))


def member_count(group_id: int) -> int:
    return db.session.scalar(select(func.count()).where(ContactMember.group_id == group_id))


def members_query(owner: Account, group: ContactGroup) -> sa.Select:
    """Rows (Account, writable, findable) of a group's members, sorted by last then first
    name; `findable`: the owner may still find them in the directory."""
    return (select(Account, writable_condition(owner).label("writable"),
                   perimeter_condition(owner).label("findable"))
            .join(ContactMember, ContactMember.account_id == Account.id)
            .where(ContactMember.group_id == group.id)
            .order_by(Account.search_name, Account.id)
            .options(lazyload(Account.role_overrides)))


def in_group_condition(group: ContactGroup) -> sa.ColumnElement[bool]:
    """Whether the Account row of a search is already a member of `group`."""
    return exists().where(ContactMember.group_id == group.id,
                          ContactMember.account_id == Account.id)


def add_member(owner: Account, group: ContactGroup, account_id: int) -> tuple[Account, bool]:
    """Add one person the owner can find. Returns (person, whether they were added)."""
    account = db.session.scalar(search_query(owner, AccountFilters())
                                .where(Account.id == account_id)) \
        if 0 < account_id <= MAX_ID else None
    if account is None:
        raise InvalidInput(gettext("Cette personne n'existe pas ou ne fait pas partie de votre "
                                   "annuaire."))
    if db.session.get(ContactMember, (group.id, account.id)) is not None:
        return account, False
    if member_count(group.id) >= MAX_MEMBERS:
        raise InvalidInput(_full(group, 0))
    added = db.session.execute(insert_ignoring_duplicates(ContactMember).values(
        group_id=group.id, account_id=account.id)).rowcount
    return account, added == 1


def add_search_results(owner: Account, group: ContactGroup, filters: AccountFilters) -> int:
    """"Ajouter la liste": every result of the search, across pages, in one statement.
    Returns the number of people added (those already members stay as they are)."""
    if not has_criteria(filters):
        raise InvalidInput(gettext("Précisez au moins un critère de recherche avant d'ajouter "
                                   "la liste."))
    return add_ids(group, findable(owner, filters))


def has_criteria(filters: AccountFilters) -> bool:
    """Whether a search says something: "Ajouter la liste" of no criteria is refused."""
    return bool(filters.name.strip() or filters.profiles or filters.discipline
                or filters.school_ids or filters.group_id is not None)


def add_ids(group: ContactGroup, ids: sa.Select) -> int:
    """Add the accounts of the SELECT `ids` that are not members yet, within MAX_MEMBERS:
    one count and one INSERT ... SELECT, whatever the number of people. Returns how many
    were written: those added meanwhile by another request are neither added nor counted."""
    found = ids.subquery()
    new_members = (select(literal(group.id).label("group_id"), found.c.id.label("account_id"))
                   .where(~exists().where(ContactMember.group_id == group.id,
                                          ContactMember.account_id == found.c.id)))
    room = MAX_MEMBERS - member_count(group.id)
    adding = db.session.scalar(select(func.count()).select_from(
        new_members.limit(room + 1).subquery()))
    if adding > room:
        raise InvalidInput(_full(group, room))
    if not adding:
        return 0
    return db.session.execute(insert_ignoring_duplicates(ContactMember).from_select(
        ["group_id", "account_id"], new_members)).rowcount


def _full(group: ContactGroup, room: int) -> str:
    if room <= 0:
        return gettext("Le groupe « %(name)s » compte déjà %(max)d membres, le maximum d'un "
                       "groupe du carnet.", name=group.name, max=MAX_MEMBERS)
    return ngettext("Le groupe « %(name)s » ne peut plus recevoir que %(num)d personne(s) "
                    "(%(max)d au plus) : la liste en compte davantage. Précisez la recherche.",
                    "Le groupe « %(name)s » ne peut plus recevoir que %(num)d personne(s) "
                    "(%(max)d au plus) : la liste en compte davantage. Précisez la recherche.",
                    room, name=group.name, max=MAX_MEMBERS)


def remove_member(group: ContactGroup, account_id: int) -> Account:
    member = db.session.get(ContactMember, (group.id, account_id)) \
        if 0 < account_id <= MAX_ID else None
    if member is None:
        raise InvalidInput(gettext("Cette personne n'est pas dans ce groupe."))
    db.session.delete(member)
    return db.session.get(Account, account_id)


# For the compose picker -------------------------------------------------------------------

def picker_groups(owner: Account) -> list[tuple[ContactGroup, int]]:
    """(group, member count) of every group of the owner, for the compose picker."""
    return [(row[0], row.members) for row in db.session.execute(groups_query(owner))]


def member_ids(owner: Account, group_id: int) -> list[int]:
    """The account ids of one of the owner's groups; [] for a group that is not theirs."""
    group = owned_group(owner, group_id)
    if group is None:
        return []
    return list(db.session.scalars(select(ContactMember.account_id)
                                   .where(ContactMember.group_id == group.id)))
