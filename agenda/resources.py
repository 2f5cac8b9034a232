"""The rooms and equipment a school's events may reserve. Managed by the school's staff
(Personnel non enseignant) and administrators; reserved by whoever writes an agenda of the
school. A resource is archived rather than deleted: its past bookings stay explained."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from directory.db import db
from directory.enums import Profile
from directory.models import Account, School

from .errors import AgendaError, Problem
from .models import Resource, ResourceKind


def may_manage(account: Account) -> bool:
    return account.is_admin or account.profile == Profile.STAFF


def managed_schools(account: Account) -> list[School]:
    if account.is_admin:
        return list(db.session.scalars(select(School).order_by(School.name)))
    return list(account.schools) if may_manage(account) else []


def of_schools(school_ids, *, active_only: bool = True) -> list[Resource]:
    query = select(Resource).where(Resource.school_id.in_(list(school_ids)))
    if active_only:
        query = query.where(Resource.active.is_(True))
    return list(db.session.scalars(query.order_by(Resource.name, Resource.id)))


def create(manager: Account, school_id: int, name: str, kind: ResourceKind) -> Resource:
    """The caller commits."""
    name = " ".join((name or "").split())
    if not name:
        raise AgendaError(Problem.RESOURCE_NAME_MISSING)
    if school_id not in {s.id for s in managed_schools(manager)}:
        raise AgendaError(Problem.UNKNOWN_RESOURCE)
    if db.session.scalar(select(Resource.id).where(Resource.school_id == school_id,
                                                   Resource.name == name)) is not None:
        raise AgendaError(Problem.RESOURCE_NAME_TAKEN, name=name)
    resource = Resource(school_id=school_id, name=name, kind=kind, active=True)
    try:        # the same name created at the same instant (a double click): the key refuses
        with db.session.begin_nested():
            db.session.add(resource)
    except IntegrityError:
        raise AgendaError(Problem.RESOURCE_NAME_TAKEN, name=name) from None
    return resource


def managed_resource(manager: Account, resource_id: int) -> Resource | None:
    resource = db.session.get(Resource, resource_id)
    if resource is None or resource.school_id not in {s.id for s in managed_schools(manager)}:
        return None
    return resource
