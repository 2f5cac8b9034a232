"""Planning an account import (SPEC §8): for each row of the file, what applying it would
do — create, update (and what), unchanged, or an error with its reason — and the login each
new account gets, read from the database without writing anything.

Matching: a row with an external id is the account with that id (anywhere in the region: a
parent may already belong to another school); without one, or with one no account has yet,
the account of this school with the same name (folded) and profile, if there is exactly one
(for a pupil with several, the one already in the row's classes) and no other row of the
file would be it too. Every read is one query per chunk of rows (IN lists of at most `CHUNK`
values): the cost follows the file, never the size of the region.

An import changes only what its author (`importer`; None: the command line's operator, who
has the whole region) administers (account_admin.scope_condition): a row about anyone else
is an error, except a parent of another school (never an administrator) whom the row gives a
pupil of this school, one she administers or one the file creates: he joins it as he is
(SPEC §1). A row about an account that also belongs to a school she does not administer
(account_admin.shared_beyond_reach), that parent included, may place it in her classes and
groups and give it her pupils, not change its names, profile, email, external id or end of
access: those are left as they are, with a note. An administrator's file names children
among the pupils she administers (or the pupils the file creates), so it cannot link a
parent to another school's pupil nor to an administrator; the operator's, among the
region's pupils.

A class cell may name several classes, separated by commas (as the export writes a teacher's
« 4A, 4B »): the account's classes in this school become exactly those. A class of the school
whose name holds a comma (« 1re, spé NSI ») is read as that class (`read_classes`).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .account_admin import scope_condition, shared_beyond_reach
from .account_file import (
    HEADER_NAMES,
    AccountFile,
    FileRow,
    comma_key,
    header_key,
    split_classes,
)
from .accounts import access_end_refused
from .allocation import next_free, taken_variants
from .db import db
from .domain import mail_domain
from .enums import GroupKind, Profile
from .import_rows import (
    Fate,
    RowPlan,
    checked,
    first_occurrences,
    folded_name,
    name_key,
    namesakes,
    person,
)
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .naming import login_for
from .wording import Reason

CHUNK = 500
LOGIN_MAX = Account.__table__.c.login.type.length


@dataclass
class ImportPlan:
    school: School
    file: AccountFile
    rows: list[RowPlan]

    def count(self, fate: Fate) -> int:
        return sum(row.fate == fate for row in self.rows)

    @property
    def counts(self) -> dict[Fate, int]:
        return {fate: self.count(fate) for fate in Fate}


@dataclass
class _Existing:
    id: int
    login: str
    external_id: str | None
    first_name: str
    last_name: str
    profile: Profile
    redirect_address: str | None
    access_ends_at: datetime | None
    is_admin: bool
    is_school_admin: bool



@dataclass(frozen=True)
class FileFacts:
    """What planning any batch needs to know of the whole file, worked out once for all the
    batches of an application (`file_facts`)."""

    people: dict[int, tuple]                    # line → `person`
    first_lines: dict[int, int]                 # line → `first_occurrences`
    namesake_lines: dict[int, Reason]           # line → `namesakes`
    rows_of: dict[tuple, list[FileRow]]         # `person` → the file's rows, in line order


def file_facts(file: AccountFile) -> FileFacts:
    people = {row.line: person(row) for row in file.rows}
    rows_of: dict[tuple, list[FileRow]] = defaultdict(list)
    for row in file.rows:
        rows_of[people[row.line]].append(row)
    return FileFacts(people, first_occurrences(file.rows, people),
                     namesakes(file.rows, people), dict(rows_of))


def plan_rows(school: School, file: AccountFile, rows: Sequence[FileRow],
              create_classes: bool, importer: Account | None = None, *,
              facts: FileFacts | None = None) -> list[RowPlan]:
    """The plans of `rows` (all of the file, or one batch of it); duplicates are looked for
    in the whole file, the database only for `rows` (and the file's rows of their names).
    `facts`: the file's `file_facts`, when the caller plans it batch after batch."""
    facts = facts or file_facts(file)
    domain = mail_domain()
    groups, known = school_groups(school.id), comma_classes(school.id)
    read_classes(rows, known)
    plans = [checked(row, facts.first_lines, facts.namesake_lines, domain) for row in rows]
    valid = [plan for plan in plans if not plan.errors]
    matches = _match(school, valid, facts, groups, known)
    matched_ids = [account.id for account in matches.values() if account is not None]
    memberships = _memberships(school.id, matched_ids)
    in_school = _in_school(school.id, matched_ids)
    children = _children(matched_ids)
    refs = child_refs([ref for plan in valid for ref in plan.row.parent_of], school.id,
                      importer)
    outside, shared = _outside_reach(importer, matched_ids), _shared(importer, matched_ids)
    # A child the file names but the database does not have yet must be one of the file's
    # pupils that applying creates, so the rows naming children are decided last (the
    # parents are applied after the pupils too: account_import.application_order). The
    # other rows get their logins first: a pupil whose login the column cannot hold is an
    # error, and a row naming it must not count it as created.
    creatable: set[str] = set()
    taken: set[str] = set()         # the logins handed out, the first rows' to the last
    for naming_children in (False, True):
        some = sorted((plan for plan in valid if bool(plan.row.parent_of) == naming_children),
                      key=lambda plan: plan.row.line)
        for plan in some:
            _decide(plan, matches.get(id(plan)), groups, memberships, in_school, children,
                    refs, creatable, create_classes, outside, shared, importer)
            if naming_children:
                _count_creatable(plan, creatable)
        # in the order applying creates them (account_import.application_order), so that
        # the preview's logins are the ones given
        _give_logins(school, [plan for plan in some if plan.fate == Fate.CREATE], taken)
        if not naming_children:
            for plan in some:
                _count_creatable(plan, creatable)
    return plans


def _count_creatable(plan: RowPlan, creatable: set[str]) -> None:
    """A pupil's row that applying creates or updates: a row naming its external id names
    it."""
    if plan.profile == Profile.STUDENT and plan.fate != Fate.ERROR and plan.row.external_id:
        creatable.add(plan.row.external_id)


def chunks(values: Sequence, size: int = CHUNK) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


_EXISTING_COLUMNS = (Account.id, Account.login, Account.external_id, Account.first_name,
                     Account.last_name, Account.profile, Account.redirect_address,
                     Account.access_ends_at, Account.is_admin, Account.is_school_admin)


def _match(school: School, plans: list[RowPlan], facts: FileFacts,
           groups: dict[tuple[GroupKind, str], int],
           known: frozenset[str]) -> dict[int, _Existing | None]:
    """id(plan) → the account the row is about (None: a new one). Ambiguities are errors.

    A row whose external id no account has yet falls back on the name, as a row without
    one. Two rows of the file (in this batch or not) that would so both be the same account
    are both refused: applied, the account would get both rows' children and classes, and
    the last one's id."""
    people, first_lines = facts.people, facts.first_lines
    wanted = {people[plan.row.line] for plan in plans}
    rows = sorted((row for key in wanted for row in facts.rows_of[key]),   # the plans' too
                  key=lambda row: row.line)
    read_classes(rows, known)
    by_id: dict[str, _Existing] = {}
    for chunk in chunks(sorted({row.external_id for row in rows if row.external_id})):
        for found in db.session.execute(select(*_EXISTING_COLUMNS)
                                        .where(Account.external_id.in_(chunk))):
            by_id[found.external_id] = _Existing(*found)
    by_name: dict[tuple, list[_Existing]] = defaultdict(list)
    names = sorted({folded_name(people[row.line][0]) for row in rows
                    if row.external_id not in by_id})
    for chunk in chunks(names):
        query = (select(Account.search_name, *_EXISTING_COLUMNS)
                 .join(AccountSchool, AccountSchool.account_id == Account.id)
                 .where(AccountSchool.school_id == school.id, Account.search_name.in_(chunk)))
        for found in db.session.execute(query):
            key = found[0] or name_key(found.first_name, found.last_name)   # as `person`
            by_name[(key, found.profile)].append(_Existing(*found[1:]))
    candidates = {row.line: [a for a in by_name.get(people[row.line], ())
                             if a.external_id is None or not row.external_id]
                  for row in rows if row.external_id not in by_id}
    _narrow_by_class(school, rows, people, candidates, groups)
    takers: dict[int, set[int]] = defaultdict(set)     # account id → rows (first lines)
    for line, accounts in candidates.items():
        if len(accounts) == 1:
            takers[accounts[0].id].add(first_lines[line])
    matches: dict[int, _Existing | None] = {}
    for plan in plans:
        line = plan.row.line
        if plan.row.external_id in by_id:
            matches[id(plan)] = by_id[plan.row.external_id]
            continue
        accounts = candidates[line]
        if len(accounts) > 1:
            without_id = sum(a.external_id is None for a in accounts)
            if without_id > 1:      # an id on the row would not tell them apart either
                plan.error("ambiguous_without_ids", count=without_id)
            else:
                plan.error("ambiguous", count=len(accounts))
        elif accounts and len(takers[accounts[0].id]) > 1:
            other = min(takers[accounts[0].id] - {first_lines[line]})
            plan.error("namesake_account", line=other)

        matches[id(plan)] = accounts[0] if len(accounts) == 1 else None
    return matches


def _narrow_by_class(school: School, rows: list[FileRow], people: dict[int, tuple],
                     candidates: dict[int, list[_Existing]],
                     groups: dict[tuple[GroupKind, str], int]) -> None:
    """A pupil's row with several namesakes in the school: the one already in the row's
    classes, if there is exactly one."""
    rows_by_line = {row.line: row for row in rows}
    torn = [line for line, accounts in candidates.items() if len(accounts) > 1
            and people[line][1] == Profile.STUDENT and rows_by_line[line].classes]
    if not torn:
        return
    memberships = _memberships(school.id, sorted({a.id for line in torn
                                                  for a in candidates[line]}))
    for line in torn:
        wanted = {groups.get((GroupKind.CLASS, header_key(name)))
                  for name in rows_by_line[line].classes}
        inside = [a for a in candidates[line]
                  if {g for g, kind in memberships.get(a.id, {}).items()
                      if kind == GroupKind.CLASS} == wanted]
        if len(inside) == 1:
            candidates[line] = inside


def read_classes(rows: Iterable[FileRow], known: frozenset[str]) -> None:
    """Read the class cells of `rows` with the school's classes whose name holds a comma
    (`comma_classes`, account_file.split_classes): « 1re, spé NSI » is that class when the
    school has it, not « 1re » and « spé NSI »; « CM1, CM2 » stays two classes beside a
    class « CM1-CM2 »."""
    for row in rows:
        row.read_classes = split_classes(row.class_name, known) \
            if known and "," in row.class_name else None


def comma_classes(school_id: int) -> frozenset[str]:
    """The `comma_key`s of the school's classes whose name holds a comma."""
    return frozenset(comma_key(name) for name in db.session.scalars(select(Group.name).where(
        Group.school_id == school_id, Group.kind == GroupKind.CLASS,
        Group.name.contains(","))))


def school_groups(school_id: int) -> dict[tuple[GroupKind, str], int]:
    rows = db.session.execute(select(Group.kind, Group.name, Group.id).where(
        Group.school_id == school_id, Group.kind.in_([GroupKind.CLASS, GroupKind.GROUP])))
    return {(kind, header_key(name)): group_id for kind, name, group_id in rows}


def _memberships(school_id: int, account_ids: list[int]) -> dict[int, dict[int, GroupKind]]:
    """account id → {group id: kind} of its classes and groups in this school."""
    result: dict[int, dict[int, GroupKind]] = defaultdict(dict)
    for chunk in chunks(account_ids):
        rows = db.session.execute(
            select(GroupMember.account_id, Group.id, Group.kind)
            .join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.account_id.in_(chunk), Group.school_id == school_id,
                   Group.kind.in_([GroupKind.CLASS, GroupKind.GROUP])))
        for account_id, group_id, kind in rows:
            result[account_id][group_id] = kind
    return result


