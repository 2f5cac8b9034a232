"""An uploaded account file, kept between its preview and its application (SPEC §8)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .clock import utcnow
from .db import db


class AccountImport(db.Model):
    __tablename__ = "account_import"
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"),
                                           index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id",
                                                             ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    #: the file as uploaded: it is read again at each batch, never kept parsed
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: the administrator ticked "create the classes the file names"
    create_classes: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: rows of the application order already applied (see account_import.apply_batch)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"<AccountImport {self.id} {self.filename!r} {self.rows_done} rows done>"
