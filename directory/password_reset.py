"""Forgotten passwords: a signed link valid one hour, usable once, sent to the member's
verified redirect address.

The link carries the account id and a fingerprint of its current password hash. Setting a
new password changes the hash, so the same link — and every other link sent before — is
refused afterwards: single use without a table of tokens. It also carries a fingerprint of the
verified redirect address it was mailed to: once that address is replaced — by the member
(directory/redirects.py), an administrator (account_admin.py) or an import (import_write.py),
or removed — a link mailed to the old one is refused too, whoever still reads that mailbox.
Both are read from the account when the link is used, so every way of changing them counts.
Pupils have no redirect address: no link is sent to them (their teacher or the school's
administrator resets the password).

Reasons are codes (see `Refusal`), turned into words by the page that shows them.
"""
from __future__ import annotations

import enum
import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .accounts import change_password
from .db import db
from .models import Account

VALIDITY_SECONDS = 3600
_SALT = "preau-password-reset"


class Refusal(enum.StrEnum):
    EXPIRED = "expired"     # older than an hour
    INVALID = "invalid"     # not signed by us, or for no account that may use it
    USED = "used"           # the password changed since the link was sent
    READDRESSED = "readdressed"     # the verified redirect address changed since then


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def password_stamp(password_hash: str) -> str:
    """A fingerprint of an account's present password: every new password is hashed with a
    new salt, so what was signed with the stamp (a reset link, a device cookie in
    portal/auth.py) no longer matches once the password is changed or reset."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def address_stamp(account: Account) -> str:
    """A fingerprint of the verified redirect address a link is mailed to ("" for none),
    salted with the password hash so that the link, which anyone holding it can decode, does
    not give the address away."""
    seen = f"{account.password_hash}\0{account.verified_redirect or ''}"
    return hashlib.sha256(seen.encode()).hexdigest()[:20]


def recipient(login: str) -> Account | None:
    """The account a link may be mailed for: it exists, is not suspended and has a verified
    redirect address. The caller answers the same sentence either way (no enumeration)."""
    account = db.session.scalar(select(Account).where(Account.login == login.strip()))
    if account is None or account.suspended or not account.verified_redirect:
        return None
    return account


def token_for(account: Account, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"account": account.id,
                                          "stamp": password_stamp(account.password_hash),
                                          "to": address_stamp(account)})


def check(token: str, secret_key: str, *,
          max_age: int = VALIDITY_SECONDS) -> Account | Refusal:
    """The account this link lets set a new password, or why not. Changes nothing."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        return Refusal.EXPIRED
    except BadSignature:
        return Refusal.INVALID
    account = db.session.get(Account, data.get("account")) \
        if isinstance(data, dict) and isinstance(data.get("account"), int) else None
    if account is None or account.suspended:
        return Refusal.INVALID
    if data.get("stamp") != password_stamp(account.password_hash):
        return Refusal.USED
    if data.get("to") != address_stamp(account):
        return Refusal.READDRESSED
    return account


def reset(token: str, secret_key: str, new_password: str, *,
          max_age: int = VALIDITY_SECONDS) -> Account | Refusal:
    """Set the new password if the link is good (InvalidInput when the password breaks the
    policy); the caller commits. The link is then spent."""
    found = check(token, secret_key, max_age=max_age)
    if isinstance(found, Refusal):
        return found
    change_password(found, new_password)
    return found
