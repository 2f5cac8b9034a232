"""Importing a school's accounts from a CSV file (SPEC §8): plan, then apply in batches.

`plan_import` reads the file and the database and says, row by row, what applying would do
(create, update, unchanged, error with its reason, and the login each new account gets)
without writing anything. `apply_batch` applies one slice of the rows, in one transaction,
planning that slice again against the database as it is then: the browser applies a file
one request per batch, the command line loops over the same function, and a batch that ran
twice finds its rows unchanged. Re-importing a file therefore writes nothing.

Matching: a row with an external id is the account with that id (anywhere in the region: a
parent may already belong to another school); without one, the account of this school with
the same name (folded) and profile, if there is exactly one. Passwords are only set at
creation (comparing them would cost an argon2 verification per row); a new account without
an email gets no password at all until its printable sheet is made (`account_admin`).

Every read is a query per chunk of rows (IN lists of at most `CHUNK` values), every write a
bulk INSERT or UPDATE: the cost follows the file, never the size of the region. Parents are
applied after everyone else, so the children they name exist by then.
"""
from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update

from .account_file import AccountFile, FileRow, header_key, read_account_file
from .addresses import allocate_addresses
from .allocation import next_free, taken_variants
from .clock import utcnow
from .db import db
from .enums import GroupKind, Profile
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .naming import login_for, search_key
from .passwords import (
    NO_PASSWORD,
    generate_password,
    hash_temporary_passwords,
    policy_errors,
)

CHUNK = 500
BATCH = 500
LIMITS = {"first_name": 100, "last_name": 100, "class_name": 120, "email": 254,
          "external_id": 64, "password": 200}

PROFILE_WORDS = {
    "eleve": Profile.STUDENT, "eleves": Profile.STUDENT, "student": Profile.STUDENT,
    "etudiant": Profile.STUDENT,
    "parent": Profile.PARENT, "parents": Profile.PARENT, "parent d eleve": Profile.PARENT,
    "responsable": Profile.PARENT,
    "enseignant": Profile.TEACHER, "teacher": Profile.TEACHER, "editingteacher": Profile.TEACHER,
    "professeur": Profile.TEACHER,
    "personnel non enseignant": Profile.STAFF, "personnel": Profile.STAFF,
    "staff": Profile.STAFF,
    "autre": Profile.OTHER, "other": Profile.OTHER,
}


class Fate(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class Issue:
    """A reason code with its parameters (worded by portal/admin/wording.py)."""

    code: str
    params: dict = field(default_factory=dict)


@dataclass
class RowPlan:
    row: FileRow
    profile: Profile | None = None
    fate: Fate = Fate.ERROR
    errors: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)
    login: str | None = None
    account_id: int | None = None
    changes: list[str] = field(default_factory=list)
    # what the write step needs, found while planning
    class_id: int | None = None
    group_ids: list[int] = field(default_factory=list)
    child_ids: list[int] = field(default_factory=list)
    new_groups: list[tuple[GroupKind, str]] = field(default_factory=list)

    def error(self, code: str, **params) -> None:
        self.errors.append(Issue(code, params))
        self.fate = Fate.ERROR


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
class CreatedAccount:
    account_id: int
    login: str
    first_name: str
    last_name: str
    profile: Profile
    email: str
    password: str | None          # a generated one, to mail; None: the file gave it, or
    awaits_sheet: bool            # no password yet: its printable sheet will make one


@dataclass
class BatchResult:
    done: int                      # rows of the application order handled so far
    total: int
    created: list[CreatedAccount]
    updated: int
    errors: int                    # rows of this batch left out, each with its reason

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def application_order(rows: Sequence[FileRow]) -> list[FileRow]:
    """Parents last (their children must exist), otherwise the file's order."""
    return sorted(rows, key=lambda row: (_profile(row.profile) == Profile.PARENT, row.line))


def plan_import(school: School, data: bytes | AccountFile, *,
                create_classes: bool = False) -> ImportPlan:
    """What applying the file would do, row by row; writes nothing. FileRefused when the file
    cannot be read at all."""
    file = data if isinstance(data, AccountFile) else read_account_file(data)
    plans = _plan(school, file, file.rows, create_classes)
    return ImportPlan(school=school, file=file, rows=plans)


