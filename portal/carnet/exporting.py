"""vCard export of one group or of the whole book: one card per person the owner may still
find in the directory, with the universal address only (the redirect address is never read
here), the person's schools as ORG and the owner's groups holding them as CATEGORIES — so
that importing the file again rebuilds the same groups. Two queries whatever the size of the
book.

A member the owner can no longer find (suspended, gone to another school) is left out: the
group's page names them only (book.py: the book never tells more of a person than the
directory would), and their address would tell whether the account still exists."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from directory.db import db
from directory.domain import universal
from directory.models import Account, AccountSchool, School
from directory.search import perimeter_condition

from .models import ContactGroup, ContactMember
from .vcard import Entry, write_cards


def export_book(owner: Account, version: str,
                group: ContactGroup | None = None) -> str:
    in_book = ContactGroup.owner_id == owner.id
    if group is not None:
        in_book = in_book & (ContactGroup.id == group.id)
    rows = db.session.execute(
        select(Account.id, Account.first_name, Account.last_name, Account.address,
               ContactGroup.name)
        .join(ContactMember, ContactMember.account_id == Account.id)
        .join(ContactGroup, ContactGroup.id == ContactMember.group_id)
        .where(in_book, perimeter_condition(owner))
        .order_by(Account.search_name, Account.id, ContactGroup.name_key))
    entries: dict[int, Entry] = {}
    for account_id, first, last, address, group_name in rows:
        if account_id not in entries:
            entries[account_id] = Entry(full_name=f"{first} {last}".strip(), family=last,
                                        given=first, email=universal(address))
        entries[account_id].categories.append(group_name)
    findable_members = (select(ContactMember.account_id)
                        .join(ContactGroup, ContactGroup.id == ContactMember.group_id)
                        .join(Account, Account.id == ContactMember.account_id)
                        .where(in_book, perimeter_condition(owner)))
    schools = _schools(findable_members)
    for account_id, entry in entries.items():
        entry.organisations = schools.get(account_id, [])
    return write_cards(entries.values(), version)


def _schools(account_ids) -> dict[int, list[str]]:
    names: dict[int, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(AccountSchool.account_id, School.name)
        .join(School, School.id == AccountSchool.school_id)
        .where(AccountSchool.account_id.in_(account_ids))
        .order_by(School.uai))
    for account_id, name in rows:
        if name not in names[account_id]:
            names[account_id].append(name)
    return names
