"""The home page and the language switch."""
from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from agenda.schedule import upcoming

from . import LOCALES

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    return render_template("home.html", next_events=upcoming(current_user))


@bp.route("/langue/<code>", methods=["POST"])
def set_language(code: str):
    if code in LOCALES:
        session["lang"] = code
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//")
                    else url_for("home.index"))
