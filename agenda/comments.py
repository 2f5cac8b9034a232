"""Follow-up comments on an event ("suivi"): off, open, or moderated — then a comment waits
for the organiser's approval before anyone else sees it (its author sees it as pending)."""
from __future__ import annotations

from sqlalchemy import or_, select

from directory.db import db
from directory.models import Account

from . import confirmations
from .errors import AgendaError, Problem
from .models import Comment, CommentState, Event, FollowUp

TEXT_MAX = 2000


def add(event: Event, author: Account, text: str) -> Comment:
    if event.follow_up == FollowUp.OFF:
        raise AgendaError(Problem.FOLLOW_UP_OFF)
    text = (text or "").strip()
    if not text:
        raise AgendaError(Problem.COMMENT_EMPTY)
    if len(text) > TEXT_MAX:
        raise AgendaError(Problem.TEXT_TOO_LONG, field="comment", max=TEXT_MAX)
    if author.id != event.author_id and not confirmations.is_invited(event, author.id):
        raise AgendaError(Problem.NOT_INVITED)
    state = CommentState.PENDING if event.follow_up == FollowUp.MODERATED \
        and author.id != event.author_id else CommentState.PUBLISHED
    comment = Comment(event_id=event.id, author_id=author.id, text=text, state=state)
    db.session.add(comment)
    return comment


def shown(event: Event, viewer: Account, *, moderator: bool) -> list[tuple[Comment, Account]]:
    """Published comments, the viewer's own pending ones, and every pending one for a
    moderator; oldest first."""
    seen = [Comment.state == CommentState.PUBLISHED]
    if moderator:
        seen.append(Comment.state == CommentState.PENDING)
    else:
        seen.append((Comment.state == CommentState.PENDING) & (Comment.author_id == viewer.id))
    return list(db.session.execute(
        select(Comment, Account).outerjoin(Account, Account.id == Comment.author_id)
        .where(Comment.event_id == event.id, or_(*seen))
        .order_by(Comment.created_at, Comment.id)).tuples())


def moderate(event: Event, comment_id: int, approve: bool) -> Comment | None:
    comment = db.session.scalar(select(Comment).where(Comment.id == comment_id,
                                                      Comment.event_id == event.id))
    if comment is not None:
        comment.state = CommentState.PUBLISHED if approve else CommentState.REJECTED
    return comment
