"""Login, logout, the forced password change and the access rules every view relies on."""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from directory.accounts import change_password
from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from directory.passwords import hash_password, policy_errors, verify_password

from . import throttle
from .extensions import login_manager
from .forms import ChangePasswordForm, LoginForm
from .i18n import N_

bp = Blueprint("auth", __name__)

ACCESS_REFRESH = timedelta(minutes=1)
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.change_password", "static",
                  "home.set_language", "preferences.confirm_redirect"}


@login_manager.user_loader
def load_account(account_id: str) -> Account | None:
    if not account_id.isdigit():
        return None
    # One statement for every page: the schools and roles every page reads come joined.
    account = db.session.get(Account, int(account_id), options=[
        joinedload(Account.schools), joinedload(Account.role_overrides)])
    return account if account is not None and not account.suspended else None


login_manager.login_view = "auth.login"
# Flask-Login translates its message with localize_callback when it shows it.
login_manager.login_message = N_("Connectez-vous pour accéder à cette page.")
login_manager.localize_callback = gettext
login_manager.login_message_category = "info"


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _client_address() -> str:
    return request.remote_addr or "inconnu"


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        login_name, client = form.login.data.strip(), _client_address()
        blocked = throttle.minutes_blocked(login_name, client)
        if blocked:
            form.form_errors.append(ngettext(
                "Trop de tentatives de connexion échouées. Réessayez dans %(num)d minute.",
                "Trop de tentatives de connexion échouées. Réessayez dans %(num)d minutes.",
                blocked))
        else:
            account = db.session.scalar(select(Account).where(Account.login == login_name))
            if not _password_matches(account, form.password.data):
                throttle.record_failure(login_name, client)
                form.form_errors.append(gettext("Identifiant ou mot de passe incorrect."))
            elif account.suspended:
                form.form_errors.append(gettext(
                    "Ce compte est suspendu. Adressez-vous à l'administrateur de votre "
                    "établissement."))
            else:
                throttle.forget_failures(login_name)
                _fresh_session()
                login_user(account)
                account.last_access_at = utcnow()
                db.session.commit()
                return redirect(_safe_next() or url_for("home.index"))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 400


_unknown_login_hash: list[str] = []


def _password_matches(account: Account | None, password: str) -> bool:
    """An unknown login costs one argon2 verification too, so that the response time does not
    tell which logins exist."""
    if account is None:
        if not _unknown_login_hash:
            _unknown_login_hash.append(hash_password("compte inexistant"))
        verify_password(_unknown_login_hash[0], password)
        return False
    return verify_password(account.password_hash, password)


def _fresh_session() -> None:
    """A new session at login and logout (no fixation), keeping only the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def _safe_next() -> str | None:
    target = request.args.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else None


@bp.route("/deconnexion", methods=["POST"])
def logout():
    logout_user()
    _fresh_session()
    flash(gettext("Vous êtes déconnecté."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe", methods=["GET", "POST"], endpoint="change_password")
@login_required
def change_password_view():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current.data):
            form.current.errors.append(gettext("Le mot de passe actuel est incorrect."))
        else:
            unmet = policy_errors(form.new.data)
            if unmet:
                form.new.errors.extend(unmet)
            else:
                change_password(current_user, form.new.data)
                db.session.commit()
                flash(gettext("Votre mot de passe a été changé."), "success")
                return redirect(url_for("home.index"))
    status = 400 if form.errors else 200
    return render_template("auth/change_password.html", form=form), status


def install(app) -> None:
    app.before_request(_enforce_account_state)


def _enforce_account_state():
    """Forced password change, and last access refreshed at most once a minute."""
    if not current_user.is_authenticated:
        return None
    now = utcnow()
    if current_user.last_access_at is None or now - current_user.last_access_at > ACCESS_REFRESH:
        current_user.last_access_at = now
        db.session.commit()
    if current_user.must_change_password and request.endpoint not in OPEN_ENDPOINTS:
        flash(gettext("Vous devez changer votre mot de passe avant de continuer."), "warning")
        return redirect(url_for("auth.change_password"))
    return None
