"""Password hashing (argon2) and the password policy of SPEC §8."""
from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Passwords an administrator hands out (generated, typed, or read from an import file) must
# be changed at first login, when `change_password` hashes the member's own with `_hasher`.
# They are hashed with OWASP's minimum argon2id settings (19 MiB, 2 passes): a seventh of the
# cost, which makes importing a school's two thousand accounts a matter of seconds per core.
_temporary_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Stored for an account whose password is still to be handed out (a printable sheet sets
# it): no password matches it.
NO_PASSWORD = "!"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_temporary_password(password: str) -> str:
    return _temporary_hasher.hash(password)


def hash_temporary_passwords(passwords: list[str]) -> list[str]:
    """Hash many temporary passwords over every core: a pool of processes, since argon2
    holds the interpreter. A few are hashed in place (starting processes costs more)."""
    if len(passwords) < 16:
        return [hash_temporary_password(p) for p in passwords]
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = min(os.cpu_count() or 1, 8)
    context = multiprocessing.get_context("spawn")    # never fork a threaded web server
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(hash_temporary_password, passwords,
                             chunksize=max(1, len(passwords) // (workers * 4))))


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