def apply_batch(school: School, file: AccountFile, start: int, *, create_classes: bool = False,
                size: int = BATCH,
                before_commit: Callable[[list[CreatedAccount]], None] | None = None
                ) -> BatchResult:
    """Apply rows [start, start + size) of the application order, in one transaction that
    this function commits. Passwords are hashed between the read and the write, with no
    transaction open. `before_commit` runs inside the transaction (to queue the mail that
    sends the new passwords)."""
    order = application_order(file.rows)
    rows = order[start:start + size]
    planned = _plan(school, file, rows, create_classes)
    plans = [plan for plan in planned if plan.fate in (Fate.CREATE, Fate.UPDATE)]
    db.session.commit()                                    # end the read transaction
    creates = [plan for plan in plans if plan.fate == Fate.CREATE]
    passwords = _passwords(creates)
    password_hashes = _hashes(creates, passwords)
    created = _write(school, plans, passwords, password_hashes)
    if before_commit is not None:
        before_commit(created)
    db.session.commit()
    return BatchResult(done=min(start + size, len(order)), total=len(order), created=created,
                       updated=sum(plan.fate == Fate.UPDATE for plan in plans),
                       errors=sum(plan.fate == Fate.ERROR for plan in planned))


def apply_import(school: School, file: AccountFile, *, create_classes: bool = False,
                 size: int = BATCH, before_commit=None,
                 progress: Callable[[BatchResult], None] | None = None) -> tuple[int, int]:
    """Apply the whole file batch after batch; (created, updated)."""
    created = updated = start = 0
    while True:
        result = apply_batch(school, file, start, create_classes=create_classes, size=size,
                             before_commit=before_commit)
        created, updated = created + len(result.created), updated + result.updated
        if progress is not None:
            progress(result)
        if result.finished:
            return created, updated
        start = result.done


# Planning ---------------------------------------------------------------------------------

@dataclass
class _Existing:
    id: int
    login: str
    external_id: str | None
    first_name: str
    last_name: str
    profile: Profile
    redirect_address: str | None


def _profile(text: str) -> Profile | None:
    return PROFILE_WORDS.get(header_key(text))


def _plan(school: School, file: AccountFile, rows: Sequence[FileRow],
          create_classes: bool) -> list[RowPlan]:
    first_lines = _first_occurrences(file.rows)
    plans = [_checked(row, first_lines) for row in rows]
    valid = [plan for plan in plans if not plan.errors]
    matches = _match(school, valid)
    groups = _school_groups(school.id)
    matched_ids = [account.id for account in matches.values() if account is not None]
    memberships = _memberships(school.id, matched_ids)
    in_school = _in_school(school.id, matched_ids)
    children = _children(matched_ids)
    child_refs = _child_refs([ref for plan in valid for ref in plan.row.parent_of])
    file_ids = {row.external_id for row in file.rows if row.external_id}
    for plan in valid:
        _decide(plan, matches.get(id(plan)), groups, memberships, in_school, children,
                child_refs, file_ids, create_classes)
    _give_logins(school, [plan for plan in valid if plan.fate == Fate.CREATE])
    return plans


def _first_occurrences(rows: Iterable[FileRow]) -> dict[int, int]:
    """line of a row → line of the first row of the file with the same identity."""
    first: dict[tuple, int] = {}
    result = {}
    for row in rows:
        key = ("id", row.external_id) if row.external_id else (
            "name", search_key(row.first_name, row.last_name)[0], _profile(row.profile),
            header_key(row.class_name))
        result[row.line] = first.setdefault(key, row.line)
    return result


def _checked(row: FileRow, first_lines: dict[int, int]) -> RowPlan:
    plan = RowPlan(row=row, profile=_profile(row.profile))
    if not row.first_name or not row.last_name:
        plan.error("missing_name")
    if plan.profile is None:
        plan.error("unknown_profile", profile=row.profile)
    for name, limit in LIMITS.items():
        if len(getattr(row, name)) > limit:
            plan.error("too_long", column=name, limit=limit)
    if row.email and not _looks_like_email(row.email):
        plan.error("bad_email", email=row.email)
    if row.password and policy_errors(row.password):
        plan.error("weak_password")
    if first_lines[row.line] != row.line:
        plan.error("duplicate", line=first_lines[row.line])
    return plan


def _looks_like_email(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in text))


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


_EXISTING_COLUMNS = (Account.id, Account.login, Account.external_id, Account.first_name,
                     Account.last_name, Account.profile, Account.redirect_address)


