"""The password policy of SPEC §8: each unmet rule named; hashes are argon2."""
import pytest
from sqlalchemy import select

from directory.accounts import change_password
from directory.db import db
from directory.errors import InvalidInput
from directory.models import Account
from directory.passwords import generate_password, hash_password, policy_errors, verify_password

LENGTH, LOWER, UPPER, SYMBOL = ("8 caractères", "minuscule", "majuscule", "non alphanumérique")


@pytest.mark.parametrize(("password", "unmet"), [
    ("", {LENGTH, LOWER, UPPER, SYMBOL}),
    ("abc", {LENGTH, UPPER, SYMBOL}),
    ("abcdefgh", {UPPER, SYMBOL}),
    ("ABCDEFGH", {LOWER, SYMBOL}),
    ("Abcdefgh", {SYMBOL}),
    ("abcdefg!", {UPPER}),
    ("ABCDEFG!", {LOWER}),
    ("Ab-1", {LENGTH}),
    ("12345678", {LOWER, UPPER, SYMBOL}),
    ("Abcdefg!", set()),
    ("Écoliè-re", set()),
    ("Preau-demo-2026!", set()),
])
def test_each_unmet_rule_is_named(password, unmet):
    errors = [str(rule) for rule in policy_errors(password)]
    named = {rule for rule in (LENGTH, LOWER, UPPER, SYMBOL)
             if any(rule in error for error in errors)}
    assert named == unmet
    assert len(errors) == len(unmet)


def test_generated_passwords_meet_the_policy():
    for _ in range(200):
        assert policy_errors(generate_password()) == []


def test_hash_is_argon2_and_verifies_only_the_right_password():
    hashed = hash_password("Preau-demo-2026!")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "Preau-demo-2026!")
    assert not verify_password(hashed, "Preau-demo-2026")
    assert not verify_password("not a hash", "Preau-demo-2026!")


def test_change_password_refuses_a_weak_one_and_keeps_the_old(ctx):
    account = db.session.scalar(select(Account).where(Account.login == "lucas.martin"))
    account.must_change_password = True
    old_hash = account.password_hash
    with pytest.raises(InvalidInput) as refused:
        change_password(account, "faible")
    assert "majuscule" in refused.value.message and "8 caractères" in refused.value.message
    assert account.password_hash == old_hash and account.must_change_password
    change_password(account, "Nouveau-mot-2026")
    assert verify_password(account.password_hash, "Nouveau-mot-2026")
    assert not account.must_change_password
