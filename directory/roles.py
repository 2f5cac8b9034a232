"""Does this account have role R: the profile's defaults, then the administrator's overrides."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .enums import DEFAULT_ROLES, Role

if TYPE_CHECKING:
    from .models import Account


def effective_roles(account: Account) -> frozenset[Role]:
    roles = set(DEFAULT_ROLES[account.profile])
    for override in account.role_overrides:
        if override.granted:
            roles.add(override.role)
        else:
            roles.discard(override.role)
    return frozenset(roles)


def has_role(account: Account, role: Role) -> bool:
    return role in effective_roles(account)


def role_condition(role: Role, account=None):
    """SQL twin of `has_role` over the row `account` (the Account entity or an alias): the
    profile's default, unless an override grants or removes it. For counting thousands of
    accounts in one query (the population mailing's preview) without loading them."""
    from sqlalchemy import and_, exists, or_

    from .models import Account, RoleOverride

    account = account if account is not None else Account
    by_default = [profile for profile, roles in DEFAULT_ROLES.items() if role in roles]

    def override(granted: bool):
        return exists().where(RoleOverride.account_id == account.id, RoleOverride.role == role,
                              RoleOverride.granted.is_(granted))

    return or_(override(True), and_(account.profile.in_(by_default), ~override(False)))
