"""People, schools, groups and the rights attached to them (SPEC §1)."""
from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import (
    Boolean,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .db import db, text_enum
from .domain import universal
from .enums import GroupKind, Profile, Role

_enum = partial(text_enum, length=20)


class School(db.Model):
    __tablename__ = "school"
    id: Mapped[int] = mapped_column(primary_key=True)
    uai: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    # The school's login nomenclature, e.g. "{uai}.{f}.{last}" (SPEC §8).
    login_pattern: Mapped[str] = mapped_column(String(60), default="{uai}.{f}.{last}")


class AccountSchool(db.Model):
    """An account's membership of a school, with a copy of what a search within few schools
    reads of the account (its folded names, suspension and profile): the school's name index,
    ix_account_school_names, gives a pupil's Annuaire its page in one index range instead of
    a read of the school's thousand accounts one by one (directory/search.py `_school_index`).

    The copy is the database's to keep (migration 0025, which says how): a trigger fills it
    when the row is inserted, another rewrites it when the account's names, suspension or
    profile change, whatever wrote them (the ORM, an import's bulk statements, the worker's
    suspensions). No code writes these columns (FetchedValue: the ORM reads them back from the
    database). A migration that recreates `account` or `account_school` on SQLite must drop
    and recreate those triggers."""

    __tablename__ = "account_school"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           primary_key=True)
    search_name: Mapped[str | None] = mapped_column(String(201), server_default=FetchedValue())
    search_first: Mapped[str | None] = mapped_column(String(100), server_default=FetchedValue())
    suspended: Mapped[bool | None] = mapped_column(Boolean, server_default=FetchedValue())
    profile: Mapped[Profile | None] = mapped_column(_enum(Profile, "profile"),
                                                    server_default=FetchedValue())

    __table_args__ = (Index("ix_account_school_names", "school_id", "search_name", "account_id",
                            "search_first", "suspended", "profile"),)


class ParentLink(db.Model):
    __tablename__ = "parent_link"
    parent_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                           primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)


class Account(db.Model):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(120), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # "last first", folded (no accents, lower case): the key of name searches and sorting.
    # Indexed by migrations 0002, 0018 and 0024 only, with the columns the searches read
    # (ix_account_first_then_name, ix_account_name_then_first; see tests/portal/test_cli.py).
    search_name: Mapped[str] = mapped_column(String(201))
    search_first: Mapped[str] = mapped_column(String(100))
    profile: Mapped[Profile] = mapped_column(_enum(Profile, "profile"), index=True)
    discipline: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(120), unique=True)
    redirect_address: Mapped[str | None] = mapped_column(String(254), index=True)
    redirect_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_redirect_address: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    #: region administrator: administers every school
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: administers the accounts of its own schools only
    is_school_admin: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_access_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    #: when the account stops giving access (end of schooling, contract…); None: no end
    access_ends_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    #: In every session cookie of the account; drawn anew to end all its sessions.
    session_key: Mapped[str | None] = mapped_column(String(32))

    schools: Mapped[list[School]] = relationship(secondary="account_school", lazy="selectin",
                                                 order_by=School.uai)
    role_overrides: Mapped[list[RoleOverride]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")

    #: "never logged in N days after creation" over the region reads the first index alone;
    #: the worker's look for ended access the second (migration 0023)
    __table_args__ = (Index("ix_account_never_logged_in", "created_at",
                            postgresql_where=text("last_access_at IS NULL"),
                            sqlite_where=text("last_access_at IS NULL")),
                      Index("ix_account_access_ends_unsuspended", "access_ends_at",
                            postgresql_where=text(
                                "access_ends_at IS NOT NULL AND suspended = false"),
                            sqlite_where=text("access_ends_at IS NOT NULL AND suspended = 0")))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def universal_address(self) -> str:
        """The address everyone writes to (never the redirect address)."""
        return universal(self.address)

    @property
    def verified_redirect(self) -> str | None:
        return self.redirect_address if self.redirect_verified else None

    def has_role(self, role: Role) -> bool:
        from .roles import has_role

        return has_role(self, role)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return not self.suspended

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie holds: the id and the session key, so that changing the
        key ends every session (directory.accounts.end_sessions)."""
        return f"{self.id}:{self.session_key or ''}"


class AllocatedAddress(db.Model):
    """Every universal address ever given out: never reused, even after deletion."""

    __tablename__ = "allocated_address"
    local_part: Mapped[str] = mapped_column(String(120), primary_key=True)
    allocated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RoleOverride(db.Model):
    """An administrator's grant (granted=True) or removal of one role for one account."""

    __tablename__ = "role_override"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)


class Group(db.Model):
    __tablename__ = "group"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[GroupKind] = mapped_column(_enum(GroupKind, "group_kind"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    search_name: Mapped[str] = mapped_column(String(120), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           index=True)
    persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    school: Mapped[School] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("school_id", "kind", "name"),)


class GroupMember(db.Model):
    __tablename__ = "group_member"
    group_id: Mapped[int] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"),
                                          primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the member joined (None for members imported before it was recorded)
    joined_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)
    #: when the membership ends (an internship, a term's option); None: no end
    access_ends_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class EndedSession(db.Model):
    """A session ended by "Se déconnecter": its cookie is refused until it would have
    expired anyway."""

    __tablename__ = "ended_session"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime, index=True)


class LoginAttempt(db.Model):
    """Failed logins, kept in the database so every web process sees the same throttle."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(120), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class MailCorrespondent(db.Model):
    """`account_id` has received a message written by `author_id`, so may write back to them
    (SPEC §2's "a recipient may always reply to the sender of a message that they received"):
    part of the rights engine (directory/rights.py), filled by the routing when it delivers,
    and checked at RCPT time, before the headers of the reply are known."""

    __tablename__ = "mail_correspondent"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                           primary_key=True, index=True)
