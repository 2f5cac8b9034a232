"""Administering accounts (SPEC §8), callable without a request.

Who administers whom: a region administrator (`is_admin`) every account; a school
administrator (`is_school_admin`) the accounts of its own schools; nobody else anyone. Every
account an administrator reaches is fetched through `administered_account`, so a forged id
of another school's account is simply not found.

Finding accounts is one SELECT with the filters as conditions, paged by LIMIT/OFFSET in
the order of the name index; the number of results is counted up to a cap (`count_capped`),
first: a page past the last of the capped results is refused before its OFFSET, which the
database would walk row by row (page 100,000 is five million rows).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

import sqlalchemy as sa
from sqlalchemy import and_, delete, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from . import form_keys
from .accounts import access_end_refused, end_sessions, name_refusal
from .clock import has_ended, utcnow
from .db import db
from .enums import GroupKind, Profile
from .errors import InvalidInput
from .import_models import AccountImport
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .naming import login_for, search_key
from .passwords import (
    NO_PASSWORD,
    generate_password,
    hash_generated_password,
    hash_temporary_password,
    hash_temporary_passwords,
)
from .redirects import address_refusal
from .rubric_models import Rubric, RubricManager
from .search import (
    classes_by_account,
    count_capped,
    name_key,
    name_list,
    prefix_condition,
    valid_id,
)

COUNT_CAP = 10_000
MAX_INACTIVE_DAYS = 36_500


def may_administer(admin: Account) -> bool:
    return bool(admin.is_admin or admin.is_school_admin)


def administered_school_ids(admin: Account) -> list[int] | None:
    """None: every school; else the schools whose accounts `admin` administers."""
    if admin.is_admin:
        return None
    if admin.is_school_admin:
        return [school.id for school in admin.schools]
    return []


def scope_condition(admin: Account, account=Account) -> sa.ColumnElement[bool]:
    """The accounts `admin` administers: every one for a region administrator; for a school
    administrator, those of her schools but the administrators' (a region administrator
    belongs to a school too, and whoever sets an account's password or redirect address holds
    it: a school administrator would take the region's), herself excepted."""
    school_ids = administered_school_ids(admin)
    if school_ids is None:
        return true()
    if not school_ids:
        return false()
    return and_(
        account.id.in_(select(AccountSchool.account_id)
                       .where(AccountSchool.school_id.in_(school_ids))),
        or_(account.id == admin.id,
            and_(account.is_admin.is_(False), account.is_school_admin.is_(False))))


def shared_beyond_reach(admin: Account, account=Account) -> sa.ColumnElement[bool]:
    """`account` also belongs to a school `admin` does not administer (a teacher or a parent
    of two schools): it is not hers alone. Whoever sets what lets one act as an account holds
    it, in the other school too: its password (typed, mailed or on a sheet), its redirect
    address (where its mail and a new password go), its names and profile; and whoever
    suspends it, ends its access or reactivates it opens or closes the other school's door.
    So she does none of that to such an account (`edit_account`, `set_suspended`,
    `reset_passwords`, the import's `import_plan`), nor erases it (`delete_accounts` takes it
    out of her schools): it is her classes, groups and pupils she gives it, never who it is."""
    school_ids = administered_school_ids(admin)
    if school_ids is None:
        return false()
    membership = aliased(AccountSchool)     # the query may join AccountSchool already
    return exists().where(membership.account_id == account.id,
                          membership.school_id.not_in(school_ids))


def not_hers_alone(admin: Account, accounts: list[Account]) -> list[Account]:
    """The accounts among `accounts` that are `shared_beyond_reach`, in one query."""
    if not accounts or administered_school_ids(admin) is None:
        return []
    shared = set(db.session.scalars(select(Account.id).where(
        Account.id.in_([account.id for account in accounts]), shared_beyond_reach(admin))))
    return [account for account in accounts if account.id in shared]


