"""People and classes the rubric tests need beyond the small demo region (600 accounts:
one class per level, so no 4B)."""
from __future__ import annotations

import itertools
import os

from sqlalchemy import select

from directory.accounts import create_account
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember, ParentLink, School
from directory.rubric_models import Rubric
from directory.rubrics import ensure_default_rubrics

_serial = itertools.count(1)


def account(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def person(profile: Profile, school: School, *, redirect: str | None = None,
           group: Group | None = None, parent_of: Account | None = None) -> Account:
    n = next(_serial)
    created = create_account(login=f"rb-{os.getpid()}-{n}", first_name="Test",
                             last_name=f"Rubrique{os.getpid()}x{n}", profile=profile,
                             password="Preau-demo-2026!", schools=[school])
    created.redirect_address, created.redirect_verified = redirect, redirect is not None
    db.session.flush()
    if group is not None:
        db.session.add(GroupMember(group_id=group.id, account_id=created.id))
    if parent_of is not None:
        db.session.add(ParentLink(parent_id=created.id, child_id=parent_of.id))
    db.session.flush()
    return created


def school_class(name: str, school: School) -> Group:
    """The class `name` of the school, made (with a pupil and her parent) if missing, and
    its rubric."""
    group = db.session.scalar(select(Group).where(
        Group.name == name, Group.kind == GroupKind.CLASS, Group.school_id == school.id))
    if group is None:
        group = Group(kind=GroupKind.CLASS, name=name, search_name=name.lower(),
                      school_id=school.id)
        db.session.add(group)
        db.session.flush()
        pupil = person(Profile.STUDENT, school, group=group)
        person(Profile.PARENT, school, redirect="parent.4b@example.org", parent_of=pupil)
        ensure_default_rubrics([school.id])
    return group


def rubric_of(group: Group) -> Rubric:
    return db.session.scalar(select(Rubric).where(Rubric.default_of == f"group:{group.id}"))


def parent_of_a_pupil_of(group: Group) -> Account:
    return db.session.scalar(
        select(Account).join(ParentLink, ParentLink.parent_id == Account.id)
        .join(GroupMember, GroupMember.account_id == ParentLink.child_id)
        .where(GroupMember.group_id == group.id).order_by(Account.id).limit(1))
