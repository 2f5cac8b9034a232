"""The rubrics' blueprint and the loaders every view goes through: an object is fetched by a
query that already checks what the viewer may do with it, and is otherwise not found (404),
as if it did not exist. Two pages need no login: a private feed (its token is the key) and the
acknowledgement link of a message (its signature is)."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, request
from flask_login import current_user, login_required

from directory.errors import PreauError
from directory.rubric_models import Rubric
from directory.rubrics import RubricError, managed_rubric, visible_rubric

from .. import saving
from ..directory_pages import page_args
from ..i18n import said
from ..messagerie import display
from ..saving import FAILED as FAILED  # the views compare with it
from . import articles, labels
from .models import Article

bp = Blueprint("rubriques", __name__, url_prefix="/rubriques")
ID = "<int(max=2147483647):{}>"
PUBLIC = frozenset({"rubriques.feed", "rubriques.acknowledge_link"})


@bp.before_request
def _logged_in():
    if request.endpoint in PUBLIC:
        return None
    return login_required(lambda: None)()


@bp.context_processor
def _helpers():
    return {"population_label": labels.population_label, "page_args": page_args,
            "fate": labels.fate, "is_published": articles.is_published,
            "full_date": display.full_date}


def readable_rubric(rubric_id: int) -> Rubric:
    return visible_rubric(current_user, rubric_id) or abort(404)


def rubric_to_manage(rubric_id: int) -> Rubric:
    """A rubric the viewer manages; one they only read answers 403, any other 404."""
    rubric = readable_rubric(rubric_id)
    return managed_rubric(current_user, rubric.id) or abort(403)


def readable_article(article_id: int) -> Article:
    return articles.visible_article(current_user, article_id) or abort(404)


def article_to_manage(article_id: int) -> Article:
    article = readable_article(article_id)
    return articles.managed_article(current_user, article.id) or abort(403)


def saved(work: Callable[[], object]) -> object:
    """`portal.saving.saved` for the rubrics' errors, worded by labels.py."""
    return saving.saved(work, catch=PreauError, describe=describe)


def describe(error: PreauError) -> str:
    return labels.problem(error) if isinstance(error, RubricError) else said(error)


def flash_error(error: PreauError) -> None:
    flash(describe(error), "error")


def back(default: str):
    return redirect(default, code=303)
