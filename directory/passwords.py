"""Password hashing (argon2) and the password policy of SPEC §8."""
from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def policy_errors(password: str) -> list[str]:
    """Every unmet rule, named in French; an empty list means the password is acceptable."""
    errors = []
    if len(password) < 8:
        errors.append("Le mot de passe doit contenir au moins 8 caractères.")
    if not any(c.islower() for c in password):
        errors.append("Le mot de passe doit contenir au moins une lettre minuscule.")
    if not any(c.isupper() for c in password):
        errors.append("Le mot de passe doit contenir au moins une lettre majuscule.")
    if all(c.isalnum() for c in password):
        errors.append("Le mot de passe doit contenir au moins un caractère non alphanumérique "
                      "(par exemple ! ? - _ @).")
    return errors


def generate_password() -> str:
    """A random password that satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(9))
    return (secrets.choice(string.ascii_lowercase) + secrets.choice(string.ascii_uppercase)
            + body + secrets.choice("!?-_@#"))
