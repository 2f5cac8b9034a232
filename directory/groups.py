"""Ad hoc groups (SPEC §1): created by a "Gestionnaire annuaire", changed only by their
managers and by administrators.

Rules kept here:
- a manager is always a member; a member cannot be removed while manager; a group keeps at
  least one manager, even when two of them demote each other at once;
- a manager must hold the "Gestionnaire annuaire" role (or be an administrator): managing a
  group gives the power to add people of one's perimeter to it. That holds when they act,
  not only when they are named: someone whose role an administrator or an import has taken
  away since manages nothing any more (their groups, and those groups' rubrics), though
  their row still says manager. The rule is `can_manage_groups`, and in SQL
  `manager_membership` / `manager_memberships`;
- people are added only from within the editor's search perimeter (`search.search_query`),
  one by one or the whole result of a search in one INSERT … SELECT, skipping who is a
  member already, even one added meanwhile by the same form sent twice (a double click);
- they are people of the group's school (an administrator adds anyone): being members
  gives pupils the right to write to each other (SPEC §2), and that right keeps to one's
  school (directory/rights.py counts on it);
- a group has at most MAX_MEMBERS members: « Ajouter la liste » of a search that forgot a
  criterion must not put a whole region into it;
- a group's school is one of the editor's schools (any school for an administrator); it
  moves to another only when all its members belong to that school too, as they would to be
  added there (an administrator, who adds anyone, moves it anyway);
- what counts or checks the members before changing them (the MAX_MEMBERS cap, the group's
  school, a move) first locks the group's row (`_locked_school`): two « Ajouter la liste » at
  once are counted one after the other, and a group deleted meanwhile is a refusal;
- names are unique per school among ad hoc groups, even for the form sent twice at once.
A group the viewer does not manage is simply not found (`managed_group` answers None), so a
forged request on someone else's group changes nothing and answers 404.

Refusals are `directory.wording` codes, but for `GroupFull` and `OtherSchool`, whose words
(a plural, a school's name) the view writes.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import and_, delete, exists, false, func, literal, or_, select, true, update

from .accounts import access_end_refused, name_refusal
from .db import db, insert_ignoring_duplicates
from .enums import GroupKind, Role
from .errors import InvalidInput
from .models import Account, AccountSchool, Group, GroupMember, School
from .naming import search_key
from .roles import effective_roles, role_condition
from .search import AccountFilters, ids_of, perimeter_condition, search_query, valid_id
from .wording import Reason

NAME_MAX = 120
DESCRIPTION_MAX = 2000
MAX_MEMBERS = 1000


class GroupFull(InvalidInput):
    """Adding would take `group` past MAX_MEMBERS; `room`: how many it may still take."""

    def __init__(self, group: Group, room: int):
        super().__init__(f"group {group.id} is full: room for {room} of {MAX_MEMBERS}")
        self.group, self.room = group, max(room, 0)


class OtherSchool(InvalidInput):
    """`person` does not belong to `school`, the group's."""

    def __init__(self, school: School, person: Account):
        super().__init__(f"account {person.id} is not of school {school.uai}")
        self.school, self.person = school, person


def can_manage_groups(account: Account) -> bool:
    return account.is_admin or Role.DIRECTORY_MANAGER in effective_roles(account)


def manager_membership(account: Account) -> sa.ColumnElement[bool]:
    """SQL over `account`'s own GroupMember rows: those that make them a manager now (the
    row says so and they may still manage groups)."""
    return GroupMember.is_manager.is_(True) if can_manage_groups(account) else false()


def manager_memberships(account=Account) -> sa.ColumnElement[bool]:
    """SQL over GroupMember rows joined to their member `account` (the Account entity or an
    alias): `manager_membership` of each, for statements about many accounts at once."""
    return and_(GroupMember.is_manager.is_(True),
                or_(account.is_admin.is_(True),
                    role_condition(Role.DIRECTORY_MANAGER, account)))


