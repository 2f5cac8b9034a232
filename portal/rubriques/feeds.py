"""Private Atom feeds (feedgen): one per member and rubric, so that parents follow a rubric
in a feed reader, which cannot log in. The feed's URL carries a random token of which only
the SHA-256 is kept, and which is shown once, when it is made: the agenda's rule for its
private feeds (agenda/feeds.py `new_token`, `digest`). Revoking deletes the row and the URL
stops working (404). A token is also dead once its owner no longer reads the rubric or is
suspended: access is checked at each request, as for a page, or once its owner's sessions have
all ended since it was made (a password changed or reset, « Se déconnecter de tous les
appareils »: agenda.feeds.of_current_sessions). The rubric page's buttons that make and revoke
the address are in rubric_views.py."""
from __future__ import annotations

from feedgen.feed import FeedGenerator
from flask import Response, abort
from sqlalchemy import delete, select

from agenda.feeds import digest, live_condition, new_token, of_current_sessions
from directory.db import db, lock_account
from directory.models import Account
from directory.rubric_models import Rubric
from directory.rubrics import visible_rubric

from ..public_links import public_url_for
from . import articles
from .blueprint import ID, bp
from .models import Article, FeedToken

ENTRIES = 20


def active(account: Account, rubric: Rubric) -> FeedToken | None:
    return db.session.scalar(select(FeedToken).where(FeedToken.account_id == account.id,
                                                     FeedToken.rubric_id == rubric.id,
                                                     live_condition(FeedToken, account)))


def create(account: Account, rubric: Rubric) -> str:
    """A new token for (account, rubric), replacing the previous one; returns its feed's URL,
    to show once. The caller commits. The account is locked first (`lock_account`): the
    button clicked twice at once makes the addresses one after the other, the second
    replacing the first, instead of two rows for one (account, rubric) (a 500 on
    PostgreSQL)."""
    lock_account(account.id)
    revoke(account, rubric)
    token, stored = new_token()
    db.session.add(FeedToken(account_id=account.id, rubric_id=rubric.id, token_sha256=stored,
                             session_key=account.session_key))
    return public_url_for("rubriques.feed", rubric_id=rubric.id, token=token)


def revoke(account: Account, rubric: Rubric) -> None:
    db.session.execute(delete(FeedToken).where(FeedToken.account_id == account.id,
                                               FeedToken.rubric_id == rubric.id))


@bp.route(f"/{ID.format('rubric_id')}/flux/<string(length=43):token>.atom")
def feed(rubric_id: int, token: str):
    found = db.session.scalar(select(FeedToken).where(FeedToken.token_sha256 == digest(token),
                                                      FeedToken.rubric_id == rubric_id))
    owner = db.session.get(Account, found.account_id) if found else None
    if owner is None or owner.suspended or not of_current_sessions(owner, found.session_key):
        abort(404)
    rubric = visible_rubric(owner, rubric_id) or abort(404)
    latest = db.session.scalars(articles.rubric_articles(rubric, manager=False).limit(ENTRIES))
    return Response(_atom(rubric, list(latest), token), mimetype="application/atom+xml",
                    headers={"Cache-Control": "private, no-store"})


def _atom(rubric: Rubric, entries: list[Article], token: str) -> bytes:
    generator = FeedGenerator()
    generator.id(public_url_for(".rubric", rubric_id=rubric.id))
    generator.title(f"{rubric.name} — {rubric.school.name}")
    generator.link(href=public_url_for(".rubric", rubric_id=rubric.id),
                   rel="alternate")
    generator.link(href=public_url_for(".feed", rubric_id=rubric.id, token=token),
                   rel="self")
    generator.language("fr")
    generator.updated(_utc(max((a.updated_at for a in entries), default=rubric.created_at)))
    for article in reversed(entries):      # feedgen lists the last added first
        entry = generator.add_entry()
        link = public_url_for(".article", article_id=article.id)
        entry.id(link)
        entry.title(article.title)
        entry.link(href=link)
        entry.author(name=article.author.full_name if article.author else rubric.name)
        entry.published(_utc(article.publish_at))
        entry.updated(_utc(article.updated_at))
        entry.content(article.body, type="html")
    return generator.atom_str(pretty=True)


def _utc(when):
    from datetime import UTC

    return when.replace(tzinfo=UTC)