def administered_account(admin: Account, account_id: int) -> Account | None:
    if not valid_id(account_id):
        return None
    return db.session.scalar(select(Account).where(Account.id == account_id,
                                                   scope_condition(admin)))


def administered_accounts(admin: Account, account_ids: list[int]) -> list[Account]:
    """The accounts among `account_ids` that `admin` administers, in one query."""
    ids = [i for i in account_ids if valid_id(i)]
    if not ids:
        return []
    return list(db.session.scalars(select(Account).where(Account.id.in_(ids),
                                                         scope_condition(admin))
                                   .order_by(Account.search_name, Account.id)))


def _awaiting_sheet_query(admin: Account, school_id: int) -> sa.Select:
    return (select(Account).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == school_id, Account.password_hash == NO_PASSWORD,
                   Account.suspended.is_(False), scope_condition(admin),
                   ~shared_beyond_reach(admin)))


def awaiting_sheet(admin: Account, school_id: int, limit: int) -> list[Account]:
    """Accounts of a school created without a password (imported with no email) that `admin`
    administers, hers alone: their printable sheet gives them one. A suspended one waits
    until it is reactivated (a sheet for a pupil who has left is handed to nobody)."""
    return list(db.session.scalars(_awaiting_sheet_query(admin, school_id)
                                   .order_by(Account.search_name, Account.id).limit(limit)))


def awaiting_sheet_count(admin: Account, school_id: int) -> int:
    """How many `awaiting_sheet` would give without its limit."""
    return db.session.scalar(select(sa.func.count()).select_from(
        _awaiting_sheet_query(admin, school_id).subquery()))


def administered_schools(admin: Account) -> list[School]:
    school_ids = administered_school_ids(admin)
    query = select(School).order_by(School.name, School.uai)
    if school_ids is not None:
        query = query.where(School.id.in_(school_ids))
    return list(db.session.scalars(query))


def administered_school(admin: Account, school_id: int) -> School | None:
    school_ids = administered_school_ids(admin)
    if not valid_id(school_id) or (school_ids is not None and school_id not in school_ids):
        return None
    return db.session.get(School, school_id)


def administered_import(admin: Account, import_id: int) -> AccountImport | None:
    if not valid_id(import_id):
        return None
    query = select(AccountImport).where(AccountImport.id == import_id)
    school_ids = administered_school_ids(admin)
    if school_ids is not None:
        query = query.where(AccountImport.school_id.in_(school_ids))
    return db.session.scalar(query)


# Finding ----------------------------------------------------------------------------------

class Activity(enum.StrEnum):
    NEVER = "never"             # never logged in
    INACTIVE = "inactive"       # no access for more than `inactive_days`


@dataclass
class AdminFilters:
    name: str = ""
    school_id: int | None = None
    profile: Profile | None = None
    group_id: int | None = None
    suspended: bool | None = None
    activity: Activity | None = None
    inactive_days: int = 30


def find_query(admin: Account, filters: AdminFilters) -> sa.Select:
    """The accounts `admin` administers that match `filters`, sorted by name."""
    query = select(Account).where(scope_condition(admin))
    if filters.name.strip():
        key = name_key(filters.name)
        query = query.where(or_(prefix_condition(Account.search_name, key),
                                prefix_condition(Account.search_first, key)) if key
                            else Account.login == filters.name.strip())
    if filters.school_id is not None:
        query = query.where(Account.id.in_(select(AccountSchool.account_id).where(
            AccountSchool.school_id == filters.school_id)) if valid_id(filters.school_id)
            else false())
    if filters.profile is not None:
        query = query.where(Account.profile == filters.profile)
    if filters.group_id is not None:
        query = query.where(exists().where(GroupMember.group_id == filters.group_id,
                                           GroupMember.account_id == Account.id)
                            if valid_id(filters.group_id) else false())
    if filters.suspended is not None:
        query = query.where(Account.suspended.is_(filters.suspended))
    if filters.activity == Activity.NEVER:
        query = query.where(Account.last_access_at.is_(None))
    elif filters.activity == Activity.INACTIVE:
        days = min(max(filters.inactive_days, 0), MAX_INACTIVE_DAYS)
        query = query.where(or_(Account.last_access_at.is_(None),
                                Account.last_access_at < utcnow() - timedelta(days=days)))
    return query.order_by(Account.search_name, Account.id)


