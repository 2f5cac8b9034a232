"""Who may write to whom (SPEC §2): the one engine every message path asks.

Which rule applies is chosen by the sender's *effective* roles (profile defaults, then the
administrator's grants and removals); when several apply, their sets add up:

- **Accès au service d'envoi étendu** (SEND_EXTENDED, teachers and staff by default): every
  account of the region.
- **Accès au service d'envoi** (SEND, parents and "Autre" by default): their children; the
  students of their children's classes; the teachers of their children's classes and groups;
  the parents of their children's classes; and every member of the groups the sender belongs
  to ("write within one's own groups", SPEC §1 — this is what SEND gives an "Autre" with no
  child).
- **Student rule**, for an account of profile Élève holding **Messagerie interne**
  (INTERNAL_MAIL): the students and the teachers of every group they belong to (class,
  institutional group or ad hoc), and the parents of their classes.
- Anyone else (e.g. a student whose internal mail was removed) may write to nobody but
  themselves and the authors they answer (below).

Words used above, exactly as the SQL below computes them:
- the *groups* of X: the groups X is a member of; their *classes*: those of kind ENTClasse;
- the *students* of a group: its members of profile Élève;
- the *teachers* of a group: its members of profile Enseignant, and its managers (the person
  running an ad hoc group is its teacher, whatever their profile);
- the *parents* of a group: the accounts linked as parent to one of its members who is not
  suspended;
- the *children* of a sender: the accounts linked to them as child that are not suspended
  (a child whose access ended keeps their memberships, but ties their parents to nothing;
  reactivated, they tie them again).

A refusal names the person, in the words of the rule that applies to the sender
(`refusal_reason`, a code of directory/wording.py: "Lucas Petit n'est ni dans vos classes ni
dans vos groupes", "Lucas Petit : compte suspendu"…).

Then, for every rule: one may always write to oneself; one may always answer anyone who wrote
to one (the authors of the messages one received, `MailCorrespondent`, and `replying_to`, the
author of the message answered); a suspended account is never writable, not even in reply; a
suspended sender may write to nobody. No school check is added on top: every rule
goes through group membership or parent links, which already tie people to their school.

Cost, whatever the size of the region: for a restricted sender, first their children and the
groups of themselves and their children are read (one small indexed statement); the rule is then
SQL over those group ids (`group_member.group_id IN (…)`, primary-key lookups of a short
list): one parameter per id in the statements kept per shape (below), one parameter per list
(`sets.among`) in a statement built for one sender (`writable_condition`). Checking a list of
candidates is then one SELECT per chunk of `CHUNK` ids; an extended sender needs that SELECT
only.

The statements kept for many runs (`writable`'s, a search page's, the picker's) are built once
per `RuleShape` — which clauses the rule has, and how many parameters each list takes
(`list_slots`) — and given the sender's values as parameters (`SenderRule.parameters`): the
pupils of a region share a handful, where a statement per sender cost 2.1 ms of CPU
(`writable`) and 3.7 ms (a search page's) at each sender's first request, and a few thousand
senders turned the caches over.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sqlalchemy as sa
from sqlalchemy import and_, false, literal, or_, select, true, union
from sqlalchemy.orm import aliased

from .db import db, dialect_name
from .driver_reads import KeptStatement, flushed_connection, kept_per_database
from .enums import GroupKind, Profile, Role
from .models import Account, Group, GroupMember, MailCorrespondent, ParentLink
from .roles import effective_roles
from .sets import Int4, among, ids_parameter
from .wording import Reason

CHUNK = 1000
MAX_ID = 2**31 - 1  # a bigger id cannot exist: it is unknown, not an SQL error
# The child of a parent link, apart from the `account` row a rule is about (never correlated)
_child_account = aliased(Account, name="child_account")


def active_child(child_id) -> sa.ColumnElement[bool]:
    """The one rule tying a parent through a child, for every place that counts a parent's
    children or a group's members' parents (rights, audiences, agendas, rubrics, the Annuaire):
    the child `child_id` (a column, `ParentLink.child_id`) is not suspended. Their account is
    read by its primary key, under an alias of its own (never correlated with the `account` row
    the statement is about); a join's ON clause or a condition of an EXISTS."""
    return and_(_child_account.id == child_id, _child_account.suspended.is_(False))