def managed_group(editor: Account, group_id: int) -> Group | None:
    """The ad hoc group `group_id` if `editor` may change it, else None."""
    if not valid_id(group_id):
        return None
    query = select(Group).where(Group.id == group_id, Group.kind == GroupKind.AD_HOC)
    if not editor.is_admin:
        query = query.where(exists().where(GroupMember.group_id == Group.id,
                                           GroupMember.account_id == editor.id,
                                           manager_membership(editor)))
    return db.session.scalar(query)


def is_manager_of(account: Account, group: Group) -> bool:
    return bool(db.session.scalar(select(exists().where(
        GroupMember.group_id == group.id, GroupMember.account_id == account.id,
        manager_membership(account)))))


def school_choices(editor: Account) -> list[School]:
    if editor.is_admin:
        return list(db.session.scalars(select(School).order_by(School.name, School.uai)))
    return list(editor.schools)


def create_group(creator: Account, *, name: str, description: str, school_id: int,
                 persistent: bool, co_managers: Sequence[Account] = ()) -> Group:
    """A new ad hoc group managed by its creator (and `co_managers`); the caller commits."""
    if not can_manage_groups(creator):
        raise InvalidInput.of("group_creator_only")
    name, description = _checked_text(name, description)
    school = _checked_school(creator, school_id)
    _check_name_free(school.id, name)
    for manager in co_managers:
        _check_may_manage(creator, manager)
        _check_of_school(creator, school, manager)
    group_id = db.session.scalar(insert_ignoring_duplicates(Group).values(
        kind=GroupKind.AD_HOC, name=name, search_name=search_key("", name)[0],
        description=description, school_id=school.id, persistent=persistent)
        .returning(Group.id))
    if group_id is None:        # the same name, written meanwhile by the form sent twice
        _check_name_free(school.id, name)
    group = db.session.get(Group, group_id)
    for manager in {creator.id: creator, **{m.id: m for m in co_managers}}.values():
        db.session.add(GroupMember(group_id=group.id, account_id=manager.id, is_manager=True))
    return group


def update_group(editor: Account, group: Group, *, name: str, description: str,
                 school_id: int, persistent: bool) -> None:
    name, description = _checked_text(name, description)
    school = group.school if school_id == group.school_id else _checked_school(editor, school_id)
    if school.id != group.school_id:
        _locked_school(group)
        if not editor.is_admin and db.session.scalar(select(exists().where(
                GroupMember.group_id == group.id, GroupMember.account_id == Account.id,
                ~_of_school(editor, school.id)))):
            raise InvalidInput.of("group_members_other_school", school=school.name)
    if (name, school.id) != (group.name, group.school_id):
        _check_name_free(school.id, name, but=group.id)
    group.name, group.search_name = name, search_key("", name)[0]
    group.description, group.school_id, group.persistent = description, school.id, persistent


def delete_group(group: Group) -> None:
    db.session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    db.session.delete(group)


def add_member(editor: Account, group: Group, account_id: int) -> tuple[Account, bool]:
    """Add one person found in the editor's directory; nothing happens if already a member.
    Returns (person, whether they were added)."""
    account = db.session.scalar(select(Account).where(Account.id == account_id,
                                                      perimeter_condition(editor)))
    if account is None:
        raise InvalidInput.of("person_outside_directory")
    if _is_member(group.id, account.id):
        return account, False
    school_id = _locked_school(group)
    _check_of_school(editor, db.session.get(School, school_id), account)
    if db.session.scalar(select(_counted(_members(group)))) >= MAX_MEMBERS:
        raise GroupFull(group, 0)
    added = db.session.execute(insert_ignoring_duplicates(GroupMember).values(
        group_id=group.id, account_id=account.id, is_manager=False)).rowcount
    return account, added == 1


def _newcomers(editor: Account, group: Group, school_id: int,
               filters: AccountFilters) -> sa.Select:
    """The search's results `editor` may add to `group` (of `school_id`) that are not members
    yet: what « Ajouter la liste » adds, and what its button counts (`addable_count`)."""
    found = ids_of(search_query(editor, filters).where(
        _of_school(editor, school_id))).subquery()
    return (select(literal(group.id), found.c.id, false())
            .where(~exists().where(GroupMember.group_id == group.id,
                                   GroupMember.account_id == found.c.id)))


