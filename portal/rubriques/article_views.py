"""Article pages: reading (with its comments and the "J'ai lu" button when a mailing asked
for a confirmation), the editor, deleting, and the images and files the editor uploads."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from flask import Response, abort, flash, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from agenda import comments
from agenda.errors import AgendaError
from directory import form_keys
from directory.clock import local_time, readers_zone
from directory.db import db
from directory.errors import PreauError
from directory.rubrics import managed_rubric_ids
from mailgate import fanout
from mailgate.settings import current

from .. import mail_html, saving
from ..agenda import wording as agenda_wording
from ..directory_pages import UNCAPPED, PageOutOfRange, paginate
from . import articles
from .blueprint import (
    FAILED,
    ID,
    article_to_manage,
    back,
    bp,
    describe,
    readable_article,
    rubric_to_manage,
    saved,
)
from .forms import ArticleForm, CommentForm, ConfirmForm, ModerationForm, PageForm
from .models import Article, ArticleComment, CommentMode, CommentState

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAILINGS_SHOWN = 20     # the article page's newest mailings (its managers')


@bp.route(f"/articles/{ID.format('article_id')}")
def article(article_id: int):
    """The article with a page of its comments, the newest (`?page=2`: the ones before)."""
    shown = readable_article(article_id)
    manager = bool(managed_rubric_ids(current_user, [shown.rubric_id]))
    paging = PageForm(formdata=request.args)
    if not paging.validate():
        abort(404)
    try:
        page = paginate(articles.comments_of(current_user, shown, manager=manager),
                        paging.number(), comments.PAGE_SIZE, id_column=ArticleComment.id,
                        cap=UNCAPPED)
    except PageOutOfRange:
        abort(404)
    return render_template(
        "rubriques/article.html", article=shown, manager=manager, comments=page,
        comment_form=CommentForm(formdata=None, cle=uuid.uuid4().hex),
        moderation=ModerationForm(formdata=None),
        confirm=ConfirmForm(formdata=None),
        awaiting=fanout.awaiting_acknowledgement(shown.origin, current_user.id),
        mailings=fanout.jobs_of(shown.origin, MAILINGS_SHOWN) if manager else [])


@bp.route(f"/{ID.format('rubric_id')}/articles/nouveau", methods=["GET", "POST"])
def new_article(rubric_id: int):
    rubric = rubric_to_manage(rubric_id)
    # the key drawn here makes the editor sent twice (a double click) make one article
    return _editor(rubric, None, ArticleForm() if request.method == "POST" else ArticleForm(
        formdata=None, cle=uuid.uuid4().hex))


@bp.route(f"/articles/{ID.format('article_id')}/modifier", methods=["GET", "POST"])
def edit_article(article_id: int):
    shown = article_to_manage(article_id)
    form = ArticleForm() if request.method == "POST" else ArticleForm(
        formdata=None, titre=shown.title, contenu=shown.body,
        publication="brouillon" if shown.status == "draft" else (
            "maintenant" if articles.is_published(shown) else "plus-tard"),
        date=_local(shown.publish_at), commentaires=shown.comments.value)
    return _editor(shown.rubric, shown, form)


def _editor(rubric, shown, form: ArticleForm):
    if form.validate_on_submit():
        when = form.date.data if form.publication.data == "plus-tard" else None
        if form.publication.data == "plus-tard" and when is None:
            form.date.errors.append(gettext("Indiquez la date et l'heure de publication."))
        else:
            draft = articles.Draft(
                title=form.titre.data, body=form.contenu.data or "",
                publish=form.publication.data != "brouillon",
                publish_at=_utc(when) if when else None,
                comments=CommentMode(form.commentaires.data))
            written = saved(lambda: _save(rubric, shown, draft, form))
            if written is not FAILED:
                flash(gettext("L'article « %(title)s » est enregistré.", title=written.title),
                      "success")
                return back(url_for(".article", article_id=written.id))
    # A refused form shows back what was typed: sanitised as a saved article would be.
    form.contenu.data = mail_html.sanitize_article(form.contenu.data or "")
    return render_template("rubriques/editor.html", rubric=rubric, article=shown, form=form,
                           max_mb=current().max_message_bytes // 2**20), \
        400 if form.errors else 200


def _save(rubric, shown, draft: articles.Draft, form: ArticleForm):
    """Save the article; a new article's editor sent again (a double click on « Enregistrer
    l'article », two at once) gives the article its first sending made, files included,
    instead of a second one."""
    key = form_keys.key(form.cle.data, [rubric.id, *sorted(form.data.items())]) \
        if shown is None and form.cle.data else None
    if key is not None:
        first = form_keys.already_made(current_user.id, key, Article)
        if first is not None:
            return first
    written = articles.save(current_user, rubric, draft, shown)
    if key is not None:
        form_keys.made(current_user.id, key, written.id)
    return written


def _local(when: datetime) -> datetime:
    return local_time(when).replace(tzinfo=None)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=readers_zone()).astimezone(UTC).replace(tzinfo=None)


@bp.route(f"/articles/{ID.format('article_id')}/supprimer", methods=["GET", "POST"])
def delete_article(article_id: int):
    shown = article_to_manage(article_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        rubric_id = shown.rubric_id
        articles.delete_article(shown)
        db.session.commit()
        flash(gettext("L'article est supprimé."), "success")
        return back(url_for(".rubric", rubric_id=rubric_id))
    return render_template("rubriques/confirm.html", form=form,
                           title=gettext("Supprimer l'article « %(title)s »", title=shown.title),
                           text=gettext("L'article, ses images, ses fichiers et ses "
                                        "commentaires seront supprimés. Cette action est "
                                        "définitive."),
                           action=url_for(".delete_article", article_id=shown.id),
                           cancel=url_for(".article", article_id=shown.id))


@bp.route(f"/{ID.format('rubric_id')}/fichiers", methods=["POST"])
def upload(rubric_id: int):
    """The editor's upload: JSON {url, name, image} or {error} with a 400."""
    rubric_to_manage(rubric_id)
    sent = request.files.get("fichier")
    if not ConfirmForm().validate_on_submit() or sent is None:
        return jsonify(error=gettext("Aucun fichier n'a été reçu.")), 400
    try:
        item = articles.add_file(current_user, sent.filename or "", sent.mimetype,
                                 sent.read(), current().max_message_bytes)
        db.session.commit()
    except PreauError as error:
        db.session.rollback()
        return jsonify(error=error.message), 400
    return jsonify(url=url_for(".file", file_id=item.id), name=item.filename,
                   image=articles.shown_inline(item))