@dataclass(frozen=True)
class Verdict:
    account_id: int
    allowed: bool
    why: Reason | None      # a refusal's reason (directory/wording.py); None when allowed

    @property
    def reason(self) -> str | None:
        """The refusal's reason in French."""
        return str(self.why) if self.why else None


def writable(sender: Account, candidate_ids: Iterable[int], *,
             replying_to: int | None = None,
             rule: SenderRule | None = None) -> dict[int, Verdict]:
    """For each candidate account id: may `sender` write to it. Unknown ids are absent.
    `rule`: `sender_rule(sender)` when the caller has read it already in this request."""
    ids = sorted({int(i) for i in candidate_ids if 0 < int(i) <= MAX_ID})
    if not ids:
        return {}
    rule = rule or sender_rule(sender)
    statement = _writable_statement(rule.shape, dialect_name())
    connection = flushed_connection(db.session)
    verdicts: dict[int, Verdict] = {}
    for start in range(0, len(ids), CHUNK):
        parameters = {**rule.parameters, "ids": ids[start:start + CHUNK]}
        for row in statement.rows(connection, parameters):
            verdicts[row.id] = _verdict(sender, row, replying_to)
    return verdicts


@lru_cache(maxsize=256)
def _writable_statement(shape: RuleShape, _dialect: str) -> KeptStatement:
    """`writable`'s query for one shape of rule, built once (every message the gateway
    receives asks it) and run on the driver's cursor after its first run: the candidates' ids
    and the sender's values are its parameters."""
    return KeptStatement(
        select(Account.id, Account.first_name, Account.last_name, Account.profile,
               Account.suspended, _reach_of(shape, Account).label("reached"))
        .where(ids_parameter(Account.id)))


def writable_query(sender: Account) -> sa.Select:
    """SELECT of the ids of the accounts `sender` may write to (never suspended ones).
    For a restricted sender it starts from the few people tied to the sender's groups and
    children (a UNION of index lookups) and keeps those the rule accepts."""
    condition = writable_condition(sender, Account)
    if sender.suspended or Role.SEND_EXTENDED in effective_roles(sender):
        return select(Account.id).where(condition)
    ties = _ties(sender, effective_roles(sender))
    pool = [select(literal(sender.id)), _correspondents(sender.id)]
    listed = _Listed(ties=ties)
    if ties.own_groups:
        pool.append(_members_of(listed.own_groups))
    if ties.own_classes:
        pool.append(_parents_of(listed.own_classes))
    if ties.children:
        pool += [select(Account.id).where(listed.children(Account.id))]
    if ties.child_groups:
        pool.append(_members_of(listed.child_groups))
    if ties.child_classes:
        pool.append(_parents_of(listed.child_classes))
    return select(Account.id).where(Account.id.in_(union(*pool)), condition)


def writable_condition(sender: Account, account=Account) -> sa.ColumnElement[bool]:
    """The same rule as a boolean over the row `account` (the Account entity or an alias):
    lets a search page show the envelope per row in its own query. For an extended sender it
    is only `NOT suspended`, so no set of the whole region is ever built. Building it reads
    the sender's groups and children (one small indexed statement)."""
    return rule_condition(sender_rule(sender), account)


TIE_LISTS = ("own_groups", "own_classes", "children", "child_groups", "child_classes")


