"""What the recipient picker lists besides a directory search (which is the Annuaire's own,
`portal.directory_pages.people_page`): the sender's own classes and groups, and the groups of
their address book, each with the number of members the sender may write to — one grouped
query per list, whatever the number of groups."""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Integer, bindparam, select

from directory.db import db
from directory.driver_reads import kept_per_database
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, School
from directory.rights import SenderRule
from directory.search import AccountFilters

from ..carnet import book
from ..carnet.models import ContactMember
from . import recipients


class OwnGroup(NamedTuple):
    id: int
    name: str
    kind: GroupKind
    uai: str        # its school's


def own_groups(viewer: Account, rule: SenderRule | None = None
               ) -> list[tuple[OwnGroup, tuple[int, ...]]]:
    """The classes and groups the viewer belongs to, with the members they may write to
    (their ids let the page count recipients as the server does). `rule`: the viewer's
    `sender_rule`, when read already."""
    connection = db.session.connection()
    groups = [OwnGroup(*row) for row in _own_groups_read(connection.dialect).rows(
        connection, {"viewer": viewer.id})]
    members = recipients.writable_members_by_group(viewer, GroupMember, [g.id for g in groups],
                                                   rule)
    return [(g, members.get(g.id, ())) for g in groups]


def _own_groups_statement():
    return (select(Group.id, Group.name, Group.kind, School.uai)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .join(School, School.id == Group.school_id)
            .where(GroupMember.account_id == bindparam("viewer", type_=Integer))
            .order_by(Group.kind, Group.search_name))


# Compiled once per database and run on the driver's cursor (directory/driver_reads.py): every
# search of the picker lists them, and building the statement cost more than running it (most
# accounts belong to a handful of groups, many to none).
_own_groups_read = kept_per_database(_own_groups_statement)


def contact_groups(viewer: Account) -> list[tuple[object, int, tuple[int, ...]]]:
    """(contact group, members, members one may write to) of the viewer's address book."""
    groups = book.picker_groups(viewer)
    members = recipients.writable_members_by_group(viewer, ContactMember,
                                                   [g.id for g, _ in groups])
    return [(g, count, members.get(g.id, ())) for g, count in groups]


def group_only(filters: AccountFilters) -> bool:
    """A search that is exactly "the members of one group": its list can be added as the
    group itself ("Ajouter la liste")."""
    return filters.group_id is not None and not (
        filters.name.strip() or filters.profiles or filters.discipline or filters.school_ids)
