"""Who reads and who writes an agenda (SPEC §7), in one place.

- A group's agenda is read by the people of the group's space: its members, and the parents
  of its pupils (a class's outings concern the families).
- It is written by the group's managers; for a class or an institutional group, also by the
  teachers and staff who are its members (they teach it; nobody "manages" an imported
  class); and by administrators.
- A rubric's agenda is read by who reads the rubric and written by who manages it
  (directory/rubrics.py decides both).
- A draft is seen by its author alone; everything else of an agenda by all its readers.
Every rule is a SQL condition, so "Mon agenda", the home page and the notice's recipients are
one query whatever the number of accounts. An agenda or event the viewer may not see is
simply not found (None), and the page answers 404.
"""
from __future__ import annotations

from sqlalchemy import Select, and_, exists, or_, select, union
from sqlalchemy.exc import IntegrityError

from directory import rubrics
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.groups import manager_membership
from directory.models import Account, Group, GroupMember, ParentLink
from directory.rights import active_child
from directory.rubric_models import Rubric
from directory.search import id_from, valid_id

from .models import Agenda, Event, EventStatus

WRITING_PROFILES = (Profile.TEACHER, Profile.STAFF)


def readable_group_ids(account: Account) -> Select:
    """Ids of the groups whose agenda `account` reads."""
    own = select(GroupMember.group_id).where(GroupMember.account_id == account.id)
    children = (select(GroupMember.group_id)
                .join(ParentLink, ParentLink.child_id == GroupMember.account_id)
                .where(ParentLink.parent_id == account.id, active_child(ParentLink.child_id)))
    return select(union(own, children).subquery().c.group_id)


def readable_agenda_ids(account: Account) -> list[int]:
    """Ids of the agendas of "Mon agenda", the home page and the private feed, in one query:
    the agendas of her groups and her children's, and of the rubrics she reads as lists show
    them (`rubrics.listed`). An administrator reads every agenda (`may_read`), but hers here
    are those of her own spaces: her groups' and her own schools' rubrics, as "Mes
    rubriques" lists them; another school's events never fill her month."""
    groups = readable_group_ids(account).correlate(None)
    read = select(Rubric.id).where(rubrics.listed(account, rubrics.reads_condition(account)))
    return list(db.session.scalars(union(
        select(Agenda.id).where(Agenda.group_id.in_(groups)),
        select(Agenda.id).where(Agenda.rubric_id.in_(read.correlate(None))))))


def readable_agendas(account: Account) -> object:
    """SQL condition on a query of events joined to their Agenda: the event is in one of
    `readable_agenda_ids`.
    The ids come first, so the events are read through ix_agenda_event_agenda_range, one
    range per agenda, whatever the region holds (as one OR of IN and a correlated EXISTS,
    PostgreSQL read every event of the range, of every school)."""
    ids = readable_agenda_ids(account)
    # on both sides of the join (every caller joins Agenda), so the agendas come by their key
    return and_(Event.agenda_id.in_(ids), Agenda.id.in_(ids))


def readers(agenda: Agenda) -> Select:
    """Ids of every account that reads `agenda` (the notice's recipients)."""
    if agenda.rubric_id is not None:
        return rubrics.readers(agenda.rubric_id)
    members = select(GroupMember.account_id).where(GroupMember.group_id == agenda.group_id)
    parents = (select(ParentLink.parent_id)
               .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
               .where(GroupMember.group_id == agenda.group_id, active_child(ParentLink.child_id)))
    return select(union(members, parents).subquery().c.account_id)


def may_read(account: Account, agenda: Agenda) -> bool:
    if account.is_admin:
        return True
    if agenda.rubric_id is not None:
        return rubrics.visible_rubric(account, agenda.rubric_id) is not None
    return bool(db.session.scalar(
        select(exists().where(readable_group_ids(account).subquery().c.group_id
                              == agenda.group_id))))


def may_write(account: Account, agenda: Agenda) -> bool:
    if account.is_admin:
        return True
    if agenda.rubric_id is not None:
        return rubrics.managed_rubric(account, agenda.rubric_id) is not None
    return bool(db.session.scalar(select(exists().where(_writer(account, agenda.group_id)))))


def _writer(account: Account, group_id) -> object:
    """SQL: `account` writes the agenda of group `group_id`."""
    institutional = account.profile in WRITING_PROFILES
    return and_(GroupMember.group_id == group_id, GroupMember.account_id == account.id,
                or_(manager_membership(account),
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


def _rubrics_of(account: Account, condition) -> list[Rubric]:
    """Rubrics meeting `condition`, by name, as lists show them (`rubrics.listed`)."""
    return list(db.session.scalars(select(Rubric).where(rubrics.listed(account, condition))
                                   .order_by(Rubric.name, Rubric.id)))


def readable_rubrics(account: Account) -> list[Rubric]:
    return _rubrics_of(account, rubrics.reads_condition(account))


def writable_rubrics(account: Account) -> list[Rubric]:
    """Rubrics in whose agenda `account` may add events (the form's choices)."""
    return _rubrics_of(account, rubrics.manages_condition(account))


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


def agenda_of_rubric(account: Account, rubric_id: int, *,
                     create: bool = True) -> Agenda | None:
    """The agenda of rubric `rubric_id` if `account` reads the rubric (made on first use)."""
    rubric = rubrics.visible_rubric(account, rubric_id)
    if rubric is None:
        return None
    agenda = db.session.scalar(select(Agenda).where(Agenda.rubric_id == rubric.id))
    if agenda is None and create:
        agenda = ensure_agenda(rubric)
    return agenda


def agenda_of_key(account: Account, key: str) -> Agenda | None:
    """The agenda the event form names by `Agenda.key` ("12": group, "r5": rubric)."""
    key = (key or "").strip()
    if (group_id := id_from(key)) is not None:
        return agenda_of_group(account, group_id)
    if key[:1] == "r" and (rubric_id := id_from(key[1:])) is not None:
        return agenda_of_rubric(account, rubric_id)
    return None


def ensure_agenda(space: Group | Rubric) -> Agenda:
    """The group's or rubric's agenda, created if missing; two first visits at once make
    one row."""
    column = Agenda.rubric_id if isinstance(space, Rubric) else Agenda.group_id
    agenda = db.session.scalar(select(Agenda).where(column == space.id))
    if agenda is not None:
        return agenda
    try:
        with db.session.begin_nested():
            agenda = Agenda(**{column.key: space.id})
            db.session.add(agenda)
    except IntegrityError:
        agenda = db.session.scalar(select(Agenda).where(column == space.id))
    return agenda


def visible_events(account: Account) -> object:
    """SQL condition on Event: published or cancelled, or a draft of `account`."""
    return or_(Event.status != EventStatus.DRAFT, Event.author_id == account.id)


def visible_event(account: Account, event_id: int) -> Event | None:
    """The event if `account` may see it, else None."""
    if not valid_id(event_id):
        return None
    # An administrator reads every agenda (`may_read`); everyone else, the same agendas as
    # her lists and her feed (one rule: `readable_agendas`).
    query = select(Event).join(Agenda).where(Event.id == event_id, visible_events(account))
    if not account.is_admin:
        query = query.where(readable_agendas(account))
    return db.session.scalar(query)


def writable_event(account: Account, event_id: int) -> Event | None:
    """The event if `account` may change it (a writer of its agenda), else None."""
    event = visible_event(account, event_id)
    if event is None or not may_write(account, event.agenda):
        return None
    return event