@dataclass(frozen=True)
class RuleShape:
    """Which clauses a rule's SQL has, without the sender's values (hashable: the statements
    built from a rule are built once per shape). `lists`: (name, slots) of each of the
    sender's ties that is not empty (TIE_LISTS), its ids bound as `slots` parameters
    (`list_slots`)."""

    suspended: bool
    extended: bool
    student_rule: bool = False
    send: bool = False
    lists: tuple[tuple[str, int], ...] = ()

    def slots(self, name: str) -> int:
        """The parameters of the list `name` (0: the sender has none of it)."""
        return dict(self.lists).get(name, 0)


def list_slots(count: int) -> int:
    """The parameters a list of `count` ids is bound as, in a statement shared by every
    sender of a shape: the next power of two, the last id repeated. One parameter per id
    keeps what PostgreSQL estimates of a short list, so that it plans a search page's rows
    once for every sender of a shape (a generic plan; a list as one array parameter is
    estimated at ten items, and each run was planned again: 0.26–0.30 ms); rounding the count
    keeps the statements few (one per shape and sizes). Each is an `Int4`, so that psycopg
    prepares one statement whatever the ids (see there)."""
    return 1 << max(count - 1, 0).bit_length()


@dataclass(frozen=True)
class SenderRule:
    """Everything the rule's SQL is built from, as plain values. An extended sender's rule
    names no one, so every extended sender shares one."""

    suspended: bool
    extended: bool
    sender_id: int | None = None
    student_rule: bool = False
    send: bool = False
    ties: _Ties | None = None

    @cached_property
    def shape(self) -> RuleShape:
        """Only the lists the rule reads (`_reach_of`): senders whose statements would be
        the same SQL share one shape."""
        read: set[str] = set()
        if self.student_rule and self.ties.own_groups:
            read |= {"own_groups", "own_classes"}
        if self.send:
            read |= {"children", "child_classes", "child_groups", "own_groups"}
        lists = tuple((name, list_slots(len(getattr(self.ties, name)))) for name in TIE_LISTS
                      if name in read and getattr(self.ties, name))
        return RuleShape(self.suspended, self.extended, self.student_rule, self.send, lists)

    @cached_property
    def parameters(self) -> dict:
        """The values of the shape's statement: the sender, and the ids of each list of their
        ties, one per slot (`list_slots`)."""
        if self.suspended or self.extended:
            return {}
        values = {"rule_sender": self.sender_id}
        for name, slots in self.shape.lists:
            ids = list(getattr(self.ties, name))
            ids += ids[-1:] * (slots - len(ids))
            values.update((f"rule_{name}_{n}", ids[n]) for n in range(slots))
        return values


def sender_rule(sender: Account) -> SenderRule:
    """The sender's rule: for a restricted sender, reads their groups and children."""
    if sender.suspended:
        return SenderRule(suspended=True, extended=False)
    roles = effective_roles(sender)
    if Role.SEND_EXTENDED in roles:
        return SenderRule(suspended=False, extended=True)
    return SenderRule(suspended=False, extended=False, sender_id=sender.id,
                      student_rule=_follows_student_rule(sender, roles),
                      send=Role.SEND in roles, ties=_ties(sender, roles))


def rule_condition(rule: SenderRule | RuleShape, account=Account) -> sa.ColumnElement[bool]:
    """`writable_condition` from the rule's values alone (no query). Of a SenderRule: the
    values are in the condition. Of a RuleShape: they are the parameters of the statement
    that holds it, given at each run (`SenderRule.parameters`)."""
    return and_(_reach_of(rule, account), account.suspended.is_(False))


@dataclass(frozen=True)
class _Ties:
    """The sender's groups and children, and the children's groups, read before the rule's
    SQL is run: the rule then holds short lists of group ids, which every planner turns into
    index lookups, whatever its statistics say."""

    own_groups: tuple[int, ...] = ()
    own_classes: tuple[int, ...] = ()
    children: tuple[int, ...] = ()
    child_groups: tuple[int, ...] = ()
    child_classes: tuple[int, ...] = ()