def addable_count(editor: Account, group: Group, filters: AccountFilters) -> int:
    """How many people « Ajouter la liste » would add now, counted no further than
    MAX_MEMBERS + 1 (one query): the search may find people of other schools, or members
    already, whom it leaves out."""
    return db.session.scalar(select(_counted(_newcomers(editor, group, group.school_id,
                                                        filters))))


def add_search_results(editor: Account, group: Group, filters: AccountFilters) -> int:
    """"Ajouter la liste": every result of the search, across pages, who belongs to the
    group's school, whatever their number: the group's row locked (`_locked_school`, which
    reads its school), then one INSERT … SELECT that adds them only if they all fit (the
    count of the members and of the newcomers, each up to MAX_MEMBERS + 1, is in its WHERE).
    Returns the number of people added (those already members are left as they are);
    GroupFull when they would not all fit (counted again only then, to say the room)."""
    if filters.is_empty():
        raise InvalidInput.of("list_needs_criteria")
    new_members = _newcomers(editor, group, _locked_school(group), filters)
    fits = _counted(_members(group)) + _counted(new_members) <= MAX_MEMBERS
    added = db.session.execute(insert_ignoring_duplicates(GroupMember).from_select(
        ["group_id", "account_id", "is_manager"], new_members.where(fits))).rowcount
    if not added:       # nobody new, or too many
        members, adding = db.session.execute(select(_counted(_members(group)),
                                                    _counted(new_members))).one()
        if members + adding > MAX_MEMBERS:
            raise GroupFull(group, MAX_MEMBERS - members)
    return added


def remove_member(group: Group, account_id: int) -> Account:
    member = db.session.get(GroupMember, (group.id, account_id))
    if member is None:
        raise InvalidInput.of("not_a_member")
    if member.is_manager:
        raise InvalidInput.of("member_is_manager", name=_name(account_id))
    db.session.delete(member)
    return db.session.get(Account, account_id)


def set_member_end(group: Group, account_id: int, ends_at: datetime | None) -> Account:
    """When a member's membership ends (None: no end): the outbound worker then removes it
    (directory.accounts.end_ended_access). Never one already past (removing the member is how
    it ends now), never for a manager (a group keeps its managers). Returns the member."""
    member = db.session.get(GroupMember, (group.id, account_id))
    if member is None:
        raise InvalidInput.of("not_a_member")
    if member.is_manager and ends_at is not None:
        raise InvalidInput.of("manager_without_end", name=_name(account_id))
    if access_end_refused(member.access_ends_at, ends_at):
        raise InvalidInput.of("membership_end_past", name=_name(account_id))
    member.access_ends_at = ends_at
    return db.session.get(Account, account_id)


def set_manager(editor: Account, group: Group, account_id: int, manager: bool) -> None:
    """Make a member a manager (whose membership then has no end), or make a manager a plain
    member again (never the last: the managers are counted with their rows locked, so two
    managers demoting each other at once are one after the other, and the second is
    refused)."""
    member = db.session.get(GroupMember, (group.id, account_id))
    if member is None:
        raise InvalidInput.of("not_a_member")
    if manager:
        _check_may_manage(editor, db.session.get(Account, account_id))
    elif account_id in (managers := _locked_managers(group.id)) and len(managers) == 1:
        raise InvalidInput.of("last_manager")
    db.session.execute(update(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.account_id == account_id)
        .values(is_manager=manager, **({"access_ends_at": None} if manager else {})))


def name_too_long(name: str) -> bool:
    """A group's name past NAME_MAX, or its folded form (Group.search_name), which « œ »,
    « ß » and ligatures make longer than the name."""
    return len(name) > NAME_MAX or len(search_key("", name)[0]) > NAME_MAX


def group_name_refusal(name: str) -> Reason | None:
    """Why `name` cannot be a group's for its characters, or None: a group's name is written
    into mail headers (the To of a mailing, an agenda notice), as a person's is, and the same
    rule (`accounts.name_refusal`) refuses line breaks and control characters, in a group's
    words. The forms' (`_checked_text`) and the import's (import_rows.checked)."""
    return None if name_refusal(name) is None else Reason("group_name_control")


