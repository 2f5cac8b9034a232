"""Rubrics and the populations that read them (SPEC §6): the rows `directory/rubrics.py`
reasons about. Articles live with the portal (portal/rubriques/); the rules of who reads and
who manages a rubric live here, below every package that needs them (agenda, mailgate's
fan-out callers, the portal)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .db import db
from .enums import Profile
from .models import Group, School, _enum


class Rubric(db.Model):
    """A blog section of a school's space (`group_id` None) or of a group's space."""

    __tablename__ = "rubric"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the school of the space (a group's school for a group's rubric)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           index=True)
    #: the group whose space holds it; None for a school's rubric
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: "school:<id>" / "group:<id>" for the rubric every school and class has, else None:
    #: unique, so that creating the defaults twice at once makes one row
    default_of: Mapped[str | None] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    school: Mapped[School] = relationship(lazy="joined")
    group: Mapped[Group | None] = relationship(lazy="joined")
    populations: Mapped[list[RubricPopulation]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="RubricPopulation.id")

    def __repr__(self) -> str:
        return f"<Rubric {self.id} {self.name!r}>"


class RubricManager(db.Model):
    """A manager named by hand, on top of those the rubric's space gives (see rubrics.py)."""

    __tablename__ = "rubric_manager"
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"),
                                           primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


class RubricPopulation(db.Model):
    """People with access: the members of a group or a school who have `profile` (for
    parents, also the parents of the group's members: "Parents d'élèves de 4A")."""

    __tablename__ = "rubric_population"
    id: Mapped[int] = mapped_column(primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"),
                                           index=True)
    #: exactly one of group_id and school_id is set
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"),
                                                 index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                                  index=True)
    profile: Mapped[Profile] = mapped_column(_enum(Profile, "profile"))

    group: Mapped[Group | None] = relationship(lazy="joined")
    school: Mapped[School | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("rubric_id", "group_id", "school_id", "profile"),
        CheckConstraint("(group_id IS NULL) <> (school_id IS NULL)", name="one_scope"),
    )

    def __repr__(self) -> str:
        scope = f"group={self.group_id}" if self.group_id else f"school={self.school_id}"
        return f"<RubricPopulation {self.id} {scope} {self.profile}>"
