"""The redirect address: requested, then verified by a signed link valid 48 hours, once.

The pending address lives on the account; the link carries the account id and that address.
Confirming moves it into place and clears it, so a second use of the same link finds no
matching pending address and is refused. Until then the old verified address stays in use.
An administrator's edit (account_admin.edit_account) or an import (import_write) that sets
the redirect address clears the pending one too: a link mailed before would otherwise
replace the address they set; it is refused as used (`redirect_link_used`).
"""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .domain import mail_domain as app_mail_domain
from .errors import InvalidInput
from .models import Account
from .wording import Reason

VALIDITY_SECONDS = 48 * 3600
_SALT = "preau-redirect-address"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def address_refusal(address: str, mail_domain: str | None = None) -> Reason | None:
    """Why `address` cannot be a redirect address, or None: it may not be at Préau's own mail
    domain (the app's unless given). Forwarding there would send the member's mail back into
    Préau, which refuses it (the forward's sender is no member), or loop when it is their
    own universal address. The one rule of Préférences (`request_change`), of an
    administrator's edit and creation (`account_admin`) and of the import's row check
    (`import_rows.checked`)."""
    domain = (mail_domain or app_mail_domain()).lower()
    if address.strip().rpartition("@")[2].lower().rstrip(".") == domain:
        return Reason("redirect_inside", {"domain": domain})
    return None


def request_change(account: Account, address: str, secret_key: str, *,
                   mail_domain: str | None = None) -> str:
    """Record the wished-for address and return the token of its verification link;
    InvalidInput when it cannot be a redirect address (`address_refusal`)."""
    address = address.strip()
    refusal = address_refusal(address, mail_domain)
    if refusal is not None:
        raise InvalidInput(refusal)
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