def _ties(sender: Account, roles: frozenset[Role]) -> _Ties:
    connection = flushed_connection(db.session)
    # a parent's children count only with « Accès au service d'envoi »; no account has id 0
    parent = sender.id if Role.SEND in roles else 0
    rows = _ties_rows(connection.dialect).rows(connection, {"sender": sender.id,
                                                            "parent": parent})
    children = sorted({account for account, group, _kind in rows
                       if account != sender.id and group is None})

    def groups(of_sender: bool, classes_only: bool) -> tuple[int, ...]:
        return tuple(sorted({group for account, group, kind in rows
                             if group is not None and (account == sender.id) == of_sender
                             and (kind == GroupKind.CLASS or not classes_only)}))

    return _Ties(own_groups=groups(True, False), own_classes=groups(True, True),
                 children=tuple(children), child_groups=groups(False, False),
                 child_classes=groups(False, True))


# `_ties` in one statement, compiled once per database and run on the driver's cursor
# (directory/driver_reads.py): every message the gateway routes and every search page of a
# restricted sender asks it, and through the ORM session it cost three times its run (it was
# two statements, the children then their groups: one round trip more for each). Its rows:
# the sender's groups, each child as (child, NULL, NULL), each child's groups.
# A suspended child (an ended access, a pupil who left) gives their parents no ties: their
# memberships stay (reactivating them brings the ties back), but a class reused by name the
# next year must not keep linking the family to its new pupils, their parents and teachers.
def _ties_statement() -> sa.CompoundSelect:
    parent = sa.bindparam("parent", type_=sa.Integer)
    children = (select(ParentLink.child_id)
                .join(_child_account, active_child(ParentLink.child_id))
                .where(ParentLink.parent_id == parent))
    return sa.union_all(
        select(GroupMember.account_id, GroupMember.group_id, Group.kind)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.account_id == sa.bindparam("sender", type_=sa.Integer)),
        select(ParentLink.child_id, sa.null(), sa.null())
        .join(_child_account, active_child(ParentLink.child_id))
        .where(ParentLink.parent_id == parent),
        select(GroupMember.account_id, GroupMember.group_id, Group.kind)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.account_id.in_(children.scalar_subquery())))


_ties_rows = kept_per_database(_ties_statement)


class _Listed:
    """The lists of a rule's ties in its SQL (`listed.own_groups(column)`: the column is one
    of them): for a statement built for a shape (`_Listed(shape=…)`), the shape's slots of
    each list as parameters `rule_<name>_<n>`, given at each run (`SenderRule.parameters`);
    with the sender's values (`_Listed(ties=…)`), each list as one parameter under a name of
    its own (unique), so that such a statement never shares SQLAlchemy's compiled form, nor a
    parameter, with a shape's (where the values would be taken for its constants)."""

    def __init__(self, *, shape: RuleShape | None = None, ties: _Ties | None = None):
        self._shape, self._ties = shape, ties

    def __getattr__(self, name: str):
        if name not in TIE_LISTS:
            raise AttributeError(name)
        if self._ties is None:
            slots = [sa.bindparam(f"rule_{name}_{n}", type_=Int4())
                     for n in range(self._shape.slots(name))]
            return lambda column: column.in_(slots)
        values = list(getattr(self._ties, name))
        return lambda column: among(column, f"rule_{name}", values, unique=True)


