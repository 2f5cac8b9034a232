"""Login, logout, the forced password change and the access rules every view relies on."""
from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Row, delete, select

from directory.accounts import change_password, end_sessions
from directory.clock import has_ended, last_local_day, utcnow
from directory.db import db, write_transaction
from directory.models import Account, EndedSession
from directory.password_reset import password_stamp
from directory.passwords import policy_errors, verify_login, verify_password
from directory.search import id_from
from directory.session_account import account_of_session

from . import throttle
from .extensions import login_manager
from .forms import ChangePasswordForm, LoginForm
from .i18n import N_, said
from .security import local_path

bp = Blueprint("auth", __name__)

ACCESS_REFRESH = timedelta(minutes=1)
SESSION_TOKEN = "sid"         # names this session, so that "Se déconnecter" can end it
DEVICE_COOKIE = "appareil"     # names a browser that logged in to an account (portal/throttle.py)
DEVICE_LIFETIME = timedelta(days=365)
_DEVICE_SALT = "preau-known-device"
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.logout_everywhere", "auth.change_password",
                  "static", "home.set_language", "preferences.confirm_redirect"}


@login_manager.user_loader
def load_account(session_id: str) -> Account | None:
    """The account of a session cookie, unless the account's sessions were all ended since
    (its session key changed), this session was ended by "Se déconnecter", or the account is
    suspended. One query, every request: nothing of the account is kept between requests."""
    number, _, key = session_id.partition(":")
    account_id = id_from(number)
    account = account_of_session(account_id, session.get(SESSION_TOKEN, "")) \
        if account_id is not None else None
    if account is None or (account.session_key or "") != key:
        _forget_identity()
        return None
    return account


def _forget_identity() -> None:
    """A refused cookie loses the identity it carried: kept, it would be signed again with a
    fresh date whenever the session changes (a message flashed), and a copy kept alive that
    way would work again once its ended-session record expired."""
    session.pop("_user_id", None)
    session.pop(SESSION_TOKEN, None)


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
    """The client the throttle counts. An IPv6 client by its /64: a subscriber's network,
    whose every address is its own to pick from; an IPv4 one written as IPv6 as IPv4."""
    raw = request.remote_addr or "inconnu"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 4:
        return raw
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        holder = _holder(login_name)
        attempt = throttle.reserve(login_name, _client_address(), _known_device(holder))
        if attempt.wait is not None:
            form.form_errors.append(_wait_message(attempt.wait))
        else:
            account = _account_if_password_matches(holder, form.password.data)
            if account is None:
                form.form_errors.append(gettext("Identifiant ou mot de passe incorrect."))
            elif account.suspended:
                write_transaction(lambda: throttle.succeeded(attempt))
                form.form_errors.append(_suspended_message(account))
            else:
                write_transaction(lambda: _record_login(account, attempt))
                _open_session(account)
                response = redirect(local_path(request.args.get("next"))
                                    or url_for("home.index"))
                _remember_device(response, account)
                return response
    return render_template("auth/login.html", form=form), 200 if not form.errors else 400


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT)


def _holder(login_name: str) -> Row | None:
    """The id and password hash of the account `login_name` names, if any: read once per
    attempt, whether the login exists or not, and then used for both the device cookie and
    the password. Plain values, which the throttle's commits do not expire: an ORM account
    would be read again only when the login exists."""
    return db.session.execute(select(Account.id, Account.password_hash)
                              .where(Account.login == login_name)).one_or_none()


def _account_if_password_matches(holder: Row | None, password: str) -> Account | None:
    if not verify_login(holder.password_hash if holder is not None else None, password):
        return None
    return db.session.get(Account, holder.id)


def _known_device(holder: Account | Row | None) -> str | None:
    """The id of this browser's device cookie if it was given less than DEVICE_LIFETIME ago
    at a successful login to the account `holder` (an account, or its id and password hash)
    while it had its present password; else None, and the attempt is counted as a
    stranger's. So a cookie forged or expired is no pass, nor one given for another account
    — a deleted one whose login was handed out again included — nor one given before the
    password was changed or reset."""
    try:
        known = _device_signer().loads(request.cookies.get(DEVICE_COOKIE, ""),
                                       max_age=int(DEVICE_LIFETIME.total_seconds()))
    except BadSignature:        # SignatureExpired included
        return None
    if holder is None or not isinstance(known, dict) or known.get("account") != holder.id \
            or known.get("stamp") != password_stamp(holder.password_hash) \
            or not isinstance(known.get("device"), str):
        return None
    return known["device"]