@dataclass
class AccountPage:
    accounts: list[Account]
    total: int                  # counted up to COUNT_CAP + 1
    page: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.page < pages_of(self.total, self.per_page)


class PastLastPage(Exception):
    """A page past the last of the results: `pages` is how many there are."""

    def __init__(self, pages: int):
        super().__init__(pages)
        self.pages = pages


def pages_of(total: int, per_page: int) -> int:
    """Pages of `total` results counted up to COUNT_CAP + 1: those past the cap are not
    paged through."""
    return max(1, ceil(min(total, COUNT_CAP) / per_page))


def find_accounts(admin: Account, filters: AdminFilters, page: int = 1,
                  per_page: int = 50) -> AccountPage:
    """One page of the accounts `filters` find; PastLastPage, before any OFFSET, for a
    page past the last."""
    page = max(page, 1)
    query = find_query(admin, filters)
    total = count_capped(query, COUNT_CAP)
    if page > pages_of(total, per_page):
        raise PastLastPage(pages_of(total, per_page))
    accounts = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return AccountPage(accounts, total, page, per_page)


def groups_of_school(admin: Account, school_id: int | None) -> list[Group]:
    """Classes and groups offered by the filter (of one administered school)."""
    if school_id is None or administered_school(admin, school_id) is None:
        return []
    return list(db.session.scalars(
        select(Group).where(Group.school_id == school_id,
                            Group.kind.in_([GroupKind.CLASS, GroupKind.GROUP]))
        .order_by(Group.kind, Group.search_name)))


# Acting -----------------------------------------------------------------------------------

class EditRefused(Exception):
    """An edit that cannot be made: `code` (missing_name, too_long, unknown_class,
    unknown_child, not_a_pupil, shared_account, access_end_past, own_access_end, not_found,
    and the codes of directory/wording.py name_control and redirect_inside) with its
    parameters; nothing is changed (the caller rolls back)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


class Refusal(enum.StrEnum):
    SELF = "self"                       # one does not suspend or delete oneself
    SHARED = "shared"                   # not hers alone (`shared_beyond_reach`)
    NOT_FOUND = "not_found"


def set_suspended(admin: Account, accounts: list[Account], suspended: bool) -> list[Refusal]:
    """Suspend (no login, mail refused 550 5.2.1, absent from pickers) or reactivate, every
    account but `admin` herself and those not hers alone: one refusal for each left as it
    was. Reactivating an account whose access has ended removes that end, which would
    otherwise suspend it again (directory.accounts.end_ended_access). Either way its
    sessions end: a cookie taken before a suspension does not come back with the
    reactivation."""
    refusals = []
    now = utcnow()
    shared = {account.id for account in not_hers_alone(admin, accounts)}
    for account in accounts:
        if account.id == admin.id:
            refusals.append(Refusal.SELF)
            continue
        if account.id in shared:
            refusals.append(Refusal.SHARED)
            continue
        account.suspended = suspended
        end_sessions(account)
        if not suspended and has_ended(account.access_ends_at, now):
            account.access_ends_at = None
    return refusals


@dataclass
class NewPassword:
    account: Account
    password: str
    mail_to: str | None          # the verified redirect address it is sent to, else None


@dataclass
class PasswordReset:
    new: list[NewPassword]
    refused: list[Refusal]      # one for each account whose password is left as it was


def reset_passwords(admin: Account, accounts: list[Account],
                    password: str | None = None, *, first_only: bool = False) -> PasswordReset:
    """A new password that must be changed at next login, on every account hers alone (the
    others: Refusal.SHARED): the one typed (checked against the policy by the caller), else
    a generated one. Where it goes: the verified redirect address when there is one, else a
    printable sheet (the caller shows it).

    `first_only`: the first password of accounts that had none (`awaiting_sheet`), given
    only to those that still have none, by a conditional UPDATE each. Printed twice at once
    (two tabs, two administrators), each account is in one printing's `new` only, the one
    whose password it holds; in the other it is in neither list. On PostgreSQL the second
    UPDATE waits for the first's commit, then finds the password set."""
    shared = {account.id for account in not_hers_alone(admin, accounts)}
    kept = [account for account in accounts if account.id not in shared]
    passwords = [password or generate_password() for _ in kept]
    hashes = hash_temporary_passwords(passwords, generated=password is None) if kept else []
    reset = PasswordReset(new=[], refused=[Refusal.SHARED] * len(shared))
    for account, plain, hashed in zip(kept, passwords, hashes, strict=True):
        if first_only and not _first_password(account, hashed):
            continue
        account.password_hash = hashed
        account.must_change_password = True
        end_sessions(account)       # a password change ends every session (SPEC §10)
        reset.new.append(NewPassword(account, plain, account.verified_redirect))
    return reset


