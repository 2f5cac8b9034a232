"""The personal address book (SPEC §5): contact groups owned by one account, whose members are
accounts of the directory. The book stores no addresses of its own: a member's universal
address is read from the account when needed, and redirect addresses are never involved."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from directory.clock import utcnow
from directory.db import db

NAME_MAX = 120
NAME_KEY_MAX = 480


class ContactGroup(db.Model):
    __tablename__ = "contact_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # The name folded (no accents, lower case, single spaces): one owner cannot have both
    # "Délégués" and "delegues", and the list is sorted by it.
    name_key: Mapped[str] = mapped_column(String(NAME_KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # Also the index of "the groups of one owner, by name".
    __table_args__ = (UniqueConstraint("owner_id", "name_key"),)


class ContactMember(db.Model):
    __tablename__ = "contact_member"
    group_id: Mapped[int] = mapped_column(ForeignKey("contact_group.id", ondelete="CASCADE"),
                                          primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
