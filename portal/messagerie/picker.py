"""What the recipient picker lists besides a directory search (which is the Annuaire's own,
`portal.directory_pages.people_page`): the sender's own classes and groups, and the groups of
their address book, each with the members the sender may write to: one statement for one's own
groups with their members, two for the address book (its groups, then their members), whatever
the number of groups."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from directory.db import db
from directory.driver_reads import KeptStatement, flushed_connection
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, School
from directory.rights import RuleShape, SenderRule, sender_rule
from directory.search import AccountFilters
from directory.sets import Int4

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
    (their ids let the page count recipients as the server does), in one statement.
    `rule`: the viewer's `sender_rule`, when read already."""
    rule = rule or sender_rule(viewer)
    if rule.ties is not None and not rule.ties.own_groups:
        return []       # a restricted sender's rule has read her groups: she has none
    rows = _own_groups_statement(rule.shape).rows(
        flushed_connection(db.session), {**rule.parameters, "viewer": viewer.id})
    groups: dict[int, tuple[OwnGroup, list[int]]] = {}
    for group_id, name, kind, uai, member_id in rows:
        group = groups.get(group_id)
        if group is None:
            group = groups[group_id] = (OwnGroup(group_id, name, kind, uai), [])
        if member_id is not None:
            group[1].append(member_id)
    return [(group, tuple(members)) for group, members in groups.values()]


@lru_cache(maxsize=256)
def _own_groups_statement(shape: RuleShape) -> KeptStatement:
    """The viewer's groups (by kind, then name), each joined with its members the rule lets
    the viewer write to (by name; none: one row whose member is NULL), for one shape of rule
    (its values are parameters: `SenderRule.parameters`). One statement where the groups and
    their members were two: every page of the picker runs it."""
    viewer = bindparam("viewer", type_=Int4())
    writable = recipients.writable_memberships(GroupMember, shape, viewer).subquery()
    mine = aliased(GroupMember)
    return KeptStatement(
        select(Group.id, Group.name, Group.kind, School.uai, writable.c.id.label("member_id"))
        .join(mine, mine.group_id == Group.id)
        .join(School, School.id == Group.school_id)
        .outerjoin(writable, writable.c.group_id == Group.id)
        .where(mine.account_id == viewer)
        .order_by(Group.kind, Group.search_name, Group.id, writable.c.search_name,
                  writable.c.id))


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
