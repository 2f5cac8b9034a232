"""The values of the merge fields of a message to many (SPEC §9) for one recipient:
first and last name, login, class, school, and for a parent their children's first names.
A handful of indexed queries per person: the worker asks when it forwards one message, a
page when it previews one recipient — never for a whole population at once."""
from __future__ import annotations

from sqlalchemy import select

from .db import db
from .enums import GroupKind, Profile
from .models import Account, Group, GroupMember, ParentLink, School


def values(account_id: int) -> dict[str, str]:
    """Field name → text for `account_id` ({} for an account that no longer exists)."""
    person = db.session.get(Account, account_id)
    if person is None:
        return {}
    children = list(db.session.scalars(
        select(Account).join(ParentLink, ParentLink.child_id == Account.id)
        .where(ParentLink.parent_id == person.id).order_by(Account.first_name, Account.id)))
    whose_classes = [c.id for c in children] if person.profile == Profile.PARENT else [person.id]
    classes = sorted(set(db.session.scalars(
        select(Group.name).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.account_id.in_(whose_classes), Group.kind == GroupKind.CLASS))))
    school = db.session.scalar(select(School.name).where(
        School.id.in_([s.id for s in person.schools])).order_by(School.uai).limit(1))
    return {"prenom": person.first_name, "nom": person.last_name, "identifiant": person.login,
            "classe": ", ".join(classes), "etablissement": school or "",
            "enfant": ", ".join(child.first_name for child in children)}