def _match(school: School, plans: list[RowPlan]) -> dict[int, _Existing | None]:
    """id(plan) → the account the row is about (None: a new one). Ambiguities are errors."""
    by_id: dict[str, _Existing] = {}
    for chunk in _chunks(sorted({p.row.external_id for p in plans if p.row.external_id})):
        for row in db.session.execute(select(*_EXISTING_COLUMNS)
                                      .where(Account.external_id.in_(chunk))):
            by_id[row.external_id] = _Existing(*row)
    unmatched = [p for p in plans if p.row.external_id not in by_id]
    by_name: dict[tuple[str, Profile], list[_Existing]] = defaultdict(list)
    keys = sorted({search_key(p.row.first_name, p.row.last_name)[0] for p in unmatched})
    for chunk in _chunks(keys):
        query = (select(Account.search_name, *_EXISTING_COLUMNS)
                 .join(AccountSchool, AccountSchool.account_id == Account.id)
                 .where(AccountSchool.school_id == school.id, Account.search_name.in_(chunk)))
        for row in db.session.execute(query):
            by_name[(row[0], row.profile)].append(_Existing(*row[1:]))
    matches: dict[int, _Existing | None] = {}
    for plan in plans:
        if plan.row.external_id in by_id:
            matches[id(plan)] = by_id[plan.row.external_id]
            continue
        key = (search_key(plan.row.first_name, plan.row.last_name)[0], plan.profile)
        candidates = [a for a in by_name.get(key, ())
                      if a.external_id is None or not plan.row.external_id]
        if len(candidates) > 1:
            plan.error("ambiguous", count=len(candidates))
        matches[id(plan)] = candidates[0] if len(candidates) == 1 else None
    return matches


def _school_groups(school_id: int) -> dict[tuple[GroupKind, str], int]:
    rows = db.session.execute(select(Group.kind, Group.name, Group.id).where(
        Group.school_id == school_id, Group.kind.in_([GroupKind.CLASS, GroupKind.GROUP])))
    return {(kind, header_key(name)): group_id for kind, name, group_id in rows}


def _memberships(school_id: int, account_ids: list[int]) -> dict[int, dict[int, GroupKind]]:
    """account id → {group id: kind} of its classes and groups in this school."""
    result: dict[int, dict[int, GroupKind]] = defaultdict(dict)
    for chunk in _chunks(account_ids):
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
    for chunk in _chunks(account_ids):
        found.update(db.session.scalars(select(AccountSchool.account_id).where(
            AccountSchool.school_id == school_id, AccountSchool.account_id.in_(chunk))))
    return found


def _children(parent_ids: list[int]) -> dict[int, set[int]]:
    result: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(parent_ids):
        for parent_id, child_id in db.session.execute(
                select(ParentLink.parent_id, ParentLink.child_id)
                .where(ParentLink.parent_id.in_(chunk))):
            result[parent_id].add(child_id)
    return result


