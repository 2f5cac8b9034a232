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