def _reach_of(rule: SenderRule | RuleShape, account) -> sa.ColumnElement[bool]:
    """Writable if not suspended: the rules above, without the suspension of the candidate."""
    if isinstance(rule, SenderRule):
        shape, listed = rule.shape, _Listed(ties=rule.ties)
        sender = sa.bindparam("rule_sender", rule.sender_id, type_=sa.Integer, unique=True)
    else:
        shape, listed = rule, _Listed(shape=rule)
        sender = sa.bindparam("rule_sender", type_=Int4())
    if shape.suspended:
        return false()
    if shape.extended:
        return true()
    has = shape.slots
    clauses = [account.id == sender, account.id.in_(_correspondents(sender))]
    if shape.student_rule and has("own_groups"):
        clauses += [_members_with_profile(account, listed.own_groups,
                                          Profile.STUDENT, Profile.TEACHER),
                    account.id.in_(_members_of(listed.own_groups, managers_only=True))]
        if has("own_classes"):
            clauses.append(account.id.in_(_parents_of(listed.own_classes)))
    if shape.send:
        if has("children"):
            clauses.append(listed.children(account.id))
        if has("child_classes"):
            clauses += [_members_with_profile(account, listed.child_classes, Profile.STUDENT),
                        account.id.in_(_parents_of(listed.child_classes))]
        if has("child_groups"):
            clauses += [_members_with_profile(account, listed.child_groups, Profile.TEACHER),
                        account.id.in_(_members_of(listed.child_groups, managers_only=True))]
        if has("own_groups"):
            clauses.append(account.id.in_(_members_of(listed.own_groups)))
    return or_(*clauses)


def _correspondents(sender) -> sa.Select:
    """The authors of the messages the sender (an id, or its parameter) received (a range of
    the primary key)."""
    return select(MailCorrespondent.author_id).where(MailCorrespondent.account_id == sender)


def _follows_student_rule(sender: Account, roles: frozenset[Role]) -> bool:
    return sender.profile == Profile.STUDENT and Role.INTERNAL_MAIL in roles


# `groups`, `classes` below: one of the ties' lists (`_Listed`), a condition over a group id
def _members_of(groups, *, managers_only: bool = False) -> sa.Select:
    query = select(GroupMember.account_id).where(groups(GroupMember.group_id))
    return query.where(GroupMember.is_manager.is_(True)) if managers_only else query


def _members_with_profile(account, groups, *profiles: Profile):
    """`account` has one of `profiles` and is a member of one of the groups."""
    return and_(account.profile.in_(profiles), account.id.in_(_members_of(groups)))


def _parents_of(classes) -> sa.Select:
    """The parents of the classes' members who are not suspended (a child who left gives
    their parents no tie to the class: see `_ties_statement`); the child's account is read by its
    primary key."""
    return (select(ParentLink.parent_id)
            .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
            .join(_child_account, active_child(ParentLink.child_id))
            .where(classes(GroupMember.group_id)))


def _verdict(sender: Account, row, replying_to: int | None) -> Verdict:
    if (row.reached or row.id == replying_to) and not row.suspended and not sender.suspended:
        return Verdict(row.id, True, None)      # nearly every row: no name to write
    return Verdict(row.id, False, refusal(sender, f"{row.first_name} {row.last_name}".strip(),
                                          row.profile, suspended=row.suspended))


def refusal(sender: Account, name: str, profile: Profile, *, suspended: bool) -> Reason:
    """Why `sender` may not write to a person (`name`, `profile`, `suspended`) whom the rule
    does not let them write to: `writable`'s reason for that person. A page whose statement
    holds `rule_condition` tells its refused rows' reasons with this, without asking
    `writable` again."""
    if sender.suspended:
        return Reason("sender_suspended", {"name": name})
    if suspended:
        return Reason("recipient_suspended", {"name": name})
    return refusal_reason(sender, name, profile)


_RULE_WORDS = {Profile.STUDENT: "student", Profile.TEACHER: "teacher",
               Profile.PARENT: "parent"}


def refusal_reason(sender: Account, name: str, profile: Profile) -> Reason:
    """Why `sender` may not write to `name` (of `profile`), in the words of the rule that
    applies to the sender."""
    roles = effective_roles(sender)
    if Role.SEND in roles:
        rule = "parent"
    elif _follows_student_rule(sender, roles):
        rule = "student"
    else:
        return Reason("no_send_right", {"name": name})
    return Reason(f"{rule}.{_RULE_WORDS.get(profile, 'other')}", {"name": name})