def _child_refs(refs: list[str]) -> dict[str, int]:
    """A child named by external id or by login → its account id."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(refs))):
        for account_id, external_id, login in db.session.execute(
                select(Account.id, Account.external_id, Account.login)
                .where(Account.external_id.in_(chunk) | Account.login.in_(chunk))):
            for key in (external_id, login):
                if key in chunk:
                    found[key] = account_id
    return found


def _decide(plan: RowPlan, existing: _Existing | None, groups, memberships, in_school,
            children, child_refs, file_ids, create_classes: bool) -> None:
    if plan.errors:
        return
    row = plan.row
    if row.class_name:
        plan.class_id = groups.get((GroupKind.CLASS, header_key(row.class_name)))
        if plan.class_id is None:
            if not create_classes:
                plan.error("unknown_class", name=row.class_name)
                return
            plan.new_groups.append((GroupKind.CLASS, row.class_name))
            plan.notes.append(Issue("class_created", {"name": row.class_name}))
    for name in row.cohorts:
        group_id = groups.get((GroupKind.GROUP, header_key(name)))
        if group_id is None:
            plan.new_groups.append((GroupKind.GROUP, name))
            plan.notes.append(Issue("group_created", {"name": name}))
        else:
            plan.group_ids.append(group_id)
    for ref in row.parent_of:
        if ref in child_refs:
            plan.child_ids.append(child_refs[ref])
        elif ref not in file_ids:
            plan.error("child_not_found", ref=ref)
    if plan.errors:
        return
    if plan.profile == Profile.PARENT and not row.email:
        plan.notes.append(Issue("parent_without_email"))
    if existing is None:
        plan.fate = Fate.CREATE
        return
    plan.account_id, plan.login = existing.id, existing.login
    changes = plan.changes
    if (existing.first_name, existing.last_name) != (row.first_name, row.last_name):
        changes.append("names")
    if existing.profile != plan.profile:
        changes.append("profile")
    if row.email and (existing.redirect_address or "").lower() != row.email.lower():
        changes.append("email")
    if row.external_id and existing.external_id != row.external_id:
        changes.append("external_id")
    if existing.id not in in_school:
        changes.append("school")
    mine = memberships.get(existing.id, {})
    classes = {g for g, kind in mine.items() if kind == GroupKind.CLASS}
    if row.class_name and (plan.class_id is None or classes != {plan.class_id}):
        changes.append("class")
    if any(kind == GroupKind.GROUP for kind, _ in plan.new_groups) or \
            any(g not in mine for g in plan.group_ids):
        changes.append("groups")
    if set(plan.child_ids) - children.get(existing.id, set()) or \
            any(ref not in child_refs for ref in row.parent_of):
        changes.append("children")
    if row.password:
        plan.notes.append(Issue("password_kept"))
    plan.fate = Fate.UPDATE if changes else Fate.UNCHANGED


def _give_logins(school: School, plans: list[RowPlan]) -> None:
    bases = [login_for(school.login_pattern, school.uai, p.row.first_name, p.row.last_name)
             for p in plans]
    for plan, login in zip(plans, next_free(bases, taken_variants(Account.login, bases)),
                           strict=True):
        plan.login = login


# Writing ----------------------------------------------------------------------------------

def _passwords(creates: list[RowPlan]) -> list[str | None]:
    """The file's password, else one generated when it can be mailed, else None (sheet)."""
    return [plan.row.password or (generate_password() if plan.row.email else None)
            for plan in creates]


def _hashes(creates: list[RowPlan], passwords: list[str | None]) -> list[str]:
    """The file's passwords at the cost of a person's choice, generated ones at theirs."""
    given = [i for i, plan in enumerate(creates) if plan.row.password]
    generated = [i for i, p in enumerate(passwords)
                 if p is not None and not creates[i].row.password]
    hashes = [NO_PASSWORD] * len(creates)
    for indexes, is_generated in ((given, False), (generated, True)):
        for i, hashed in zip(indexes, hash_temporary_passwords(
                [passwords[i] for i in indexes], generated=is_generated), strict=True):
            hashes[i] = hashed
    return hashes


def _write(school: School, plans: list[RowPlan], passwords: list[str | None],
           password_hashes: list[str]) -> list[CreatedAccount]:
    group_ids = _create_groups(school, plans)
    creates = [plan for plan in plans if plan.fate == Fate.CREATE]
    updates = [plan for plan in plans if plan.fate == Fate.UPDATE]
    created = _insert_accounts(school, creates, passwords, password_hashes)
    _update_accounts(updates)
    touched = creates + updates
    joining = [{"account_id": plan.account_id, "school_id": school.id} for plan in touched
               if plan.fate == Fate.CREATE or "school" in plan.changes]
    if joining:
        db.session.execute(insert(AccountSchool), joining)
    _place_in_groups(school, touched, group_ids)
    _link_children(touched)
    if any(kind == GroupKind.CLASS for plan in plans for kind, _ in plan.new_groups):
        from .rubrics import ensure_default_rubrics

        ensure_default_rubrics([school.id])
    return created


def _create_groups(school: School, plans: list[RowPlan]) -> dict[tuple[GroupKind, str], int]:
    wanted = {(kind, header_key(name)): name for plan in plans for kind, name in plan.new_groups}
    existing = _school_groups(school.id)
    missing = [(key[0], name) for key, name in wanted.items() if key not in existing]
    if missing:
        now = utcnow()
        db.session.execute(insert(Group), [
            {"kind": kind, "name": name, "search_name": search_key("", name)[0],
             "description": "", "school_id": school.id, "persistent": False,
             "created_at": now} for kind, name in missing])
        existing = _school_groups(school.id)
    return existing