def _first_password(account: Account, password_hash: str) -> bool:
    """Set `password_hash` on `account` if it still has no password; whether it did."""
    given = db.session.execute(
        sa.update(Account).where(Account.id == account.id,
                                 Account.password_hash == NO_PASSWORD)
        .values(password_hash=password_hash).execution_options(synchronize_session=False))
    return given.rowcount == 1


@dataclass
class Deletion:
    refused: list[Refusal]
    #: kept, for they belong to schools the administrator does not administer too (a teacher
    #: of two schools, a parent of two): only taken out of hers (`withdraw_from_schools`)
    withdrawn: list[Account]


def delete_accounts(admin: Account, accounts: list[Account]) -> Deletion:
    """Erase the accounts and, through the foreign keys, everything personal attached to
    them (mailbox, address book, memberships, links); what they wrote to others stays with
    the others, without author. Their universal address stays allocated, never reused.
    An account that also belongs to a school `admin` does not administer is not hers to
    erase: it only leaves her schools. The messages themselves are mailgate's: call
    `mailgate.mailbox.delete_accounts`, which also erases those only these mailboxes held."""
    deletion = Deletion(refused=[], withdrawn=[])
    shared = {account.id for account in not_hers_alone(admin, accounts)}
    for account in accounts:
        if account.id == admin.id:
            deletion.refused.append(Refusal.SELF)
        elif account.id in shared:
            withdraw_from_schools(admin, account)
            deletion.withdrawn.append(account)
        else:
            db.session.delete(account)
    db.session.flush()
    return deletion


def schools_beyond_reach(admin: Account, account: Account) -> list[School]:
    """The schools of `account` that `admin` does not administer (what the delete page names
    when the account is `shared_beyond_reach`)."""
    school_ids = administered_school_ids(admin)
    if school_ids is None:
        return []
    return [school for school in account.schools if school.id not in school_ids]


def withdraw_from_schools(admin: Account, account: Account) -> None:
    """Take `account` out of the schools `admin` administers: its membership of them, of
    their groups (classes, institutional and ad hoc), of their rubrics' managers and its
    links to their pupils. It keeps its other schools, mailbox and password."""
    school_ids = administered_school_ids(admin) or []
    db.session.execute(delete(GroupMember).where(
        GroupMember.account_id == account.id,
        GroupMember.group_id.in_(select(Group.id).where(Group.school_id.in_(school_ids)))))
    db.session.execute(delete(ParentLink).where(
        ParentLink.parent_id == account.id,
        ParentLink.child_id.in_(select(Account.id).where(scope_condition(admin)))))
    db.session.execute(delete(RubricManager).where(
        RubricManager.account_id == account.id,
        RubricManager.rubric_id.in_(select(Rubric.id).where(Rubric.school_id.in_(school_ids)))))
    db.session.execute(delete(AccountSchool).where(AccountSchool.account_id == account.id,
                                                   AccountSchool.school_id.in_(school_ids)))
    db.session.expire(account)


