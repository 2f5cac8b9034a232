"""The account of a signed-in request, read at every request with its schools and role
overrides, in one statement run on the driver's cursor (directory/driver_reads.py).

The ORM loading this account (joined eager loads, unique rows) was the largest piece of a
directory search's own CPU after the page itself. Here the statement's row is read on the
driver's cursor and the objects are built as a query builds them: no constructor, the columns
straight into the instance's dictionary, the collections set as loaded
(`set_committed_value`), no attribute event (those events were about a quarter of the load's
CPU). Unlike a query, no `load` event fires: these models have no listener for it (a test
says so). The objects are then attached to the session as persistent
(`make_transient_to_detached`, then `Session.add`): their attributes have no history, nothing
is written at the next flush unless changed, and a change (the last access, say) is an UPDATE
of that row as for any loaded account.
"""
from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Integer, String, bindparam, exists, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from .db import db
from .driver_reads import kept_per_database
from .models import Account, AccountSchool, EndedSession, RoleOverride, School

Model = TypeVar("Model")
_ACCOUNT = tuple(column.key for column in Account.__table__.columns)
_SCHOOL = tuple(column.key for column in School.__table__.columns)


def account_of_session(account_id: int, token: str) -> Account | None:
    """The account `account_id`, unless it is suspended or the session `token` was ended,
    attached to the request's session with its schools (by UAI) and role overrides."""
    known = db.session.identity_map
    if identity_key(Account, account_id) in known:  # already read in this transaction
        return _through_the_orm(account_id, token)
    connection = db.session.connection()
    rows = _read(connection.dialect).rows(connection, {"account_id": account_id,
                                                        "token": token})
    if not rows:
        return None
    if any(identity_key(RoleOverride, (account_id, row.override_role)) in known
           for row in rows if row.override_role is not None):
        return _through_the_orm(account_id, token)      # one object per row in a session
    first = rows[0]
    account = _as_loaded(Account, {name: getattr(first, name) for name in _ACCOUNT})
    schools, overrides, built = {}, {}, []
    for row in rows:
        if row.school_id is not None and row.school_id not in schools:
            # the one this session has already read, if any: one object per row
            school = known.get(identity_key(School, row.school_id))
            if school is None:
                school = _as_loaded(School, {name: getattr(row, f"school_{name}")
                                             for name in _SCHOOL})
                built.append(school)
            schools[row.school_id] = school
        if row.override_role is not None:
            overrides[row.override_role] = _as_loaded(RoleOverride, {
                "account_id": account_id, "role": row.override_role,
                "granted": row.override_granted})
    set_committed_value(account, "schools", list(schools.values()))
    set_committed_value(account, "role_overrides", list(overrides.values()))
    for loaded in (*built, *overrides.values(), account):
        make_transient_to_detached(loaded)
    db.session.add(account)
    return account


def _as_loaded(model: type[Model], columns: dict) -> Model:
    """An instance of `model` holding `columns` (every one of its table, by attribute name),
    as a query builds it: its state made by the mapper, no constructor, no attribute event.
    A name that is not an attribute would leave the attribute unloaded, read again by a
    statement of its own: the tests check that nothing is left to load."""
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(columns)
    return instance


def _statement():
    ended = exists().where(EndedSession.token == bindparam("token", type_=String))
    school_columns = [column.label(f"school_{column.key}") for column in School.__table__.c]
    return (select(*Account.__table__.c, *school_columns,
                   RoleOverride.role.label("override_role"),
                   RoleOverride.granted.label("override_granted"))
            .select_from(Account)
            .outerjoin(AccountSchool, AccountSchool.account_id == Account.id)
            .outerjoin(School, School.id == AccountSchool.school_id)
            .outerjoin(RoleOverride, RoleOverride.account_id == Account.id)
            .where(Account.id == bindparam("account_id", type_=Integer),
                   Account.suspended.is_(False), ~ended)
            .order_by(School.uai))


_read = kept_per_database(_statement)


def _through_the_orm(account_id: int, token: str) -> Account | None:
    ended = exists().where(EndedSession.token == token)
    return db.session.scalars(select(Account).where(
        Account.id == account_id, Account.suspended.is_(False), ~ended)).one_or_none()