def _insert_accounts(school: School, creates: list[RowPlan], passwords: list[str | None],
                     password_hashes: list[str]) -> list[CreatedAccount]:
    if not creates:
        return []
    addresses = allocate_addresses([(p.row.first_name, p.row.last_name) for p in creates])
    now = utcnow()
    values = []
    for plan, address, password_hash in zip(creates, addresses, password_hashes, strict=True):
        name_key, first_key = search_key(plan.row.first_name, plan.row.last_name)
        values.append({
            "login": plan.login, "external_id": plan.row.external_id or None,
            "first_name": plan.row.first_name, "last_name": plan.row.last_name,
            "search_name": name_key, "search_first": first_key, "profile": plan.profile,
            "discipline": None, "address": address,
            "redirect_address": plan.row.email or None,
            "redirect_verified": bool(plan.row.email), "pending_redirect_address": None,
            "password_hash": password_hash, "must_change_password": True,
            "suspended": False, "is_admin": False, "is_school_admin": False,
            "created_at": now, "last_access_at": None})
    ids = db.session.scalars(insert(Account).returning(Account.id, sort_by_parameter_order=True),
                             values).all()
    created = []
    for plan, account_id, password in zip(creates, ids, passwords, strict=True):
        plan.account_id = account_id
        created.append(CreatedAccount(
            account_id, plan.login, plan.row.first_name, plan.row.last_name, plan.profile,
            plan.row.email, None if plan.row.password else password, password is None))
    return created


def _update_accounts(updates: list[RowPlan]) -> None:
    by_columns: dict[tuple, list[dict]] = defaultdict(list)
    for plan in updates:
        row, values = plan.row, {"id": plan.account_id}
        if "names" in plan.changes:
            name_key, first_key = search_key(row.first_name, row.last_name)
            values.update(first_name=row.first_name, last_name=row.last_name,
                          search_name=name_key, search_first=first_key)
        if "profile" in plan.changes:
            values["profile"] = plan.profile
        if "email" in plan.changes:
            values.update(redirect_address=row.email, redirect_verified=True)
        if "external_id" in plan.changes:
            values["external_id"] = row.external_id
        if len(values) > 1:
            by_columns[tuple(sorted(values))].append(values)
    for rows in by_columns.values():
        db.session.execute(update(Account), rows)


def _place_in_groups(school: School, plans: list[RowPlan],
                     group_ids: dict[tuple[GroupKind, str], int]) -> None:
    moving, wanted = [], set()
    for plan in plans:
        row = plan.row
        if row.class_name and (plan.fate == Fate.CREATE or "class" in plan.changes):
            moving.append(plan.account_id)
            wanted.add((group_ids[(GroupKind.CLASS, header_key(row.class_name))],
                        plan.account_id))
        if plan.fate == Fate.CREATE or "groups" in plan.changes:
            for name in row.cohorts:
                wanted.add((group_ids[(GroupKind.GROUP, header_key(name))], plan.account_id))
    school_classes = select(Group.id).where(Group.school_id == school.id,
                                            Group.kind == GroupKind.CLASS)
    for chunk in _chunks(moving):
        db.session.execute(delete(GroupMember).where(GroupMember.account_id.in_(chunk),
                                                     GroupMember.group_id.in_(school_classes)))
    present = set()
    accounts = sorted({account_id for _, account_id in wanted})
    for chunk in _chunks(accounts):
        present.update(db.session.execute(select(GroupMember.group_id, GroupMember.account_id)
                                          .where(GroupMember.account_id.in_(chunk))).tuples())
    rows = [{"group_id": g, "account_id": a, "is_manager": False}
            for g, a in sorted(wanted - present)]
    if rows:
        db.session.execute(insert(GroupMember), rows)


def _link_children(plans: list[RowPlan]) -> None:
    refs = sorted({ref for plan in plans for ref in plan.row.parent_of})
    if not refs:
        return
    found = _child_refs(refs)
    wanted = {(plan.account_id, found[ref]) for plan in plans for ref in plan.row.parent_of
              if ref in found}
    present = set()
    for chunk in _chunks(sorted({parent for parent, _ in wanted})):
        present.update(db.session.execute(select(ParentLink.parent_id, ParentLink.child_id)
                                          .where(ParentLink.parent_id.in_(chunk))).tuples())
    rows = [{"parent_id": p, "child_id": c} for p, c in sorted(wanted - present)]
    if rows:
        db.session.execute(insert(ParentLink), rows)
