"""Creating accounts, changing their credentials and ending their access, callable without a
request."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import and_, delete, exists, false, or_, select, update

from .addresses import allocate_address
from .clock import has_ended, utcnow
from .db import db, write_transaction
from .enums import Profile
from .errors import InvalidInput, NotFound
from .models import Account, GroupMember, School
from .naming import search_key
from .passwords import hash_password, policy_errors
from .wording import Reason

FIELD_LIMITS = {"login": 120, "first_name": 100, "last_name": 100, "discipline": 100}

#: Line breaks (CR, LF, a spreadsheet cell's Alt+Enter, U+2028, U+2029) and every other
#: control character (C0, DEL, C1): a name is written into mail headers (`From: Marie
#: Dupont <…>`), where a line break ends the field and a control character has no place.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name_refusal(*names: str) -> Reason | None:
    """Why these first and last names cannot be an account's, or None. The one rule of
    creation (`create_account`, so by hand too), editing (`account_admin.edit_account`) and
    the import's row check (`import_rows.checked`)."""
    if any(_CONTROL.search(name) for name in names):
        return Reason("name_control")
    return None


def create_account(*, login: str, first_name: str, last_name: str, profile: Profile,
                   password: str, schools: list[School], discipline: str | None = None,
                   must_change_password: bool = False, is_admin: bool = False,
                   external_id: str | None = None,
                   password_hash: str | None = None) -> Account:
    """Create an account with a fresh universal address; the caller commits. An already
    hashed password may be given (`password_hash`), e.g. a temporary one.

    Names are stored without surrounding spaces, and hold no line break nor other control
    character (`name_refusal`); a login may not contain any space, since the login form could
    never match it. The session key is drawn here: on SQLite an id freed by a deletion is
    given again, and a cookie of the deleted account ("id:" when it had no key) would
    otherwise open this one.
    """
    first_name, last_name = first_name.strip(), last_name.strip()
    values = {"login": login, "first_name": first_name, "last_name": last_name,
              "discipline": discipline or ""}
    for field, limit in FIELD_LIMITS.items():
        if len(values[field]) > limit:
            raise InvalidInput(f"Le champ « {field} » dépasse {limit} caractères.")
    if not login.strip():
        raise InvalidInput("L'identifiant ne peut pas être vide.")
    if any(c.isspace() for c in login):
        raise InvalidInput("L'identifiant ne peut pas contenir d'espace.")
    if not (first_name or last_name):
        raise InvalidInput("Le nom ou le prénom doit être renseigné.")
    refusal = name_refusal(first_name, last_name)
    if refusal is not None:
        raise InvalidInput(refusal)
    if db.session.scalar(select(Account.id).where(Account.login == login)):
        raise InvalidInput(f"L'identifiant « {login} » est déjà pris.")
    name_key, first_key = search_key(first_name, last_name)
    account = Account(
        login=login, first_name=first_name, last_name=last_name, profile=profile,
        discipline=discipline, address=allocate_address(first_name, last_name),
        search_name=name_key, search_first=first_key,
        password_hash=password_hash or hash_password(password),
        must_change_password=must_change_password,
        is_admin=is_admin, external_id=external_id, created_at=utcnow(),
        session_key=new_session_key(),
    )
    account.schools = list(schools)
    db.session.add(account)
    return account


def school_by_uai(uai: str) -> School:
    school = db.session.scalar(select(School).where(School.uai == uai.upper()))
    if school is None:
        raise NotFound(f"Établissement inconnu : {uai}.")
    return school


def change_password(account: Account, new_password: str) -> None:
    errors = policy_errors(new_password)
    if errors:
        raise InvalidInput(" ".join(str(rule) for rule in errors))
    account.password_hash = hash_password(new_password)
    account.must_change_password = False
    end_sessions(account)


def new_session_key() -> str:
    """A key no cookie was made with (`Account.get_id`): drawn at creation, and anew to end
    every session."""
    return secrets.token_urlsafe(16)


def end_sessions(account: Account) -> None:
    """Every session of the account ends, on every device (a stolen cookie included)."""
    account.session_key = new_session_key()


def access_end_refused(current: datetime | None, new: datetime | None,
                       now: datetime | None = None) -> bool:
    """A new end of access may not be already past: stopping access at once is suspending.
    An end left as it was is never refused (a file imported again, a form saved again)."""
    return new != current and has_ended(new, now)


def end_ended_access(now: datetime | None = None) -> int:
    """Accounts whose access has ended (`access_ends_at` passed) are suspended, and
    memberships whose end has passed are removed (never a manager's: a group keeps its
    managers). From then on every rule about a suspended account or a former member applies
    (no login, mail refused, absent from pickers). One look through small indexes (of the
    ends not enforced yet: migration 0023), and writes only when something has ended. Returns how many changed."""
    now = now or utcnow()
    member_ended = and_(GroupMember.access_ends_at <= now, GroupMember.is_manager.is_(False))
    account_ended = and_(Account.access_ends_at <= now, Account.suspended == false())
    ended = or_(exists().where(account_ended), exists().where(member_ended))
    if not db.session.scalar(select(ended)):
        db.session.commit()
        return 0

    def end() -> int:
        suspended = db.session.execute(
            update(Account).where(account_ended)
            .values(suspended=True).execution_options(synchronize_session=False)).rowcount
        removed = db.session.execute(
            delete(GroupMember).where(member_ended)
            .execution_options(synchronize_session=False)).rowcount
        return suspended + removed

    return write_transaction(end)