@dataclass
class AccountEdit:
    first_name: str
    last_name: str
    profile: Profile
    class_id: int | None                 # None: leave the classes as they are
    redirect_address: str                # "" keeps none
    children_logins: list[str]
    school_admin: bool | None = None     # None: unchanged; only a region administrator
    #: when the account stops giving access (None: no end); used only when `new_access_end`
    access_ends_at: datetime | None = None
    new_access_end: bool = False


def edit_account(admin: Account, account: Account, edit: AccountEdit) -> None:
    """Change names, profile, class, redirect address, children and the end of access (never
    one already past: suspending is how access stops now); EditRefused when a value cannot
    be used. Names, profile, redirect address and end of access only on an account hers
    alone (`shared_beyond_reach`). New names and a new redirect address follow the rules of
    creation (`name_refusal`, `address_refusal`); values left as they were are not refused."""
    first, last = edit.first_name.strip(), edit.last_name.strip()
    if not first or not last:
        raise EditRefused("missing_name")
    if len(first) > 100 or len(last) > 100:
        raise EditRefused("too_long")
    address = edit.redirect_address.strip()
    names_change = (first, last) != (account.first_name, account.last_name)
    address_changes = address != (account.redirect_address or "")
    refusal = (name_refusal(first, last) if names_change else None) or \
        (address_refusal(address) if address and address_changes else None)
    if refusal is not None:
        raise EditRefused(refusal.code, **refusal.params)
    identity_changes = (names_change or edit.profile != account.profile or address_changes
                        or edit.new_access_end)
    if identity_changes and not_hers_alone(admin, [account]):
        raise EditRefused("shared_account")
    if names_change:
        account.first_name, account.last_name = first, last
        account.search_name, account.search_first = search_key(first, last)
    account.profile = edit.profile
    if address_changes:
        account.redirect_address = address or None
        account.redirect_verified = bool(address)
        # The member's own request, not yet verified, gives way: its link would undo this.
        account.pending_redirect_address = None
    if edit.class_id is not None:
        _move_to_class(admin, account, edit.class_id)
    _set_children(admin, account, edit.children_logins)
    if edit.school_admin is not None and admin.is_admin:
        account.is_school_admin = edit.school_admin
    if edit.new_access_end:
        if account.id == admin.id and edit.access_ends_at is not None:
            raise EditRefused("own_access_end")     # as one does not suspend oneself
        if access_end_refused(account.access_ends_at, edit.access_ends_at):
            raise EditRefused("access_end_past")
        account.access_ends_at = edit.access_ends_at


def _move_to_class(admin: Account, account: Account, class_id: int) -> None:
    school_ids = [school.id for school in account.schools]
    target = db.session.scalar(select(Group).where(
        Group.id == class_id, Group.kind == GroupKind.CLASS, Group.school_id.in_(school_ids)))
    if target is None or administered_school(admin, target.school_id) is None:
        raise EditRefused("unknown_class")
    classes = select(Group.id).where(Group.school_id == target.school_id,
                                     Group.kind == GroupKind.CLASS)
    db.session.execute(delete(GroupMember).where(GroupMember.account_id == account.id,
                                                 GroupMember.group_id.in_(classes)))
    db.session.add(GroupMember(group_id=target.id, account_id=account.id, is_manager=False))


