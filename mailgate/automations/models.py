"""Communications, their occurrences, their attachments, and the authors' signatures."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from directory.audience import Audience, Trigger, TriggerKind
from directory.clock import utcnow
from directory.db import db


def _enum(cls, name):
    return Enum(cls, name=name, native_enum=False, length=20,
                values_callable=lambda e: [m.value for m in e])


#: the key of `Communication.audience` that holds the audience as its recipients read it
TO_LABEL = "to_label"


class Kind(enum.StrEnum):
    MESSAGE = "message"             # "Écrire à plusieurs": one author's message to many
    ANNOUNCE = "announce"
    REMINDER = "reminder"
    ACCESS_ENDING = "access_ending"
    INACTIVITY = "inactivity"


class Repeat(enum.StrEnum):
    ONCE = "once"                   # at `send_at`
    DAILY = "daily"                 # every day at `at_time` (readers' zone)
    WEEKLY = "weekly"               # every `weekday` at `at_time`


class Communication(db.Model):
    __tablename__ = "communication"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: who writes: the rights engine judges every recipient against them
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    #: the space of an automated communication (a school, or a group of it); both None for
    #: an author's "Écrire à plusieurs"
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                                  index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[Kind] = mapped_column(_enum(Kind, "communication_kind"))
    subject: Mapped[str] = mapped_column(String(200))
    #: the text as written, merge fields in braces ({prénom}…)
    body: Mapped[str] = mapped_column(Text)
    #: directory.audience.Audience.as_dict(), and the To: label (TO_LABEL)
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the audience in the author's words, for lists and reports (hers alone: with her
    #: filters and how many she left out)
    audience_label: Mapped[str] = mapped_column(Text, default="")
    repeat: Mapped[Repeat] = mapped_column(_enum(Repeat, "communication_repeat"))
    send_at: Mapped[datetime | None] = mapped_column(DateTime)      # ONCE, naive UTC
    at_time: Mapped[str] = mapped_column(String(5), default="08:00")  # "HH:MM", local
    weekday: Mapped[int | None] = mapped_column(Integer)             # WEEKLY, Monday = 0
    trigger: Mapped[TriggerKind] = mapped_column(_enum(TriggerKind, "communication_trigger"),
                                                 default=TriggerKind.NONE)
    #: the trigger's steps in days, "7,15"
    days: Mapped[str] = mapped_column(String(40), default="")
    #: the portal's address for {lien_portail}, taken from the page that created it
    portal_url: Mapped[str] = mapped_column(String(200), default="")
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    #: off: an automated communication deactivated; a message (never deactivated) whose
    #: sending failed and that went back to the drafts (scheduler._failed)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the next occurrence (naive UTC); None when nothing is planned
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: the end of the last run's window: triggers look at what happened since
    window_start: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    #: drawn by the form that created it: a second submission finds it (migration 0026)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    #: the scheduler's "what is due?" reads the planned ones only
    __table_args__ = (Index("ix_communication_due", "next_run_at",
                            postgresql_where=text("next_run_at IS NOT NULL"),
                            sqlite_where=text("next_run_at IS NOT NULL")),
                      Index("ix_communication_author_key", "author_id", "idempotency_key",
                            unique=True))

    @property
    def chosen(self) -> Audience:
        return Audience.from_dict(self.audience)

    @property
    def to_label(self) -> str:
        """The audience as its recipients read it, in the To: of the message: the groups and
        profiles chosen, never the author's filters nor how many she left out. One saved
        before it was kept apart shows its name instead of a label that may hold them."""
        saved = (self.audience or {}).get(TO_LABEL)
        if saved:
            return saved
        chosen = self.chosen
        private = chosen.roles or chosen.inactive_days or chosen.never_logged_in \
            or chosen.excluded_ids
        return self.name if private or not self.audience_label else self.audience_label

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.days.split(",") if n.strip().isdecimal())

    @property
    def rule(self) -> Trigger:
        return Trigger(self.trigger, self.steps)

    @property
    def origin(self) -> str:
        """The fan-out jobs of this communication carry this origin."""
        return f"communication:{self.id}"

    def __repr__(self) -> str:
        return f"<Communication {self.id} {self.name!r} {self.repeat} next={self.next_run_at}>"


class CommunicationRun(db.Model):
    """One occurrence, sent: unique per (communication, occurrence), so that two workers
    never send one occurrence twice even if they both got past the claim."""

    __tablename__ = "communication_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    communication_id: Mapped[int] = mapped_column(
        ForeignKey("communication.id", ondelete="CASCADE"))
    #: the planned time (naive UTC); for a test to oneself, the time it was asked
    occurrence: Mapped[datetime] = mapped_column(DateTime)
    ran_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: "Envoyer un essai à moi-même"
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("fanout_job.id", ondelete="SET NULL"),
                                               index=True)

    __table_args__ = (UniqueConstraint("communication_id", "occurrence", "trial"),)


class CommunicationFile(db.Model):
    __tablename__ = "communication_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    communication_id: Mapped[int] = mapped_column(
        ForeignKey("communication.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Signature(db.Model):
    """An author's signatures; the default one is offered first."""

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
