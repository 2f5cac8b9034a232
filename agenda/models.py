"""Agendas, events, reserved resources and answers (SPEC §7).

Times are stored as naive UTC, like every timestamp of Préau; the agenda shows them in
Europe/Paris (agenda/times.py). A recurring event keeps its rule (RRULE text, in the local
time of its first occurrence, so a weekly lesson stays at 10:00 across the DST changes) and
its cancelled occurrences (`EventException`); `last_ends_at` is the end of its last
occurrence, so "what happens between A and B" is one indexed range query whatever the rule.
Each occurrence of an event that reserves a resource is a `Booking` row: on PostgreSQL an
exclusion constraint (migration 0013) forbids two overlapping bookings of one resource.
"""
from __future__ import annotations

import enum
from datetime import datetime
from functools import partial

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.clock import utcnow
from directory.db import db, text_enum
from directory.models import Group
from directory.rubric_models import Rubric

_enum = partial(text_enum, length=12)


class EventStatus(enum.StrEnum):
    DRAFT = "draft"             # seen by its author alone
    PUBLISHED = "published"
    CANCELLED = "cancelled"     # kept so that invitations can be withdrawn (METHOD:CANCEL)


class FollowUp(enum.StrEnum):
    """"Suivi" of the seed form: may readers comment, and does the organiser approve first?"""

    OFF = "off"
    MODERATED = "moderated"
    OPEN = "open"


class ResourceKind(enum.StrEnum):
    ROOM = "room"
    EQUIPMENT = "equipment"


class AnswerKind(enum.StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


class AnswerChannel(enum.StrEnum):
    """How an answer arrived: shown to the organiser beside it."""

    PAGE = "page"               # the event page
    LINK = "link"               # a signed one-click link of the notice
    MAIL = "mail"               # an iTIP METHOD:REPLY through the gateway
    ORGANISER = "organiser"     # written by the organiser on the member's behalf


class CommentState(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"


class Agenda(db.Model):
    """The agenda of one group or of one rubric (created the first time it is opened)."""

    __tablename__ = "agenda"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the group whose members (and their parents, for pupils) read it
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("group.id", ondelete="CASCADE"), unique=True)
    #: or the rubric whose readers read it and whose managers write it
    rubric_id: Mapped[int | None] = mapped_column(
        ForeignKey("rubric.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    group: Mapped[Group | None] = relationship(lazy="joined")
    rubric: Mapped[Rubric | None] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("(group_id IS NULL) <> (rubric_id IS NULL)",
                                      name="one_space"),)

    @property
    def name(self) -> str:
        space = self.group or self.rubric
        return space.name if space else ""

    @property
    def school_id(self) -> int | None:
        space = self.group or self.rubric
        return space.school_id if space else None

    @property
    def space(self) -> dict[str, int]:
        """The URL arguments naming it: {"group_id": …} or {"rubric_id": …}."""
        return {"group_id": self.group_id} if self.group_id else {"rubric_id": self.rubric_id}

    @property
    def key(self) -> str:
        """Its value in the event form's list of agendas: "12" (group), "r5" (rubric)."""
        return str(self.group_id) if self.group_id else f"r{self.rubric_id}"

    def __repr__(self) -> str:
        return f"<Agenda {self.id} group={self.group_id} rubric={self.rubric_id}>"


class Resource(db.Model):
    """A room or an item of equipment of a school, reserved by events."""

    __tablename__ = "agenda_resource"
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ResourceKind] = mapped_column(_enum(ResourceKind, "resource_kind"))
    #: an archived resource keeps its past bookings but cannot be reserved any more
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("school_id", "name"),)

    def __repr__(self) -> str:
        return f"<Resource {self.id} {self.name!r}>"