def _set_children(admin: Account, account: Account, logins: list[str]) -> None:
    """The parent's children among those `admin` administers become `logins`, pupils only;
    a child of a school she does not administer keeps its link (a parent of two schools,
    SPEC §1)."""
    logins = sorted({login.strip() for login in logins if login.strip()})
    children = list(db.session.scalars(select(Account).where(
        Account.login.in_(logins), scope_condition(admin)))) if logins else []
    if len(children) != len(logins):
        missing = sorted(set(logins) - {child.login for child in children})
        raise EditRefused("unknown_child", login=missing[0])
    not_pupils = [child.login for child in children if child.profile != Profile.STUDENT]
    if not_pupils:
        raise EditRefused("not_a_pupil", login=not_pupils[0])
    db.session.execute(delete(ParentLink).where(
        ParentLink.parent_id == account.id,
        ParentLink.child_id.in_(select(Account.id).where(scope_condition(admin)))))
    kept = set(db.session.scalars(select(ParentLink.child_id).where(
        ParentLink.parent_id == account.id)))
    for child in children:
        if child.id not in kept:
            db.session.add(ParentLink(parent_id=account.id, child_id=child.id))


def children_of(account: Account, admin: Account | None = None) -> list[Account]:
    """The account's children; with `admin`, only those she administers."""
    query = select(Account).join(ParentLink, ParentLink.child_id == Account.id).where(
        ParentLink.parent_id == account.id).order_by(Account.search_name)
    if admin is not None:
        query = query.where(scope_condition(admin))
    return list(db.session.scalars(query))


def classes_of(account: Account, admin: Account) -> list[Group]:
    """The account's classes in the schools `admin` administers (a parent or a teacher of
    two schools: the other's classes are not hers to see)."""
    query = select(Group).join(GroupMember, GroupMember.group_id == Group.id).where(
        GroupMember.account_id == account.id, Group.kind == GroupKind.CLASS)
    school_ids = administered_school_ids(admin)
    if school_ids is not None:
        query = query.where(Group.school_id.in_(school_ids))
    return list(db.session.scalars(query.order_by(Group.name)))


def administered_classes_by_account(admin: Account, account_ids: list[int]
                                    ) -> dict[int, list[str]]:
    """`search.classes_by_account`, only the classes of the schools `admin` administers."""
    school_ids = administered_school_ids(admin)
    if school_ids is None:
        return classes_by_account(account_ids)
    classes: dict[int, list[str]] = {}
    if not account_ids:
        return classes
    rows = db.session.execute(   # kind and school checked here, as classes_by_account does
        select(GroupMember.account_id, Group.name, Group.kind, Group.school_id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.account_id.in_(list(account_ids))))
    for account_id, name, kind, school_id in sorted(rows, key=lambda row: row[1]):
        if kind == GroupKind.CLASS and school_id in school_ids:
            classes.setdefault(account_id, []).append(name)
    return classes


def administered_class_names(admin: Account, account=Account) -> sa.ScalarSelect:
    """The names of `account`'s classes in the schools `admin` administers, correlated as
    `search.class_names` (the export's « Classe » column)."""
    query = (select(name_list(Group.name).filter(Group.kind == GroupKind.CLASS))
             .join(GroupMember, GroupMember.group_id == Group.id)
             .where(GroupMember.account_id == account.id))
    school_ids = administered_school_ids(admin)
    if school_ids is not None:
        query = query.where(Group.school_id.in_(school_ids))
    return query.scalar_subquery()


# Creating by hand -------------------------------------------------------------------------

@dataclass
class NewAccount:
    school: School
    first_name: str
    last_name: str
    profile: Profile
    class_id: int | None = None
    redirect_address: str = ""
    password: str = ""                  # "" → generated
    #: the key the form carried, drawn when it was shown: with what the form says of the
    #: person, it finds the account it already created (`created_by_form`)
    form_key: str = ""


def creation_key(new: NewAccount) -> str:
    """The form's key with the person it creates: a double click (the same form, the same
    person) finds the first account; the same form sent again for someone else (after the
    browser's « Précédent ») creates theirs. The password is left out: the same person with
    another password typed is still the same person."""
    return form_keys.key(new.form_key, [new.school.id, new.first_name.strip(),
                                        new.last_name.strip(), new.profile.value,
                                        new.class_id or "", new.redirect_address.strip()])


