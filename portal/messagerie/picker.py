"""What the recipient picker lists besides a directory search (which is the Annuaire's own,
`portal.directory_pages.people_page`): the sender's own classes and groups, and the groups of
their address book, each with the members the sender may write to: one statement for one's own
groups with how many they may write to, two for the address book (its groups, then their
members), whatever the number of groups."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, case, func, literal_column, select
from sqlalchemy.orm import aliased

from directory.db import db
from directory.driver_reads import KeptStatement, flushed_connection
from directory.enums import GroupKind
from directory.errors import Reason
from directory.models import Account, Group, GroupMember, School
from directory.rights import RuleShape, SenderRule, sender_rule
from directory.search import AccountFilters
from directory.sets import Int4, ids_text
from mailgate.routing import MAX_RECIPIENTS, group_over_limit

from ..carnet import book
from ..carnet.models import ContactMember
from . import recipients


class OwnGroup(NamedTuple):
    id: int
    name: str
    kind: GroupKind
    uai: str        # its school's


class OwnGroupRow(NamedTuple):
    group: OwnGroup
    count: int                      # the members the viewer may write to
    ids: tuple[int, ...] | None     # their ids; None above MAX_RECIPIENTS
    too_big: Reason | None          # why it cannot be added whole (routing.group_over_limit)


def own_groups(viewer: Account, rule: SenderRule | None = None) -> list[OwnGroupRow]:
    """The classes and groups the viewer belongs to, each with how many members they may
    write to and, when a message could hold them all (MAX_RECIPIENTS), their ids: they let the
    page count recipients as the server does. One statement, a row per group: a member of a
    thousand-member group is not sent a thousand rows with every page of the picker.
    `rule`: the viewer's `sender_rule`, when read already."""
    rule = rule or sender_rule(viewer)
    if rule.ties is not None and not rule.ties.own_groups:
        return []       # a restricted sender's rule has read her groups: she has none
    rows = _own_groups_statement(rule.shape).rows(
        flushed_connection(db.session), {**rule.parameters, "viewer": viewer.id})
    return [OwnGroupRow(OwnGroup(group_id, name, kind, uai), count,
                        tuple(int(i) for i in ids.split()) if ids else
                        (None if count > MAX_RECIPIENTS else ()), group_over_limit(count))
            for group_id, name, kind, uai, count, ids in rows]


@lru_cache(maxsize=256)
def _own_groups_statement(shape: RuleShape) -> KeptStatement:
    """The viewer's groups (by kind, then name), each with the number of its members the rule
    lets the viewer write to and their ids (at most MAX_RECIPIENTS of them, else NULL), for
    one shape of rule (its values are parameters: `SenderRule.parameters`)."""
    viewer = bindparam("viewer", type_=Int4())
    writable = recipients.writable_memberships(GroupMember, shape, viewer).subquery()
    mine = aliased(GroupMember)
    count = func.count(writable.c.id)
    ids = case((count <= literal_column(str(MAX_RECIPIENTS)), ids_text(writable.c.id)))
    return KeptStatement(
        select(Group.id, Group.name, Group.kind, School.uai, count.label("members"),
               ids.label("member_ids"))
        .join(mine, mine.group_id == Group.id)
        .join(School, School.id == Group.school_id)
        .outerjoin(writable, writable.c.group_id == Group.id)
        .where(mine.account_id == viewer)
        .group_by(Group.id, Group.name, Group.kind, Group.search_name, School.uai)
        .order_by(Group.kind, Group.search_name, Group.id))


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
