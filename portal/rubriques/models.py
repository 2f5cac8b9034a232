"""Articles of the rubrics, their files and comments, and the private feeds' tokens.

They live with the portal: nothing below it needs them. Who reads or manages the rubric an
article belongs to is decided in directory/rubrics.py; articles.py adds the article's own
rule (drafts and articles to come are for the rubric's managers)."""
from __future__ import annotations

import enum
from datetime import datetime
from functools import partial

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.clock import utcnow
from directory.db import db, text_enum
from directory.models import Account
from directory.rubric_models import Rubric

_enum = partial(text_enum, length=12)


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"             # seen by the rubric's managers only
    PUBLISHED = "published"     # seen by its readers from `publish_at` on


class CommentMode(enum.StrEnum):
    """"Commentaires": off, on after the author's approval, or on at once."""

    OFF = "off"
    MODERATED = "moderated"
    OPEN = "open"


class CommentState(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"


class Article(db.Model):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"),
                                                  index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: HTML as the editor wrote it, sanitised on save (portal/mail_html.py, article policy)
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ArticleStatus] = mapped_column(_enum(ArticleStatus, "article_status"))
    #: readers see it from then on ("now or later")
    publish_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    comments: Mapped[CommentMode] = mapped_column(_enum(CommentMode, "comment_mode"),
                                                  default=CommentMode.OFF)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    rubric: Mapped[Rubric] = relationship(lazy="joined")
    author: Mapped[Account | None] = relationship(lazy="joined")

    #: a rubric's page, newest first, in one index range scan
    __table_args__ = (Index("ix_article_rubric_page", "rubric_id", "publish_at", "id"),)

    @property
    def origin(self) -> str:
        """How the article's mailings are found among the fan-out jobs."""
        return f"article:{self.id}"

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.title!r}>"


class ArticleFile(db.Model):
    """An image or file put into an article by the editor. Uploaded before the article is
    saved (`article_id` None, seen by its uploader only), it belongs to the article whose
    saved body points at it. Kept in the database, like mail attachments, so that every web
    machine serves it. It outlives its uploader's account, as the article outlives its
    author's: readers keep the article's images and files."""

    __tablename__ = "article_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True)
    #: None once the uploader's account is deleted; a file still pending then can never be
    #: claimed (articles.purge_orphans takes it at its next run)
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ArticleComment(db.Model):
    __tablename__ = "article_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"),
                                            index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                           index=True)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[CommentState] = mapped_column(_enum(CommentState, "comment_state"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    author: Mapped[Account] = relationship(lazy="joined")


class FeedToken(db.Model):
    """One member's private Atom feed of one rubric: the feed's URL carries a token, since a
    feed reader cannot log in, and only its SHA-256 is kept, as for the agenda's feeds
    (agenda/feeds.py). Revoking deletes the row (the URL stops working); a token made before the
    account's sessions were last ended (`session_key`) stops working as well."""

    __tablename__ = "feed_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"),
                                           index=True)
    #: the account's session key when the token was made: ending the account's sessions
    #: ends the feed too (agenda.feeds.of_current_sessions)
    session_key: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "rubric_id"),)
