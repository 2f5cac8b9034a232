"""The home page — the portal's front door: the Messagerie (unread messages and the latest
few), the next events of one's agendas and the latest articles of one's rubrics — and the
language switch."""
from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from agenda.schedule import upcoming

from . import LOCALES
from .messagerie import display
from .messagerie.overview import overview
from .rubriques.articles import latest_for
from .security import local_path

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    return render_template("home.html", mail=overview(current_user),
                           next_events=upcoming(current_user),
                           latest_articles=latest_for(current_user),
                           list_date=display.list_date, names=display.names)


@bp.route("/langue/<code>", methods=["POST"])
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
    return redirect(local_path(request.form.get("next")) or url_for("home.index"))
