"""Writing a planned slice of an account import: every write a bulk INSERT or UPDATE, in the
caller's transaction (see account_import.apply_batch)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from .account_file import header_key
from .accounts import new_session_key
from .addresses import allocate_addresses
from .clock import utcnow
from .db import db
from .enums import GroupKind, Profile
from .import_plan import Fate, RowPlan, child_refs, chunks, school_groups
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .naming import search_key
from .passwords import NO_PASSWORD, generate_password, hash_temporary_passwords


class GroupGone(Exception):
    """A class or group the plan found was deleted before the write (by an administrator,
    meanwhile): the batch is rolled back and planned again (account_import.apply_batch)."""


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



def passwords_for(creates: list[RowPlan]) -> list[str | None]:
    """The file's password, else one generated when it can be mailed, else None (sheet)."""
    return [plan.row.password or (generate_password() if plan.row.email else None)
            for plan in creates]


def hashes_of(creates: list[RowPlan], passwords: list[str | None]) -> list[str]:
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


def write(school: School, plans: list[RowPlan], passwords: list[str | None],
           password_hashes: list[str], *, importer: Account | None
           ) -> list[CreatedAccount]:
    """`importer`: the administrator whose file it is, children named among the pupils of
    the school she administers; None: the operator's command line, among the region's."""
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
    _link_children(school.id, importer, touched)
    if any(kind == GroupKind.CLASS for plan in plans for kind, _ in plan.new_groups):
        from .rubrics import ensure_default_rubrics

        ensure_default_rubrics([school.id])
    return created


def _create_groups(school: School, plans: list[RowPlan]) -> dict[tuple[GroupKind, str], int]:
    wanted = {(kind, header_key(name)): name for plan in plans for kind, name in plan.new_groups}
    existing = school_groups(school.id)
    missing = [(key[0], name) for key, name in wanted.items() if key not in existing]
    if missing:
        now = utcnow()
        db.session.execute(insert(Group), [
            {"kind": kind, "name": name, "search_name": search_key("", name)[0],
             "description": "", "school_id": school.id, "persistent": False,
             "created_at": now} for kind, name in missing])
        existing = school_groups(school.id)
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
            "created_at": now, "last_access_at": None, "access_ends_at": plan.access_ends_at,
            # as accounts.create_account: no cookie of a deleted account with the same id
            "session_key": new_session_key()})
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
            # the member's pending request gives way: its link would undo the file's address
            values.update(redirect_address=row.email, redirect_verified=True,
                          pending_redirect_address=None)
        if "external_id" in plan.changes:
            values["external_id"] = row.external_id
        if "access_end" in plan.changes:
            values["access_ends_at"] = plan.access_ends_at
        if len(values) > 1:
            by_columns[tuple(sorted(values))].append(values)
    for rows in by_columns.values():
        db.session.execute(update(Account), rows)


def _place_in_groups(school: School, plans: list[RowPlan],
                     group_ids: dict[tuple[GroupKind, str], int]) -> None:
    def group_id(kind: GroupKind, name: str) -> int:
        if (kind, header_key(name)) not in group_ids:
            raise GroupGone(name)
        return group_ids[(kind, header_key(name))]

    moving, wanted = [], set()
    for plan in plans:
        row = plan.row
        if row.classes and (plan.fate == Fate.CREATE or "class" in plan.changes):
            moving.append(plan.account_id)
            wanted.update((group_id(GroupKind.CLASS, name), plan.account_id)
                          for name in row.classes)
        if plan.fate == Fate.CREATE or "groups" in plan.changes:
            for name in row.cohorts:
                wanted.add((group_id(GroupKind.GROUP, name), plan.account_id))
    school_classes = select(Group.id).where(Group.school_id == school.id,
                                            Group.kind == GroupKind.CLASS)
    for chunk in chunks(moving):
        db.session.execute(delete(GroupMember).where(GroupMember.account_id.in_(chunk),
                                                     GroupMember.group_id.in_(school_classes)))
    present = set()
    accounts = sorted({account_id for _, account_id in wanted})
    for chunk in chunks(accounts):
        present.update(db.session.execute(select(GroupMember.group_id, GroupMember.account_id)
                                          .where(GroupMember.account_id.in_(chunk))).tuples())
    rows = [{"group_id": g, "account_id": a, "is_manager": False}
            for g, a in sorted(wanted - present)]
    if rows:
        db.session.execute(insert(GroupMember), rows)


def _link_children(school_id: int, importer: Account | None, plans: list[RowPlan]) -> None:
    refs = sorted({ref for plan in plans for ref in plan.row.parent_of})
    if not refs:
        return
    found = child_refs(refs, school_id, importer)
    wanted = {(plan.account_id, found[ref]) for plan in plans for ref in plan.row.parent_of
              if found.get(ref) is not None}
    present = set()
    for chunk in chunks(sorted({parent for parent, _ in wanted})):
        present.update(db.session.execute(select(ParentLink.parent_id, ParentLink.child_id)
                                          .where(ParentLink.parent_id.in_(chunk))).tuples())
    rows = [{"parent_id": p, "child_id": c} for p, c in sorted(wanted - present)]
    if rows:
        db.session.execute(insert(ParentLink), rows)