def _in_school(school_id: int, account_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(account_ids):
        found.update(db.session.scalars(select(AccountSchool.account_id).where(
            AccountSchool.school_id == school_id, AccountSchool.account_id.in_(chunk))))
    return found


def _children(parent_ids: list[int]) -> dict[int, set[int]]:
    result: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(parent_ids):
        for parent_id, child_id in db.session.execute(
                select(ParentLink.parent_id, ParentLink.child_id)
                .where(ParentLink.parent_id.in_(chunk))):
            result[parent_id].add(child_id)
    return result


def _shared(importer: Account | None, account_ids: list[int]) -> set[int]:
    """The accounts among `account_ids` that also belong to a school `importer` does not
    administer (account_admin.shared_beyond_reach)."""
    if importer is None:
        return set()
    found: set[int] = set()
    for chunk in chunks(account_ids):
        found.update(db.session.scalars(select(Account.id).where(
            Account.id.in_(chunk), shared_beyond_reach(importer))))
    return found


def _outside_reach(importer: Account | None, account_ids: list[int]) -> set[int]:
    """The accounts among `account_ids` that `importer` does not administer."""
    if importer is None:
        return set()
    inside: set[int] = set()
    for chunk in chunks(account_ids):
        inside.update(db.session.scalars(select(Account.id).where(
            Account.id.in_(chunk), scope_condition(importer))))
    return set(account_ids) - inside


def child_refs(refs: list[str], school_id: int,
               importer: Account | None) -> dict[str, int | None]:
    """A child named by external id or by login → its account id: a pupil of school
    `school_id` whom `importer` administers (an administrator's import), or a pupil of the
    region (None: the operator's). None when the name is one pupil's login and another's
    external id: which one the row means cannot be told."""
    found: dict[str, set[int]] = defaultdict(set)
    for chunk in chunks(sorted(set(refs))):
        query = select(Account.id, Account.external_id, Account.login).where(
            Account.external_id.in_(chunk) | Account.login.in_(chunk),
            Account.profile == Profile.STUDENT)
        if importer is not None:
            query = query.join(AccountSchool, AccountSchool.account_id == Account.id).where(
                AccountSchool.school_id == school_id, scope_condition(importer))
        for account_id, external_id, login in db.session.execute(query):
            for key in (external_id, login):
                if key in chunk:
                    found[key].add(account_id)
    return {key: ids.pop() if len(ids) == 1 else None for key, ids in found.items()}


def _decide(plan: RowPlan, existing: _Existing | None, groups, memberships, in_school,
            children, refs, creatable: set[str], create_classes: bool, outside: set[int],
            shared: set[int], importer: Account | None = None) -> None:
    if plan.errors:
        return
    row = plan.row
    joining = existing is not None and existing.id in outside and \
        _may_join(plan, existing, refs, creatable)
    if existing is not None and existing.id in outside and not joining:
        plan.error("not_administered")
        return
    for name in row.classes:
        class_id = groups.get((GroupKind.CLASS, header_key(name)))
        if class_id is not None:
            plan.class_ids.append(class_id)
        elif not create_classes:
            plan.error("unknown_class", name=name)
            return
        else:
            plan.new_groups.append((GroupKind.CLASS, name))
            plan.notes.append(Reason("class_created", {"name": name}))
    for name in row.cohorts:
        group_id = groups.get((GroupKind.GROUP, header_key(name)))
        if group_id is None:
            plan.new_groups.append((GroupKind.GROUP, name))
            plan.notes.append(Reason("group_created", {"name": name}))
        else:
            plan.group_ids.append(group_id)
    for ref in row.parent_of:
        if refs.get(ref) is not None:
            plan.child_ids.append(refs[ref])
        elif ref in refs:
            plan.error("child_ambiguous", ref=ref)
        elif ref not in creatable:
            plan.error("child_not_found", ref=ref)
    current_end = existing.access_ends_at if existing else None
    if access_end_refused(current_end, plan.access_ends_at):
        # Not an error: the row's other changes still apply (a pupil kept on after the day
        # the school's file still gives, say), the end is left as it is.
        plan.notes.append(Reason("access_end_past", {"value": row.access_end}))
        plan.access_ends_at, plan.access_end_given = current_end, False
    elif existing is not None and importer is not None and existing.id == importer.id \
            and plan.access_end_given and plan.access_ends_at is not None \
            and plan.access_ends_at != current_end:
        # as the account's page (account_admin.edit_account): one does not limit one's own
        # access, which would lock out a school's only administrator
        plan.notes.append(Reason("own_access_end_kept", {"value": row.access_end}))
        plan.access_ends_at, plan.access_end_given = current_end, False
    if plan.errors:
        return
    if plan.profile == Profile.PARENT and not row.email:
        plan.notes.append(Reason("parent_without_email"))
    if existing is None:
        plan.fate = Fate.CREATE
        return
    plan.account_id, plan.login = existing.id, existing.login
    changes = plan.changes
    _identity_changes(plan, existing)
    if joining:
        plan.notes.append(Reason("other_school_parent"))
    elif changes and existing.id in shared:
        plan.notes.append(Reason("shared_identity_kept"))
    if joining or existing.id in shared:     # not hers alone: she does not set who he is
        changes.clear()
    if existing.id not in in_school:
        changes.append("school")
    mine = memberships.get(existing.id, {})
    classes = {g for g, kind in mine.items() if kind == GroupKind.CLASS}
    if row.classes and (any(kind == GroupKind.CLASS for kind, _ in plan.new_groups)
                        or classes != set(plan.class_ids)):
        changes.append("class")
    if any(kind == GroupKind.GROUP for kind, _ in plan.new_groups) or \
            any(g not in mine for g in plan.group_ids):
        changes.append("groups")
    if set(plan.child_ids) - children.get(existing.id, set()) or \
            any(ref not in refs for ref in row.parent_of):
        changes.append("children")
    if row.password:
        plan.notes.append(Reason("password_kept"))
    plan.fate = Fate.UPDATE if changes else Fate.UNCHANGED


def _may_join(plan: RowPlan, existing: _Existing, refs, creatable: set[str]) -> bool:
    """Another school's parent (never an administrator) joins this one for a child of it
    (SPEC §1: a parent belongs to the schools of his children): a pupil of this school whom
    the importer administers, or one the file creates. He joins as he is (names, profile,
    address, password, end of access: another school's to set); this school then gives him
    its children, classes and groups only (account_admin.shared_beyond_reach)."""
    return (plan.profile == existing.profile == Profile.PARENT
            and not (existing.is_admin or existing.is_school_admin)
            and any(refs.get(ref) is not None or ref in creatable
                    for ref in plan.row.parent_of))


def _identity_changes(plan: RowPlan, existing: _Existing) -> None:
    """What the row changes of the account's names, profile, address, ids and access."""
    row, changes = plan.row, plan.changes
    if (existing.first_name, existing.last_name) != (row.first_name, row.last_name):
        changes.append("names")
    if existing.profile != plan.profile:
        changes.append("profile")
    if row.email and (existing.redirect_address or "").lower() != row.email.lower():
        changes.append("email")
    if row.external_id and existing.external_id != row.external_id:
        changes.append("external_id")
    if plan.access_end_given and existing.access_ends_at != plan.access_ends_at:
        changes.append("access_end")


def _give_logins(school: School, plans: list[RowPlan], taken: set[str]) -> None:
    """A login for each plan, in order, none of `taken` (which grows with those handed out:
    called again, the next plans get the logins one call would give them); a row whose
    login the column could not hold (long names, folded longer, in the school's pattern) is
    an error, as a name too long."""
    bases = [login_for(school.login_pattern, school.uai, p.row.first_name, p.row.last_name)
             for p in plans]
    taken |= taken_variants(Account.login, bases)
    for plan, login in zip(plans, next_free(bases, taken), strict=True):
        if len(login) > LOGIN_MAX:
            over = len(login) - LOGIN_MAX
            column = max(("last_name", "first_name"), key=lambda c: len(getattr(plan.row, c)))
            plan.error("too_long", column=HEADER_NAMES[column],
                       limit=max(1, len(getattr(plan.row, column)) - over))
        else:
            plan.login = login