class Event(db.Model):
    __tablename__ = "agenda_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_id: Mapped[int] = mapped_column(ForeignKey("agenda.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    #: iCalendar UID: kept across exports and imports, so an import updates, never duplicates
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    #: first occurrence, UTC; for all-day events the local midnights of the first and next day
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    #: RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;INTERVAL=2;UNTIL=20260630T215959Z"
    rrule: Mapped[str | None] = mapped_column(String(500))
    #: end of the last occurrence (= ends_at when not recurring)
    last_ends_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "event_status"),
                                                default=EventStatus.DRAFT)
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    ask_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up: Mapped[FollowUp] = mapped_column(_enum(FollowUp, "follow_up"),
                                                default=FollowUp.OFF)
    read_receipt: Mapped[bool] = mapped_column(Boolean, default=False)
    #: iCalendar SEQUENCE: raised at each change sent to the invited
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: when its dates (start, end, all day, rule, excluded dates) last changed once published:
    #: the answers given before are for the former date and count no more (migration 0030)
    dates_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    agenda: Mapped[Agenda] = relationship(lazy="joined")
    resources: Mapped[list[Resource]] = relationship(
        secondary="agenda_event_resource", lazy="selectin", order_by=Resource.name)
    exceptions: Mapped[list[EventException]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="EventException.starts_at")

    __table_args__ = (
        # "What happens in this agenda between A and B": starts_at < B and last_ends_at > A.
        Index("ix_agenda_event_agenda_range", "agenda_id", "starts_at", "last_ends_at"),
    )

    @property
    def is_draft(self) -> bool:
        return self.status == EventStatus.DRAFT

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r} {self.starts_at:%Y-%m-%d %H:%M}Z>"


class EventResource(db.Model):
    """A resource the event reserves (each occurrence books it: `Booking`)."""

    __tablename__ = "agenda_event_resource"
    event_id: Mapped[int] = mapped_column(ForeignKey("agenda_event.id", ondelete="CASCADE"),
                                          primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_resource.id", ondelete="CASCADE"), primary_key=True, index=True)


class EventException(db.Model):
    """An occurrence of a recurring event that does not take place (EXDATE)."""

    __tablename__ = "agenda_event_exception"
    event_id: Mapped[int] = mapped_column(ForeignKey("agenda_event.id", ondelete="CASCADE"),
                                          primary_key=True)
    #: the cancelled occurrence's start, UTC
    starts_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)


class Booking(db.Model):
    """One occurrence of an event holding one resource, [starts_at, ends_at) in UTC."""

    __tablename__ = "agenda_booking"
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_resource.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("agenda_event.id", ondelete="CASCADE"),
                                          index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_agenda_booking_resource_range", "resource_id", "starts_at"),)


class Answer(db.Model):
    """A member's answer to an event that asks for confirmation."""

    __tablename__ = "agenda_answer"
    event_id: Mapped[int] = mapped_column(ForeignKey("agenda_event.id", ondelete="CASCADE"),
                                          primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    answer: Mapped[AnswerKind] = mapped_column(_enum(AnswerKind, "answer_kind"))
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[AnswerChannel] = mapped_column(_enum(AnswerChannel, "answer_channel"))
    #: the organiser who wrote it on the member's behalf, if any
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    answered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Comment(db.Model):
    """A follow-up comment ("suivi") on an event, published at once or after moderation."""

    __tablename__ = "agenda_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("agenda_event.id", ondelete="CASCADE"),
                                          index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[CommentState] = mapped_column(_enum(CommentState, "comment_state"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeedToken(db.Model):
    """A private subscription URL: one member, one agenda (None: "Mon agenda", every agenda
    they read). Only the SHA-256 of the token is kept; revoking sets `revoked_at`; ending the
    account's sessions ends it too (`session_key`)."""

    __tablename__ = "agenda_feed_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    agenda_id: Mapped[int | None] = mapped_column(ForeignKey("agenda.id", ondelete="CASCADE"),
                                                  index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: the account's session key when the token was made: once it changes (a password
    #: changed or reset, « Se déconnecter de tous les appareils »), the feed is dead too
    #: (feeds.resolve)
    session_key: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
