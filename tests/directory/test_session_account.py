"""The account of a signed-in request (directory/session_account.py) is the account the ORM
would load: every column, its schools by UAI and its role overrides, attached to the session
with nothing to write, and written like any loaded account once changed."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, inspect, select

from directory.accounts import school_by_uai
from directory.clock import utcnow
from directory.db import db
from directory.enums import Role
from directory.models import Account, AccountSchool, EndedSession, RoleOverride, School
from directory.role_grants import grant_role, remove_role
from directory.session_account import account_of_session
from tests.query_count import counting


def _claire_with_two_schools_and_two_overrides() -> int:
    claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
    other = db.session.scalar(select(School).where(School.uai != claire.schools[0].uai)
                              .order_by(School.uai))
    db.session.execute(insert(AccountSchool).values(account_id=claire.id, school_id=other.id))
    grant_role(claire, Role.DIRECTORY_ADVANCED)
    remove_role(claire, Role.SEND_EXTENDED)
    account_id = claire.id
    db.session.commit()
    db.session.expunge_all()
    return account_id


def _loaded_by_the_orm(account_id: int) -> dict:
    account = db.session.get(Account, account_id)
    found = {column.key: getattr(account, column.key) for column in Account.__table__.columns}
    found["schools"] = [school.uai for school in account.schools]
    found["overrides"] = sorted((o.role, o.granted) for o in account.role_overrides)
    db.session.expunge_all()
    return found


def test_the_account_is_the_one_the_orm_loads(ctx):
    account_id = _claire_with_two_schools_and_two_overrides()
    expected = _loaded_by_the_orm(account_id)
    account = account_of_session(account_id, "no-such-session")
    for built in (account, *account.schools, *account.role_overrides):     # nothing to read
        state = inspect(built)
        assert state.persistent and not state.unloaded and not state.expired_attributes
    found = {column.key: getattr(account, column.key) for column in Account.__table__.columns}
    found["schools"] = [school.uai for school in account.schools]
    found["overrides"] = sorted((o.role, o.granted) for o in account.role_overrides)
    assert found == expected
    assert len(expected["schools"]) == 2 and expected["schools"] == sorted(expected["schools"])
    assert len(expected["overrides"]) == 2
    assert db.session.get(Account, account_id) is account
    assert not db.session.dirty and not db.session.new


def test_nothing_is_written_unless_changed_then_only_the_change(ctx):
    account_id = _claire_with_two_schools_and_two_overrides()
    account = account_of_session(account_id, "")
    with counting(ctx) as written:
        db.session.flush()
        assert [s for s in written if not s.startswith("SELECT")] == []
        account.last_access_at = utcnow()
        db.session.commit()
    changes = [s for s in written if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(changes) == 1 and changes[0].startswith("UPDATE account SET last_access_at")
    db.session.expunge_all()
    assert _loaded_by_the_orm(account_id)["last_access_at"] is not None


def test_a_suspended_account_or_an_ended_session_has_no_account(ctx):
    account_id = _claire_with_two_schools_and_two_overrides()
    db.session.add(EndedSession(token="ended", until=utcnow() + timedelta(days=1)))
    db.session.commit()
    assert account_of_session(account_id, "ended") is None
    db.session.get(Account, account_id).suspended = True
    db.session.commit()
    db.session.expunge_all()
    assert account_of_session(account_id, "") is None


def test_a_school_or_account_already_read_is_the_same_object(ctx):
    account_id = _claire_with_two_schools_and_two_overrides()
    school = school_by_uai(_loaded_by_the_orm(account_id)["schools"][0])
    account = account_of_session(account_id, "")
    assert school in account.schools
    db.session.expunge_all()
    already = db.session.get(Account, account_id)
    assert account_of_session(account_id, "") is already


def test_an_account_without_school_or_override_has_both_lists_loaded_and_empty(ctx):
    account_id = db.session.scalar(select(Account.id).where(Account.login == "paul.durand"))
    db.session.execute(delete(AccountSchool).where(AccountSchool.account_id == account_id))
    db.session.execute(delete(RoleOverride).where(RoleOverride.account_id == account_id))
    db.session.commit()
    db.session.expunge_all()
    account = account_of_session(account_id, "")
    with counting(ctx) as seen:
        assert account.schools == [] and account.role_overrides == []
    assert seen == []


def test_an_override_already_read_in_the_session_is_the_one_the_account_holds(ctx):
    account_id = _claire_with_two_schools_and_two_overrides()
    override = db.session.scalars(select(RoleOverride)
                                  .where(RoleOverride.account_id == account_id)).first()
    account = account_of_session(account_id, "")
    assert override in account.role_overrides
    assert len(account.role_overrides) == 2 and not db.session.dirty


def test_the_account_has_no_relationship_left_to_load():
    """A relationship added to Account must be loaded by directory/session_account.py, or
    every request would load it with a statement of its own."""
    assert set(Account.__mapper__.relationships.keys()) == {"schools", "role_overrides"}


def test_no_load_listener_misses_the_objects_built_without_a_query():
    """directory/session_account.py builds these objects as a query does, but no `load`
    event fires for them: a listener of it (a `@reconstructor`, say) would not run for the
    signed-in account, which must then be built otherwise."""
    for model in (Account, School, RoleOverride):
        assert not inspect(model).class_manager.dispatch.load, model


def test_its_collections_change_as_a_loaded_accounts_do(ctx):
    """Built without the constructor, the account's collections are the ORM's own: role
    overrides taken away are deleted (delete-orphan), one added is inserted, and a school
    dropped leaves the association table, each in one statement."""
    account_id = _claire_with_two_schools_and_two_overrides()
    account = account_of_session(account_id, "")
    (advanced,) = [o for o in account.role_overrides if o.role == Role.DIRECTORY_ADVANCED]
    kept_school = account.schools[0]
    with counting(ctx) as written:
        remove_role(account, Role.DIRECTORY_ADVANCED)       # by default no: the grant goes
        grant_role(account, Role.SEND_EXTENDED)             # by default yes: the removal goes
        grant_role(account, Role.INTERNAL_MAIL)             # a new grant
        account.schools.remove(account.schools[1])
        db.session.commit()
    changes = sorted(s.split(" WHERE")[0].split(" (")[0] for s in written
                     if s.startswith(("INSERT", "UPDATE", "DELETE")))
    assert changes == ["DELETE FROM account_school", "DELETE FROM role_override",
                       "INSERT INTO role_override"], written
    assert advanced not in account.role_overrides
    db.session.expunge_all()
    found = _loaded_by_the_orm(account_id)
    assert found["schools"] == [kept_school.uai]
    assert found["overrides"] == [(Role.INTERNAL_MAIL, True)]