def login_of(school: School, first_name: str, last_name: str) -> str:
    """The school's nomenclature with a collision number: '0310024h.v.blondel2'."""
    from .allocation import allocate

    return allocate(Account.login, [login_for(school.login_pattern, school.uai,
                                              first_name, last_name)])[0]


def create_by_hand(admin: Account, new: NewAccount) -> tuple[Account, str]:
    """The account and its first password (to send or print); the caller commits.
    InvalidInput when a name or the redirect address cannot be used (`create_account`,
    `address_refusal`)."""
    from .accounts import create_account

    if administered_school(admin, new.school.id) is None:
        raise EditRefused("not_found")
    address = new.redirect_address.strip()
    refusal = address_refusal(address) if address else None
    if refusal is not None:
        raise InvalidInput(refusal)
    password = new.password or generate_password()
    account = create_account(
        login=login_of(new.school, new.first_name, new.last_name),
        first_name=new.first_name, last_name=new.last_name, profile=new.profile,
        password=password, schools=[new.school], must_change_password=True,
        password_hash=hash_temporary_password(password) if new.password
        else hash_generated_password(password))
    if address:
        account.redirect_address = address
        account.redirect_verified = True
    db.session.flush()
    if new.class_id is not None:
        _move_to_class(admin, account, new.class_id)
    if new.form_key:
        form_keys.record(admin.id, creation_key(new), Account, account.id)
    return account, password


def created_by_form(admin: Account, new: NewAccount) -> Account | None:
    """The account `admin`'s « Créer un compte » form already created for this person, if it
    did (`creation_key`)."""
    if not new.form_key:
        return None
    return form_keys.made_by(admin.id, creation_key(new), Account)


UPLOADS_KEPT = timedelta(days=2)
#: an upload whose application was started and not finished is kept this long: its
#: administrator may still be applying it, batch after batch (deleted, the next batch would
#: answer 404 halfway through, with no result page)
UPLOADS_BEING_APPLIED_KEPT = timedelta(days=7)


def keep_upload(admin: Account, school: School, filename: str, content: bytes,
                create_classes: bool) -> AccountImport:
    """Keep an uploaded file until it is applied (then its content is erased); every upload
    is deleted after UPLOADS_KEPT, one being applied after UPLOADS_BEING_APPLIED_KEPT
    (`forget_stale_uploads`), since it may hold passwords."""
    forget_stale_uploads()
    upload = AccountImport(school_id=school.id, author_id=admin.id, filename=filename[:200],
                           content=content, create_classes=create_classes,
                           created_at=utcnow(), rows_done=0, created_count=0,
                           updated_count=0, error_lines="", awaiting_sheet_count=0)
    db.session.add(upload)
    db.session.flush()
    return upload


def forget_stale_uploads(now: datetime | None = None) -> int:
    """Delete the uploaded files older than UPLOADS_KEPT, applied or never: they may hold
    passwords; one whose application was started and is not finished once older than
    UPLOADS_BEING_APPLIED_KEPT (it is being applied: deleted, its next batch would fail
    halfway; the model keeps no time of the last batch, so its age is counted from the
    upload too). At each upload, and from the outbound worker's periodic purge
    (mailgate/worker.py `_purge`), so that a file nobody comes back to goes too. The caller
    commits; how many were deleted."""
    now = now or utcnow()
    being_applied = and_(AccountImport.rows_done > 0, AccountImport.finished_at.is_(None))
    return db.session.execute(delete(AccountImport).where(
        AccountImport.created_at < now - UPLOADS_KEPT,
        or_(~being_applied,
            AccountImport.created_at < now - UPLOADS_BEING_APPLIED_KEPT))).rowcount