def _remember_device(response, account: Account) -> None:
    """Give the browser a new device cookie for `account` with its present password (it
    replaces any other)."""
    response.set_cookie(
        DEVICE_COOKIE,
        _device_signer().dumps({"account": account.id,
                                "stamp": password_stamp(account.password_hash),
                                "device": secrets.token_urlsafe(16)}),
        max_age=int(DEVICE_LIFETIME.total_seconds()), httponly=True, samesite="Lax",
        secure=current_app.session_interface.get_cookie_secure(current_app))


def _suspended_message(account: Account) -> str:
    """Why a suspended account cannot log in: its access has ended, or it is suspended."""
    ends = account.access_ends_at
    if has_ended(ends):
        return gettext("L'accès de ce compte a pris fin le %(day)s. Adressez-vous à "
                       "l'administrateur de votre établissement.",
                       day=last_local_day(ends).strftime("%d/%m/%Y"))
    return gettext("Ce compte est suspendu. Adressez-vous à l'administrateur de votre "
                   "établissement.")


def _record_login(account: Account, attempt: throttle.Attempt) -> None:
    throttle.succeeded(attempt)
    account.last_access_at = utcnow()


def _wait_message(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    if seconds >= 60:
        return ngettext(
            "Trop de tentatives de connexion échouées. Réessayez dans %(num)d minute.",
            "Trop de tentatives de connexion échouées. Réessayez dans %(num)d minutes.",
            seconds // 60 + 1)
    return ngettext(
        "Trop de tentatives de connexion échouées. Réessayez dans %(num)d seconde.",
        "Trop de tentatives de connexion échouées. Réessayez dans %(num)d secondes.",
        seconds + 1)


def current_password_refusal(password: str) -> str | None:
    """Why the signed-in member's « mot de passe actuel » is refused, else None. Throttled as
    a login is: the current password guards the redirect address and the password itself,
    so a session left open must not let one guess it."""
    attempt = throttle.reserve(current_user.login, _client_address(),
                               _known_device(current_user))
    if attempt.wait is not None:
        return _wait_message(attempt.wait)
    if not verify_password(current_user.password_hash, password):
        return gettext("Le mot de passe actuel est incorrect.")
    write_transaction(lambda: throttle.succeeded(attempt))
    return None


def _open_session(account: Account) -> None:
    _fresh_session()
    session[SESSION_TOKEN] = secrets.token_urlsafe(24)
    login_user(account)
    _new_csrf_token()


def _new_csrf_token() -> None:
    """The new session gets its CSRF token now, not with its first form: pages opened at
    once right after login (two tabs) would otherwise each draw one, and the form whose
    token lost the race to the cookie would answer 400."""
    g.pop("csrf_token", None)
    generate_csrf()


def _fresh_session() -> None:
    """A new session at login and logout (no fixation), keeping only the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


@bp.route("/deconnexion", methods=["POST"])
def logout():
    """Ends this session for good: a copy of its cookie is refused from now on."""
    token = session.get(SESSION_TOKEN)
    if token:
        write_transaction(lambda: _end_session(token))
    logout_user()
    _fresh_session()
    flash(gettext("Vous êtes déconnecté."), "info")
    return redirect(url_for("auth.login"))


def _end_session(token: str) -> None:
    now = utcnow()
    db.session.execute(delete(EndedSession).where(EndedSession.until < now))
    lifetime = current_app.permanent_session_lifetime
    db.session.merge(EndedSession(token=token, until=now + lifetime))


@bp.route("/deconnexion-partout", methods=["POST"])
@login_required
def logout_everywhere():
    write_transaction(lambda: end_sessions(current_user))
    logout_user()
    _fresh_session()
    flash(gettext("Vous êtes déconnecté de tous les appareils."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe", methods=["GET", "POST"], endpoint="change_password")
@login_required
def change_password_view():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        refusal = current_password_refusal(form.current.data)
        if refusal:
            form.current.errors.append(refusal)
        elif form.new.data == form.current.data:    # a handed-out password stays known
            form.new.errors.append(gettext("Choisissez un mot de passe différent de l'actuel."))
        else:
            unmet = policy_errors(form.new.data)
            if unmet:
                form.new.errors.extend(said(rule) for rule in unmet)
            else:
                account = current_user._get_current_object()
                write_transaction(lambda: change_password(account, form.new.data))
                _open_session(account)      # every other session has ended
                flash(gettext("Votre mot de passe a été changé."), "success")
                response = redirect(url_for("home.index"))
                _remember_device(response, account)     # the old password's is void
                return response
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
        write_transaction(lambda: setattr(current_user, "last_access_at", now))
    if current_user.must_change_password and request.endpoint not in OPEN_ENDPOINTS:
        flash(gettext("Vous devez changer votre mot de passe avant de continuer."), "warning")
        return redirect(url_for("auth.change_password"))
    return None
