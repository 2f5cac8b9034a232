"""Articles: who sees which, writing them, the files they hold, their comments.

An article is seen by the readers of its rubric once published and its publication time has
come; its rubric's managers also see drafts and articles to come, and write them. Every
article is loaded through `visible_article` or `managed_article`, so an article one may not
see is not found (404) and one may not change answers 404 as well.

The body comes from the editor as HTML and is sanitised on save (mail_html.sanitize_article):
what is stored is what is shown. Images and files are uploaded before the article is saved;
they belong to the article whose saved body points at them (`_claim_files`), draft or not, and
go with it, whoever uploaded them: deleting an account leaves its files in the articles
(`uploader_id` NULL). Until then they are pending (`article_id` NULL): the only ones ever
purged, once older than ORPHAN_LIFETIME — the uploader's at their next upload (`add_file`),
everyone's by `preau purge-uploads` (`purge_orphans`), which also takes at once those whose
uploader's account is deleted, as no article can claim them any more — and bounded per person
(PENDING_FILES_MAX, PENDING_BYTES_MAX), so that nobody fills the disk with files no article
shows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy import and_, delete, func, or_, select, update

from agenda import comments
from directory.clock import utcnow
from directory.db import db, lock_account, write_transaction
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from directory.rubric_models import Rubric
from directory.rubrics import (
    listed,
    manages_condition,
    readable_rubric_ids,
    reads_condition,
    without_controls,
)
from directory.search import valid_id

from .. import mail_html
from .models import (
    Article,
    ArticleComment,
    ArticleFile,
    ArticleStatus,
    CommentMode,
    CommentState,
)

TITLE_MAX = 200
BODY_MAX = 500_000
COMMENT_MAX = 2000
ORPHAN_LIFETIME = timedelta(days=1)
"""A pending upload older than this was left behind (a draft abandoned, an image taken out of
the text before saving, a page closed): a day covers writing an article in one sitting."""
PENDING_FILES_MAX = 50
"""Pending uploads one person may hold: an article's photo album of a school outing holds a
few dozen pictures, uploaded before the article is first saved."""
PENDING_BYTES_MAX = 200 * 2**20
"""Bytes of pending uploads one person may hold: ten files at the default largest size
(MAX_MESSAGE_MB, 20 MB) — what one member can pile up for a day, as the files are stored in
the database."""
PURGE_BATCH = 500
"""Files `purge_orphans` deletes per transaction: short locks, and a bounded memory."""
INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_FILE_LINK = re.compile(re.escape(mail_html.ARTICLE_FILES) + r"(\d+)")


def published_condition(now: datetime | None = None) -> sa.ColumnElement[bool]:
    return and_(Article.status == ArticleStatus.PUBLISHED, Article.publish_at <= (now or utcnow()))


def visible_condition(account: Account) -> sa.ColumnElement[bool]:
    """SQL over Article: `account` may read it."""
    managed = select(Rubric.id).where(manages_condition(account))
    return or_(and_(Article.rubric_id.in_(readable_rubric_ids(account)), published_condition()),
               Article.rubric_id.in_(managed))


def visible_article(account: Account, article_id: int) -> Article | None:
    if not valid_id(article_id):
        return None
    return db.session.scalar(select(Article).where(Article.id == article_id,
                                                   visible_condition(account)))


def managed_article(account: Account, article_id: int) -> Article | None:
    if not valid_id(article_id):
        return None
    return db.session.scalar(select(Article).join(Rubric, Rubric.id == Article.rubric_id).where(
        Article.id == article_id, manages_condition(account)))


def rubric_articles(rubric: Rubric, *, manager: bool) -> sa.Select:
    """A rubric's articles, newest first: published ones, and for managers every one."""
    query = select(Article).where(Article.rubric_id == rubric.id)
    if not manager:
        query = query.where(published_condition())
    return query.order_by(Article.publish_at.desc(), Article.id.desc())


def latest_for(account: Account, limit: int = 5) -> list[Article]:
    """The home page's "latest articles": published, in the rubrics of `account`'s list
    (`rubrics.listed`: an administrator's are her own spaces', not every rubric of the
    region). Those rubrics are read first, then their articles from their ranges of
    ix_article_rubric_page: in one statement, PostgreSQL guessed an administrator's rubrics
    to be most of the region's and read every published article."""
    rubric_ids = list(db.session.scalars(
        select(Rubric.id).where(listed(account, reads_condition(account)))))
    if not rubric_ids:
        return []
    return list(db.session.scalars(
        select(Article).where(Article.rubric_id.in_(rubric_ids), published_condition())
        .order_by(Article.publish_at.desc(), Article.id.desc()).limit(limit)))


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    publish: bool
    publish_at: datetime | None
    comments: CommentMode


