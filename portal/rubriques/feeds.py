"""Private Atom feeds (feedgen): one per member and rubric, so that parents follow a rubric
in a feed reader, which cannot log in. The feed's URL carries a random token; revoking it
deletes the token and the URL stops working (404). A token is also dead once its owner no
longer reads the rubric or is suspended: access is checked at each request, as for a page."""
from __future__ import annotations

import secrets

from feedgen.feed import FeedGenerator
from flask import Response, abort, flash, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import delete, select

from directory.db import db
from directory.models import Account
from directory.rubric_models import Rubric
from directory.rubrics import visible_rubric

from ..public_links import public_url_for
from . import articles
from .blueprint import ID, back, bp, readable_rubric
from .forms import ConfirmForm
from .models import Article, FeedToken

ENTRIES = 20


def token_of(account: Account, rubric: Rubric) -> FeedToken | None:
    return db.session.scalar(select(FeedToken).where(FeedToken.account_id == account.id,
                                                     FeedToken.rubric_id == rubric.id))


@bp.route(f"/{ID.format('rubric_id')}/flux", methods=["POST"])
def new_feed(rubric_id: int):
    """Create one's feed address, or replace it (the old one stops working)."""
    shown = readable_rubric(rubric_id)
    if ConfirmForm().validate_on_submit():
        db.session.execute(delete(FeedToken).where(FeedToken.account_id == current_user.id,
                                                   FeedToken.rubric_id == shown.id))
        db.session.add(FeedToken(account_id=current_user.id, rubric_id=shown.id,
                                 token=secrets.token_urlsafe(32)))
        db.session.commit()
        flash(gettext("Votre adresse de flux privée est prête : ne la partagez pas."), "success")
    return back(url_for(".rubric", rubric_id=shown.id) + "#flux")


@bp.route(f"/{ID.format('rubric_id')}/flux/revoquer", methods=["POST"])
def revoke_feed(rubric_id: int):
    shown = readable_rubric(rubric_id)
    if ConfirmForm().validate_on_submit():
        db.session.execute(delete(FeedToken).where(FeedToken.account_id == current_user.id,
                                                   FeedToken.rubric_id == shown.id))
        db.session.commit()
        flash(gettext("L'adresse de votre flux ne fonctionne plus."), "success")
    return back(url_for(".rubric", rubric_id=shown.id) + "#flux")


@bp.route(f"/{ID.format('rubric_id')}/flux/<string(length=43):token>.atom")
def feed(rubric_id: int, token: str):
    found = db.session.scalar(select(FeedToken).where(FeedToken.token == token,
                                                      FeedToken.rubric_id == rubric_id))
    owner = db.session.get(Account, found.account_id) if found else None
    if owner is None or owner.suspended:
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