@bp.route(f"/fichiers/{ID.format('file_id')}")
def file(file_id: int):
    try:
        item = articles.file_for(current_user, file_id)
    except PreauError:
        abort(404)
    inline = articles.shown_inline(item)
    ascii_name = _SAFE_NAME.sub("_", item.filename) or "fichier"
    response = Response(item.data,
                        mimetype=item.content_type if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; "
        f"filename*=UTF-8''{quote(item.filename)}")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route(f"/articles/{ID.format('article_id')}/lu", methods=["POST"])
def acknowledge(article_id: int):
    """"J'ai lu": confirms every mailing about this article that asked the viewer."""
    shown = readable_article(article_id)
    if ConfirmForm().validate_on_submit() and fanout.acknowledge_origin(shown.origin,
                                                                        current_user.id):
        db.session.commit()
        flash(gettext("Merci : votre lecture est confirmée."), "success")
    return back(url_for(".article", article_id=shown.id))


@bp.route(f"/articles/{ID.format('article_id')}/commentaires", methods=["POST"])
def comment(article_id: int):
    shown = readable_article(article_id)
    form = CommentForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return back(url_for(".article", article_id=shown.id) + "#commentaires")
    manager = bool(managed_rubric_ids(current_user, [shown.rubric_id]))
    added = saving.saved(lambda: _add_comment(shown, form, manager),
                         catch=PreauError, describe=_comment_refusal)
    if added is not FAILED:
        flash(gettext("Votre commentaire est publié.") if added.state == CommentState.PUBLISHED
              else gettext("Votre commentaire sera publié après l'accord d'un gestionnaire "
                           "de la rubrique."),
              "success")
    return back(url_for(".article", article_id=shown.id) + "#commentaires")


def _add_comment(shown: Article, form: CommentForm, manager: bool) -> ArticleComment:
    """The comment; the form sent again (a double click on « Publier le commentaire », two at once) gives
    the comment its first sending made instead of a second one (directory/form_keys.py)."""
    key = form_keys.key(form.cle.data, [shown.id, form.texte.data]) if form.cle.data else None
    if key is not None:
        first = form_keys.already_made(current_user.id, key, ArticleComment)
        if first is not None:
            return first
    added = articles.add_comment(current_user, shown, form.texte.data, manager=manager)
    if key is not None:
        form_keys.made(current_user.id, key, added.id)
    return added


def _comment_refusal(error: PreauError) -> str:
    """The flood rule is the agenda's comments' (agenda/comments.py): so are its words."""
    return agenda_wording.describe(error) if isinstance(error, AgendaError) \
        else describe(error)


@bp.route(f"/articles/{ID.format('article_id')}/moderer", methods=["POST"])
def moderate(article_id: int):
    shown = article_to_manage(article_id)
    form = ModerationForm()
    if form.validate_on_submit():
        publish = form.decision.data == "publier"
        if saved(lambda: articles.moderate(shown, form.commentaire.data,
                                           CommentState.PUBLISHED if publish
                                           else CommentState.REJECTED)) is not FAILED:
            flash(gettext("Commentaire publié.") if publish else gettext("Commentaire refusé."),
                  "success")
    return back(url_for(".article", article_id=shown.id) + "#commentaires")