def save(editor: Account, rubric: Rubric, draft: Draft, article: Article | None = None) -> Article:
    """Create or update an article of `rubric` (which `editor` manages); the caller commits.
    The characters XML cannot hold go (`rubrics.without_controls`): from the body after it is
    sanitised too, which turns `&#1;` into the character itself. Published « maintenant »,
    an article is dated now, unless it was already published: it keeps its date."""
    title = " ".join(without_controls(draft.title).split())
    if not title:
        raise InvalidInput(gettext("Donnez un titre à l'article."))
    if len(title) > TITLE_MAX or len(draft.body) > BODY_MAX:
        raise InvalidInput(gettext("L'article est trop long."))
    now = utcnow()
    was_published = article is not None and is_published(article, now)
    if article is None:
        article = Article(rubric_id=rubric.id, author_id=editor.id, created_at=now)
        db.session.add(article)
    article.title = title
    article.body = without_controls(mail_html.sanitize_article(without_controls(draft.body)))
    article.status = ArticleStatus.PUBLISHED if draft.publish else ArticleStatus.DRAFT
    article.publish_at = draft.publish_at or (article.publish_at if was_published else now)
    article.comments, article.updated_at = draft.comments, now
    db.session.flush()
    _claim_files(editor, article)
    return article


def delete_article(article: Article) -> None:
    db.session.delete(article)


def is_published(article: Article, now: datetime | None = None) -> bool:
    return article.status == ArticleStatus.PUBLISHED and article.publish_at <= (now or utcnow())


# --- files ---------------------------------------------------------------------------------------

