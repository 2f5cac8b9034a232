"""The redirect address: requested, then verified by a signed link valid 48 hours, once.

The pending address lives on the account; the link carries the account id and that address.
Confirming moves it into place and clears it, so a second use of the same link finds no
matching pending address and is refused. Until then the old verified address stays in use.
"""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import InvalidInput
from .models import Account

VALIDITY_SECONDS = 48 * 3600
_SALT = "preau-redirect-address"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def request_change(account: Account, address: str, secret_key: str, *,
                   mail_domain: str | None = None) -> str:
    """Record the wished-for address and return the token of its verification link.

    An address at Préau's own mail domain is refused: forwarding there would send the member's
    mail back into Préau, in a loop when it is their own universal address.
    """
    address = address.strip()
    domain = address.rpartition("@")[2].lower()
    if mail_domain and domain == mail_domain.lower():
        raise InvalidInput.of("redirect_inside", domain=mail_domain)
    account.pending_redirect_address = address
    return _serializer(secret_key).dumps({"account": account.id, "address": address})


def check(account: Account, token: str, secret_key: str, *,
          max_age: int = VALIDITY_SECONDS) -> str:
    """The address this link would verify for `account`, or InvalidInput saying why not.
    Changes nothing: the page shown when the link is opened uses it."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidInput.of("redirect_link_expired") from None
    except BadSignature:
        raise InvalidInput.of("redirect_link_invalid") from None
    if not isinstance(data, dict) or data.get("account") != account.id:
        raise InvalidInput.of("redirect_link_other_account")
    if account.pending_redirect_address != data.get("address"):
        raise InvalidInput.of("redirect_link_used")
    return data["address"]


def confirm(account: Account, token: str, secret_key: str, *,
            max_age: int = VALIDITY_SECONDS) -> str:
    """Make the pending address the verified redirect address; the caller commits."""
    address = check(account, token, secret_key, max_age=max_age)
    account.redirect_address = address
    account.redirect_verified = True
    account.pending_redirect_address = None
    return address
