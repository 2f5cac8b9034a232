"""Who reads and who writes an agenda (SPEC §7), in one place.

- A group's agenda is read by the people of the group's space: its members, and the parents
  of its pupils (a class's outings concern the families).
- It is written by the group's managers; for a class or an institutional group, also by the
  teachers and staff who are its members (they teach it; nobody "manages" an imported
  class); and by administrators.
- A draft is seen by its author alone; everything else of an agenda by all its readers.
Every rule is a SQL condition, so "Mon agenda", the home page and the notice's recipients are
one query whatever the number of accounts. An agenda or event the viewer may not see is
simply not found (None), and the page answers 404.
"""
from __future__ import annotations

from sqlalchemy import Select, and_, exists, or_, select, union
from sqlalchemy.exc import IntegrityError

from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember, ParentLink
from directory.search import valid_id

from .models import Agenda, Event, EventStatus

WRITING_PROFILES = (Profile.TEACHER, Profile.STAFF)


def readable_group_ids(account: Account) -> Select:
    """Ids of the groups whose agenda `account` reads."""
    own = select(GroupMember.group_id).where(GroupMember.account_id == account.id)
    children = (select(GroupMember.group_id)
                .join(ParentLink, ParentLink.child_id == GroupMember.account_id)
                .where(ParentLink.parent_id == account.id))
    return select(union(own, children).subquery().c.group_id)


def readers(agenda: Agenda) -> Select:
    """Ids of every account that reads `agenda` (the notice's recipients)."""
    members = select(GroupMember.account_id).where(GroupMember.group_id == agenda.group_id)
    parents = (select(ParentLink.parent_id)
               .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
               .where(GroupMember.group_id == agenda.group_id))
    return select(union(members, parents).subquery().c.account_id)


def may_read(account: Account, agenda: Agenda) -> bool:
    return account.is_admin or db.session.scalar(
        select(exists().where(readable_group_ids(account).subquery().c.group_id
                              == agenda.group_id)))


def may_write(account: Account, agenda: Agenda) -> bool:
    if account.is_admin:
        return True
    return bool(db.session.scalar(select(exists().where(_writer(account, agenda.group_id)))))


def _writer(account: Account, group_id) -> object:
    """SQL: `account` writes the agenda of group `group_id`."""
    institutional = account.profile in WRITING_PROFILES
    return and_(GroupMember.group_id == group_id, GroupMember.account_id == account.id,
                or_(GroupMember.is_manager.is_(True),
                    and_(institutional, exists().where(
                        Group.id == GroupMember.group_id, Group.kind != GroupKind.AD_HOC))))


def writable_groups(account: Account) -> list[Group]:
    """Groups in whose agenda `account` may add events, by name (the form's choices)."""
    query = select(Group).order_by(Group.name, Group.id)
    if not account.is_admin:
        query = query.where(exists().where(_writer(account, Group.id)))
    else:
        query = query.where(Group.id.in_(readable_group_ids(account)))
    return list(db.session.scalars(query))


def readable_groups(account: Account) -> list[Group]:
    return list(db.session.scalars(select(Group).where(
        Group.id.in_(readable_group_ids(account))).order_by(Group.name, Group.id)))


def agenda_of_group(account: Account, group_id: int, *, create: bool = True) -> Agenda | None:
    """The agenda of group `group_id` if `account` reads it (made on first use), else None."""
    if not valid_id(group_id):
        return None
    group = db.session.get(Group, group_id)
    if group is None:
        return None
    agenda = db.session.scalar(select(Agenda).where(Agenda.group_id == group_id))
    probe = agenda or Agenda(group_id=group_id)
    if not may_read(account, probe):
        return None
    if agenda is None and create:
        agenda = ensure_agenda(group)
    return agenda


def ensure_agenda(group: Group) -> Agenda:
    """The group's agenda, created if missing; two first visits at once make one row."""
    agenda = db.session.scalar(select(Agenda).where(Agenda.group_id == group.id))
    if agenda is not None:
        return agenda
    try:
        with db.session.begin_nested():
            agenda = Agenda(group_id=group.id)
            db.session.add(agenda)
    except IntegrityError:
        agenda = db.session.scalar(select(Agenda).where(Agenda.group_id == group.id))
    return agenda


def visible_events(account: Account) -> object:
    """SQL condition on Event: published or cancelled, or a draft of `account`."""
    return or_(Event.status != EventStatus.DRAFT, Event.author_id == account.id)


def visible_event(account: Account, event_id: int) -> Event | None:
    """The event if `account` may see it, else None."""
    if not valid_id(event_id):
        return None
    query = select(Event).join(Agenda).where(Event.id == event_id, visible_events(account))
    if not account.is_admin:
        query = query.where(Agenda.group_id.in_(readable_group_ids(account)))
    return db.session.scalar(query)


def writable_event(account: Account, event_id: int) -> Event | None:
    """The event if `account` may change it (a writer of its agenda), else None."""
    event = visible_event(account, event_id)
    if event is None or not may_write(account, event.agenda):
        return None
    return event
