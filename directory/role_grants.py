"""An administrator grants or removes one role for one account (SPEC §1).

Overrides are kept minimal: granting a role the profile already has, or removing one it does
not have, only deletes the override that said otherwise. So an account's overrides always list
exactly how it differs from its profile, and `effective_roles` reads them directly: the
change is visible to the rights engine and the searches at the next query.
"""
from __future__ import annotations

from .enums import DEFAULT_ROLES, Role
from .models import Account, RoleOverride


def grant_role(account: Account, role: Role) -> None:
    _set(account, role, granted=True)


def remove_role(account: Account, role: Role) -> None:
    _set(account, role, granted=False)


def role_states(account: Account) -> list[tuple[Role, bool, bool]]:
    """(role, has it now, by default) for every role, in the order of the enumeration."""
    overrides = {override.role: override.granted for override in account.role_overrides}
    defaults = DEFAULT_ROLES[account.profile]
    return [(role, overrides.get(role, role in defaults), role in defaults) for role in Role]


def _set(account: Account, role: Role, *, granted: bool) -> None:
    by_default = role in DEFAULT_ROLES[account.profile]
    existing = next((o for o in account.role_overrides if o.role == role), None)
    if granted == by_default:
        if existing is not None:
            account.role_overrides.remove(existing)
    elif existing is not None:
        existing.granted = granted
    else:
        account.role_overrides.append(RoleOverride(role=role, granted=granted))