def _checked_text(name: str, description: str) -> tuple[str, str]:
    name, description = (name or "").strip(), (description or "").strip()
    if not name:
        raise InvalidInput.of("group_name_missing")
    if (refusal := group_name_refusal(name)) is not None:
        raise InvalidInput(refusal)
    if name_too_long(name):
        raise InvalidInput.of("group_name_too_long", max=NAME_MAX)
    if not search_key("", name)[0]:
        raise InvalidInput.of("group_name_no_letter")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput.of("group_description_too_long", max=DESCRIPTION_MAX)
    return name, description


def _checked_school(editor: Account, school_id: int) -> School:
    school = db.session.get(School, school_id)
    if school is None or not (editor.is_admin or school in editor.schools):
        raise InvalidInput.of("not_your_school")
    return school


def _check_name_free(school_id: int, name: str, but: int | None = None) -> None:
    query = select(Group.id).where(Group.school_id == school_id, Group.kind == GroupKind.AD_HOC,
                                   Group.name == name)
    if but is not None:
        query = query.where(Group.id != but)
    if db.session.scalar(query) is not None:
        raise InvalidInput.of("group_name_taken", name=name)


def _check_may_manage(editor: Account, account: Account | None) -> None:
    if account is None or db.session.scalar(
            select(Account.id).where(Account.id == account.id,
                                     perimeter_condition(editor))) is None:
        raise InvalidInput.of("person_outside_directory")
    if not can_manage_groups(account):
        raise InvalidInput.of("not_a_group_manager", name=account.full_name)


def _of_school(editor: Account, school_id: int, account=Account) -> sa.ColumnElement[bool]:
    """SQL over `account`: someone `editor` may make a member of a group of `school_id`."""
    if editor.is_admin:
        return true()
    return exists().where(AccountSchool.account_id == account.id,
                          AccountSchool.school_id == school_id)


def _check_of_school(editor: Account, school: School, account: Account) -> None:
    if db.session.scalar(select(Account.id).where(
            Account.id == account.id, _of_school(editor, school.id))) is None:
        raise OtherSchool(school, account)


def _members(group: Group) -> sa.Select:
    return select(GroupMember.account_id).where(GroupMember.group_id == group.id)


def _counted(query: sa.Select) -> sa.ScalarSelect:
    """How many rows `query` gives, counted no further than MAX_MEMBERS + 1."""
    return select(func.count()).select_from(
        query.limit(MAX_MEMBERS + 1).subquery()).scalar_subquery()


def _is_member(group_id: int, account_id: int) -> bool:
    return db.session.get(GroupMember, (group_id, account_id)) is not None


def _locked_managers(group_id: int) -> list[int]:
    """The group's managers who may still manage it (`manager_memberships`, and not
    suspended: a row that says manager for someone who can no longer act keeps nobody in
    charge), their rows locked until commit (FOR UPDATE on PostgreSQL, in account order;
    SQLite's writer holds the database). A row another transaction demoted meanwhile is read
    as it is once that one commits."""
    return list(db.session.scalars(
        select(GroupMember.account_id).join(Account, Account.id == GroupMember.account_id)
        .where(GroupMember.group_id == group_id, manager_memberships(Account),
               Account.suspended.is_(False))
        .order_by(GroupMember.account_id).with_for_update(of=GroupMember)))


def _locked_school(group: Group) -> int:
    """Lock the group's row until commit and return its school as it is now: FOR NO KEY
    UPDATE on PostgreSQL (the rows that point at the group are still written meanwhile), so
    whoever counts or checks the members after it sees what the others locking it committed,
    and a group deleted meanwhile is a refusal, not a foreign key's 500. SQLite has one
    writer: a request whose reads another one's commit made stale fails at its first write
    and runs again from the start (portal/retry.py)."""
    school_id = db.session.scalar(select(Group.school_id).where(Group.id == group.id)
                                  .with_for_update(key_share=True))
    if school_id is None:
        raise InvalidInput.of("group_gone")
    return school_id


def _name(account_id: int) -> str:
    account = db.session.get(Account, account_id)
    return account.full_name if account else "Cette personne"
