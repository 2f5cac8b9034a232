"""The home page and the language switch."""
from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from agenda.schedule import upcoming

from . import LOCALES
from .rubriques.articles import latest_for
from .security import local_path

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    return render_template("home.html", next_events=upcoming(current_user),
                           latest_articles=latest_for(current_user))


@bp.route("/langue/<code>", methods=["POST"])
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
    return redirect(local_path(request.form.get("next")) or url_for("home.index"))
