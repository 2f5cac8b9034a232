"""Background fan-outs: one message to thousands, routed by the worker in batches (see
mailgate/fanout.py). A job holds the message (stored once) and its recipients, one row each,
whose state says what routing made of them."""
from __future__ import annotations

import enum
from datetime import datetime
from functools import partial

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from directory.clock import utcnow
from directory.db import db, text_enum

_enum = partial(text_enum, length=12)


class RecipientState(enum.StrEnum):
    """`PENDING` until a batch routes it, then routing's outcome."""

    PENDING = "pending"
    DELIVERED = "delivered"     # in their Préau inbox
    FORWARDED = "forwarded"     # queued to their redirect address
    REFUSED = "refused"         # see `refusal` (routing.Refusal)


#: the message got to them: the states whose recipients may confirm their reading
REACHED = (RecipientState.DELIVERED, RecipientState.FORWARDED)


class AckChannel(enum.StrEnum):
    LINK = "link"               # the signed link of the message
    PAGE = "page"               # the button of the page the message points to


class FanoutJob(db.Model):
    __tablename__ = "fanout_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: who writes (the rights engine judges every recipient against them)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    #: the message, stored once for every recipient (kept while the job runs)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_message.id", ondelete="SET NULL"), index=True)
    #: what the job is about, in the caller's terms ("article:12"): how it finds its jobs.
    #: When that article or event is deleted, the database detaches its jobs ("deleted:"
    #: before the origin, migration 0028): SQLite gives its number to the next one
    origin: Mapped[str] = mapped_column(String(80), index=True)
    #: the population as the author chose it, in their words (lists and reports show it)
    audience: Mapped[str] = mapped_column(Text, default="")
    #: the form's one-time key: a second submit of the same form finds this job
    idempotency_key: Mapped[str] = mapped_column(String(64))
    #: recipients are asked to confirm that they read it
    acknowledge: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a reminder: confirmations count for the job it reminds of
    reminder_of: Mapped[int | None] = mapped_column(
        ForeignKey("fanout_job.id", ondelete="CASCADE"), index=True)
    #: the per-recipient link, "{token}" standing for the recipient's signed token; put
    #: where the message says [[preau:lien]] (mailgate/personalise.py)
    link_template: Mapped[str | None] = mapped_column(Text)
    #: an iCalendar object (RFC 6047 invitation) that forwarded copies carry, with the
    #: placeholders of mailgate/personalise.py for the attendee; internal copies do not
    forward_invitation: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: set by the batch that finds nothing left to route
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("author_id", "idempotency_key"),
                      Index("ix_fanout_job_running", "id",
                            postgresql_where=text("finished_at IS NULL"),
                            sqlite_where=text("finished_at IS NULL")))

    @property
    def ack_job_id(self) -> int:
        """The job whose recipients' rows record confirmations."""
        return self.reminder_of or self.id

    def __repr__(self) -> str:
        return f"<FanoutJob {self.id} {self.origin} total={self.total}>"


class FanoutRecipient(db.Model):
    __tablename__ = "fanout_recipient"
    job_id: Mapped[int] = mapped_column(ForeignKey("fanout_job.id", ondelete="CASCADE"),
                                        primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    state: Mapped[RecipientState] = mapped_column(_enum(RecipientState, "fanout_state"),
                                                  default=RecipientState.PENDING)
    #: routing.Refusal of a REFUSED recipient
    refusal: Mapped[str | None] = mapped_column(String(20))
    routed_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[AckChannel | None] = mapped_column(_enum(AckChannel, "ack_channel"))

    #: a batch's claim and the progress counts, from the index alone
    __table_args__ = (Index("ix_fanout_recipient_state", "job_id", "state", "account_id"),)