def add_file(uploader: Account, filename: str, content_type: str, data: bytes,
             max_bytes: int) -> ArticleFile:
    """An image or file for an article being written; the caller commits. The uploader's own
    orphans are purged first, then the file is refused if it would take their pending
    uploads past PENDING_FILES_MAX or PENDING_BYTES_MAX. Their account is locked before
    counting (`lock_account`), so that uploads sent at once cannot pass the bound together;
    mail delivered to them meanwhile does not wait."""
    if not data:
        raise InvalidInput(gettext("Le fichier est vide."))
    if len(data) > max_bytes:
        raise InvalidInput(gettext("Le fichier dépasse la taille maximale de %(size)d Mo.",
                                   size=max_bytes // 2**20))
    lock_account(uploader.id)
    db.session.execute(delete(ArticleFile).where(
        ArticleFile.uploader_id == uploader.id, _orphan_condition()),
        execution_options={"synchronize_session": False})
    count, size = db.session.execute(
        select(func.count(), func.coalesce(func.sum(ArticleFile.size), 0)).where(
            ArticleFile.uploader_id == uploader.id, ArticleFile.article_id.is_(None))).one()
    if count + 1 > PENDING_FILES_MAX or size + len(data) > PENDING_BYTES_MAX:
        raise InvalidInput(gettext(
            "Vous avez trop de fichiers envoyés qui ne sont encore dans aucun article "
            "enregistré (au plus %(count)d fichiers et %(size)d Mo) : enregistrez votre "
            "article avant d'en envoyer d'autres. Les fichiers laissés hors de tout article "
            "sont effacés au bout d'un jour.",
            count=PENDING_FILES_MAX, size=PENDING_BYTES_MAX // 2**20))
    kind = (content_type or "application/octet-stream").split(";")[0].strip().lower()[:255]
    item = ArticleFile(uploader_id=uploader.id, filename=(filename or "fichier")[-255:],
                       content_type=kind, size=len(data), data=data)
    db.session.add(item)
    db.session.flush()
    return item


def purge_orphans(batch: int = PURGE_BATCH) -> int:
    """Delete every pending upload older than ORPHAN_LIFETIME or left by an account deleted
    since, region-wide, a batch per transaction (`preau purge-uploads`, for a cron); returns
    how many went. The delete checks again that each file is still in no article: one
    claimed by an article saved meanwhile is kept."""
    purged = 0
    while True:
        ids = list(db.session.scalars(select(ArticleFile.id).where(_orphan_condition())
                                      .limit(batch)))
        if not ids:
            return purged
        purged += write_transaction(partial(_delete_orphans, ids))
        if len(ids) < batch:
            return purged


def _delete_orphans(ids: list[int]) -> int:
    return db.session.execute(
        delete(ArticleFile).where(ArticleFile.id.in_(ids), _orphan_condition()),
        execution_options={"synchronize_session": False}).rowcount


def _orphan_condition() -> sa.ColumnElement[bool]:
    """A file in no saved article (`_claim_files` sets `article_id` when an article's body
    points at it, a draft's too), uploaded more than ORPHAN_LIFETIME ago or by an account
    deleted since (only its uploader could have claimed it)."""
    return and_(ArticleFile.article_id.is_(None),
                or_(ArticleFile.created_at < utcnow() - ORPHAN_LIFETIME,
                    ArticleFile.uploader_id.is_(None)))


def file_for(account: Account, file_id: int) -> ArticleFile:
    """A file of an article `account` may read, or one they uploaded; else NotFound."""
    if not valid_id(file_id):
        raise NotFound(gettext("Ce fichier n'existe pas."))
    found = db.session.scalar(
        select(ArticleFile).outerjoin(Article, Article.id == ArticleFile.article_id)
        .where(ArticleFile.id == file_id,
               or_(and_(ArticleFile.article_id.is_(None), ArticleFile.uploader_id == account.id),
                   and_(ArticleFile.article_id.isnot(None), visible_condition(account)))))
    if found is None:
        raise NotFound(gettext("Ce fichier n'existe pas."))
    return found


def shown_inline(item: ArticleFile) -> bool:
    """Raster images are shown in the page; anything else (SVG included) is downloaded."""
    return item.content_type in INLINE_IMAGES


def _claim_files(editor: Account, article: Article) -> None:
    """The files the body points at become the article's; those it no longer points at go."""
    ids = {int(n) for n in _FILE_LINK.findall(article.body) if valid_id(int(n))}
    db.session.execute(update(ArticleFile).where(
        ArticleFile.id.in_(ids), ArticleFile.article_id.is_(None),
        ArticleFile.uploader_id == editor.id).values(article_id=article.id),
        execution_options={"synchronize_session": False})
    db.session.execute(delete(ArticleFile).where(ArticleFile.article_id == article.id,
                                                 ArticleFile.id.not_in(ids)),
                       execution_options={"synchronize_session": False})


# --- comments ------------------------------------------------------------------------------------

def comments_of(account: Account, article: Article, *, manager: bool) -> sa.Select:
    """Published comments; managers see those awaiting approval too, and authors their own.
    Newest first, for a page of the newest."""
    query = select(ArticleComment).where(ArticleComment.article_id == article.id)
    if not manager:
        query = query.where(or_(ArticleComment.state == CommentState.PUBLISHED,
                                and_(ArticleComment.author_id == account.id,
                                     ArticleComment.state == CommentState.PENDING)))
    else:
        query = query.where(ArticleComment.state != CommentState.REJECTED)
    return query.order_by(ArticleComment.created_at.desc(), ArticleComment.id.desc())


def add_comment(author: Account, article: Article, body: str, *, manager: bool) -> ArticleComment:
    """A reader's comment, within the agenda's flood rule (comments.check_flood), which
    managers are not held to."""
    if article.comments == CommentMode.OFF or not is_published(article):
        raise InvalidInput(gettext("Les commentaires sont fermés pour cet article."))
    body = body.strip()
    if not body:
        raise InvalidInput(gettext("Écrivez votre commentaire."))
    if len(body) > COMMENT_MAX:
        raise InvalidInput(gettext("Un commentaire compte au plus %(max)d caractères.",
                                   max=COMMENT_MAX))
    if not manager:
        comments.check_flood(ArticleComment, ArticleComment.article_id == article.id, author.id)
    state = CommentState.PENDING if article.comments == CommentMode.MODERATED and not manager \
        else CommentState.PUBLISHED
    comment = ArticleComment(article_id=article.id, author_id=author.id, body=body, state=state)
    db.session.add(comment)
    db.session.flush()
    return comment


def moderate(article: Article, comment_id: int, state: CommentState) -> None:
    comment = db.session.scalar(select(ArticleComment).where(
        ArticleComment.id == comment_id, ArticleComment.article_id == article.id)) \
        if valid_id(comment_id) else None
    if comment is None:
        raise NotFound(gettext("Ce commentaire n'existe pas."))
    comment.state = state
