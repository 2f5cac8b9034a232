"""What account administration keeps between two requests (SPEC §8): an uploaded account file,
kept between its preview and its application; the keys of forms that made something (an
account created by hand, an event, an article: directory/form_keys.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .clock import utcnow
from .db import db


class AccountImport(db.Model):
    __tablename__ = "account_import"
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id",
                                                             ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    #: the file as uploaded: it is read again at each batch, never kept parsed
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: the administrator ticked "create the classes the file names"
    create_classes: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: rows of the application order already applied; it and the counts below move
    #: together, in each batch's own transaction (account_import.apply_batch)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    #: the lines of the file left out for an error, each followed by a space, in the order
    #: they were applied (the file itself is erased once applied)
    error_lines: Mapped[str] = mapped_column(Text, default="")
    #: accounts this import created without a password (no email): their sheet gives one
    awaiting_sheet_count: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def lines_in_error(self) -> list[int]:
        return sorted(int(line) for line in self.error_lines.split())

    def __repr__(self) -> str:
        return f"<AccountImport {self.id} {self.filename!r} {self.rows_done} rows done>"


class FormSubmission(db.Model):
    """The key of a form that made something (directory/form_keys.py), hashed with what the
    form said: the same form sent again (a double click, a reload) finds what its first
    sending made instead of making a second one, while the form sent back with other words
    (after the browser's « Précédent ») makes its own. `kind` is the made object's table
    (« Créer un compte »: account; a new event: agenda_event; a new article: article) and
    `object_id` its id, set in the transaction that claimed the key. Kept a day."""

    __tablename__ = "form_submission"
    author_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                           primary_key=True)
    form_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: None only inside the transaction that claimed the key, until its object is made
    object_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
