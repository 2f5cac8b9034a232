"""Creating accounts: limits and errors that change nothing; roles over profile defaults."""
import pytest
from sqlalchemy import func, select

from directory.accounts import create_account, school_by_uai
from directory.db import db
from directory.enums import Profile, Role
from directory.errors import InvalidInput, NotFound
from directory.models import Account, AllocatedAddress, RoleOverride
from directory.passwords import verify_password


def _counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Account)),
            db.session.scalar(select(func.count()).select_from(AllocatedAddress)))


def _new(**overrides):
    values = {"login": "nouveau.compte", "first_name": "Nina", "last_name": "Ravel",
              "profile": Profile.TEACHER, "password": "Bonjour-2026",
              "schools": [school_by_uai("0310024H")], "discipline": "SVT"}
    values.update(overrides)
    return create_account(**values)


def test_created_account_has_everything_it_needs(ctx):
    account = _new(must_change_password=True)
    db.session.commit()
    stored = db.session.scalar(select(Account).where(Account.login == "nouveau.compte"))
    assert stored.address == "nina.ravel"
    assert stored.search_name == "ravel nina"
    assert [school.uai for school in stored.schools] == ["0310024H"]
    assert stored.must_change_password and not stored.suspended and not stored.is_admin
    assert stored.created_at is not None and stored.last_access_at is None
    assert stored.password_hash != "Bonjour-2026"
    assert verify_password(stored.password_hash, "Bonjour-2026")
    assert not verify_password(stored.password_hash, "bonjour-2026")
    assert account.redirect_address is None and not account.redirect_verified


@pytest.mark.parametrize(("overrides", "message"), [
    ({"first_name": "N" * 101}, "first_name"),
    ({"last_name": "R" * 5000}, "last_name"),
    ({"login": "x" * 121}, "login"),
    ({"discipline": "d" * 101}, "discipline"),
    ({"login": "   "}, "identifiant ne peut pas être vide"),
    ({"first_name": " ", "last_name": "  "}, "nom ou le prénom"),
    ({"login": "zoe.le-gall"}, "déjà pris"),
    ({"login": "nouveau compte"}, "ne peut pas contenir d'espace"),
    ({"login": " nouveau.compte"}, "ne peut pas contenir d'espace"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_written(ctx, overrides, message):
    before = _counts()
    with pytest.raises(InvalidInput) as refused:
        _new(**overrides)
    assert message in refused.value.message
    db.session.commit()
    assert _counts() == before


def test_names_are_stored_without_surrounding_spaces(ctx):
    account = _new(first_name="  Nina ", last_name=" Ravel  ")
    assert (account.first_name, account.last_name, account.full_name) == (
        "Nina", "Ravel", "Nina Ravel")


def test_unknown_school_is_named(ctx):
    with pytest.raises(NotFound) as refused:
        school_by_uai("9999999Z")
    assert "9999999Z" in refused.value.message


def test_school_code_is_found_whatever_its_case(ctx):
    assert school_by_uai("0310024h").uai == "0310024H"


@pytest.mark.parametrize(("profile", "expected"), [
    (Profile.STUDENT, {Role.INTERNAL_MAIL, Role.DIRECTORY_USER}),
    (Profile.PARENT, {Role.SEND, Role.DIRECTORY_USER}),
    (Profile.OTHER, {Role.SEND, Role.DIRECTORY_USER}),
    (Profile.TEACHER, {Role.SEND_EXTENDED, Role.DIRECTORY_MANAGER}),
    (Profile.STAFF, {Role.SEND_EXTENDED, Role.DIRECTORY_ADVANCED}),
])
def test_profile_defaults_of_spec_section_1(ctx, profile, expected):
    account = _new(profile=profile)
    assert {role for role in Role if account.has_role(role)} == expected


def test_an_administrator_grant_and_removal_override_the_profile(ctx):
    account = _new(profile=Profile.STUDENT)
    db.session.flush()
    account.role_overrides.append(RoleOverride(role=Role.SEND, granted=True))
    account.role_overrides.append(RoleOverride(role=Role.INTERNAL_MAIL, granted=False))
    db.session.commit()
    reloaded = db.session.get(Account, account.id)
    assert reloaded.has_role(Role.SEND)
    assert not reloaded.has_role(Role.INTERNAL_MAIL)
    assert reloaded.has_role(Role.DIRECTORY_USER)
