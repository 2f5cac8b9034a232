"""Follow-up comments on an event ("suivi"): off, open, or moderated — then a comment waits
for the organiser's approval before anyone else sees it (its author sees it as pending).

The flood rule, for the event's comments and the rubrics' article comments alike: on one
event (or article) one author has at most WAITING_MAX comments awaiting moderation, and
writes at most DAILY_MAX in a day; the agenda's writers (who moderate its events' comments)
and the article's managers, whose comments need no approval, are not held to it. Pages show comments a page at a time anyway:
the rule keeps one author from filling those pages, or the moderator's queue, alone."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, or_, select

from directory.clock import utcnow
from directory.db import db, lock_account
from directory.models import Account

from . import access, confirmations
from .errors import AgendaError, Problem
from .models import Comment, CommentState, Event, EventStatus, FollowUp

TEXT_MAX = 2000
PAGE_SIZE = 50       # the newest comments a page shows, with a link to older ones
WAITING_MAX = 5
DAILY_MAX = 10
DAY = timedelta(days=1)


def check_flood(model: type, on_item: sa.ColumnElement[bool], author_id: int) -> None:
    """Raise AgendaError (COMMENTS_WAITING, COMMENTS_DAILY) when the author may not add a comment to the item: `model` is
    a comment table (author_id, created_at, and a state stored as CommentState's values),
    `on_item` picks that item's comments. Counted in one statement, once the author's other
    comments wait for this one (`_one_comment_at_a_time`)."""
    _one_comment_at_a_time(author_id)
    waiting, today = db.session.execute(
        select(func.count().filter(model.state == CommentState.PENDING),
               func.count().filter(model.created_at > utcnow() - DAY))
        .where(on_item, model.author_id == author_id)).one()
    if waiting >= WAITING_MAX:
        raise AgendaError(Problem.COMMENTS_WAITING, max=WAITING_MAX)
    if today >= DAILY_MAX:
        raise AgendaError(Problem.COMMENTS_DAILY, max=DAILY_MAX)


def _one_comment_at_a_time(author_id: int) -> None:
    """Until the transaction ends, hold the author's other comments back before they are
    counted: counted side by side, comments sent at once each found none of the others and
    all passed the rule. Both counts are the author's, so the author's row is locked (FOR NO
    KEY UPDATE on PostgreSQL, which holds back no one else's comment); on SQLite the
    writer's lock keeps them apart (`lock_account`)."""
    lock_account(author_id)


def add(event: Event, author: Account, text: str) -> Comment:
    """A comment on a published event (the page offers no form on another: a cancelled one
    would leave the organiser moderating a dead event)."""
    if event.status == EventStatus.CANCELLED:
        raise AgendaError(Problem.COMMENT_CANCELLED)
    if event.follow_up == FollowUp.OFF or event.status != EventStatus.PUBLISHED:
        raise AgendaError(Problem.FOLLOW_UP_OFF)
    text = (text or "").strip()
    if not text:
        raise AgendaError(Problem.COMMENT_EMPTY)
    if len(text) > TEXT_MAX:
        raise AgendaError(Problem.TEXT_TOO_LONG, field="comment", max=TEXT_MAX)
    organiser = access.may_write(author, event.agenda)     # who moderates: no approval
    if not organiser and not confirmations.is_invited(event, author.id):
        raise AgendaError(Problem.NOT_INVITED)
    if not organiser:
        check_flood(Comment, Comment.event_id == event.id, author.id)
    state = CommentState.PENDING if event.follow_up == FollowUp.MODERATED and not organiser \
        else CommentState.PUBLISHED
    comment = Comment(event_id=event.id, author_id=author.id, text=text, state=state)
    db.session.add(comment)
    return comment


def shown(event: Event, viewer: Account, *, moderator: bool) -> sa.Select:
    """(Comment, author) rows of the published comments, the viewer's own pending ones, and
    every pending one for a moderator; newest first, for a page of the newest."""
    seen = [Comment.state == CommentState.PUBLISHED]
    if moderator:
        seen.append(Comment.state == CommentState.PENDING)
    else:
        seen.append((Comment.state == CommentState.PENDING) & (Comment.author_id == viewer.id))
    return (select(Comment, Account).outerjoin(Account, Account.id == Comment.author_id)
            .where(Comment.event_id == event.id, or_(*seen))
            .order_by(Comment.created_at.desc(), Comment.id.desc()))


def moderate(event: Event, comment_id: int, approve: bool) -> Comment | None:
    comment = db.session.scalar(select(Comment).where(Comment.id == comment_id,
                                                      Comment.event_id == event.id))
    if comment is not None:
        comment.state = CommentState.PUBLISHED if approve else CommentState.REJECTED
    return comment
