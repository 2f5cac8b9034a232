"""The values of the merge fields of a message to many (SPEC §9) for its recipients: first
and last name, login, class, school, and for a parent their children's first names.
Four queries for any number of people: the worker reads those of a whole batch of forwards
at once (mailgate/personalise.py), a page those of the one recipient it previews."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from .db import db
from .enums import GroupKind, Profile
from .models import Account, AccountSchool, Group, GroupMember, ParentLink, School
from .sets import any_of


def values(account_id: int) -> dict[str, str]:
    """Field name → text for `account_id` ({} for an account that no longer exists)."""
    return values_of([account_id]).get(account_id, {})


def values_of(account_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """`values` of each of `account_ids` that exists."""
    ids = set(account_ids)
    if not ids:
        return {}
    people = db.session.execute(
        select(Account.id, Account.first_name, Account.last_name, Account.login,
               Account.profile).where(any_of(Account.id, ids))).all()
    children: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for parent_id, child_id, first_name in db.session.execute(
            select(ParentLink.parent_id, Account.id, Account.first_name)
            .join(Account, Account.id == ParentLink.child_id)
            .where(any_of(ParentLink.parent_id, ids),
                   Account.suspended.is_(False))  # the rule of rights.active_child
            .order_by(Account.first_name, Account.id)):
        children[parent_id].append((child_id, first_name))
    whose_classes = {person.id: [child_id for child_id, _ in children[person.id]]
                     if person.profile == Profile.PARENT else [person.id] for person in people}
    classes: dict[int, set[str]] = defaultdict(set)
    for account_id, name in db.session.execute(
            select(GroupMember.account_id, Group.name)
            .join(Group, Group.id == GroupMember.group_id)
            .where(any_of(GroupMember.account_id,
                          {i for whose in whose_classes.values() for i in whose}),
                   Group.kind == GroupKind.CLASS)):
        classes[account_id].add(name)
    school: dict[int, str] = {}
    for account_id, name in db.session.execute(
            select(AccountSchool.account_id, School.name)
            .join(School, School.id == AccountSchool.school_id)
            .where(any_of(AccountSchool.account_id, ids)).order_by(School.uai)):
        school.setdefault(account_id, name)
    return {person.id: {
        "prenom": person.first_name, "nom": person.last_name, "identifiant": person.login,
        "classe": ", ".join(sorted({name for whose in whose_classes[person.id]
                                    for name in classes[whose]})),
        "etablissement": school.get(person.id, ""),
        "enfant": ", ".join(first_name for _, first_name in children[person.id])}
        for person in people}
