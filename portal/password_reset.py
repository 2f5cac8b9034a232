"""« Mot de passe oublié ? »: ask for a link by login, then choose a new password through it.

The request page answers the same sentence whether the login exists, has a verified redirect
address or not, so that it tells nobody which logins exist — in the same time, too: the
account is looked up and its mail written into the outbound queue only once the answer has
been sent (when the web server closes the response), since writing a mail takes as long again
as the rest of the request and would tell which logins have a verified address. The link
begins with PREAU_PUBLIC_URL, not with whatever Host header the request came with (unset,
only this machine's own name is taken from it: `config.link_origin`). The rules (one hour,
single use) are in directory/password_reset.py.

A link is mailed at most once in MAIL_AGAIN_AFTER to an account's address, however many ask
for one from however many client addresses (the throttle alone lets one login's requests
through at about one a minute, as many mails into the member's own mailbox): a request within
that time mails nothing, and its answer is the same page, sent before anything is looked up.
Twenty minutes, a third of a link's hour: whoever asks and gets no new mail has in their
mailbox a link mailed less than twenty minutes before, good for forty minutes more at least
(unless the password was changed meanwhile) — a stranger asking again and again keeps nobody
from a link — and a mailbox gets at most three an hour. The links mailed are found in the
outbound queue, which keeps its entries thirty days: each is written with its account."""
from __future__ import annotations

import logging
from functools import partial
from math import ceil

from flask import (
    Blueprint,
    copy_current_request_context,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from directory import password_reset
from directory.clock import utcnow
from directory.db import db, write_transaction
from directory.domain import mail_domain
from directory.errors import InvalidInput
from directory.models import Account
from directory.password_reset import Refusal
from mailgate import system_mail

from . import config, throttle
from .auth import _client_address
from .forms import ForgottenPasswordForm, NewPasswordForm

bp = Blueprint("password_reset", __name__, url_prefix="/mot-de-passe-oublie")
log = logging.getLogger("preau.portal")

MAIL_AGAIN_AFTER = system_mail.MAIL_AGAIN_AFTER


def _refusal_text(refusal: Refusal) -> str:
    spent = gettext("Ce lien a déjà servi : le mot de passe a été changé depuis son envoi. "
                    "Demandez-en un nouveau si besoin.")
    return {Refusal.EXPIRED: gettext("Ce lien a expiré : il est valable une heure. "
                                     "Demandez-en un nouveau."),
            Refusal.INVALID: gettext("Ce lien n'est pas valide. Demandez-en un nouveau."),
            Refusal.USED: spent,
            Refusal.READDRESSED: gettext("Ce lien a été envoyé à une adresse de redirection "
                                         "qui a changé depuis. Demandez-en un nouveau."),
            }[refusal]


@bp.route("/", methods=["GET", "POST"])
def request_link():
    if current_user.is_authenticated:
        return redirect(url_for("auth.change_password"))
    form = ForgottenPasswordForm()
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        # Counted apart from login failures: asking for links never locks anyone out.
        key, client = f"oubli:{login_name}", f"oubli:{_client_address()}"
        attempt = throttle.reserve(key, client)     # stays counted: every request is one
        if attempt.wait is not None:
            blocked = max(1, ceil(attempt.wait.total_seconds() / 60))
            form.form_errors.append(ngettext(
                "Trop de demandes. Réessayez dans %(num)d minute.",
                "Trop de demandes. Réessayez dans %(num)d minutes.", blocked))
        else:
            response = make_response(render_template("auth/forgotten_sent.html"))
            response.call_on_close(copy_current_request_context(partial(_mail_link, login_name)))
            return response
    return render_template("auth/forgotten.html", form=form), 400 if form.errors else 200


def _mail_link(login_name: str) -> None:
    """Runs after the answer was sent, in a copy of the request's context (its language for
    the mail)."""
    account = password_reset.recipient(login_name)
    if account is None:
        return
    origin = config.link_origin(current_app.config["PREAU"], request.host, request.scheme)
    if origin is None:
        log.error("password reset link not mailed: PREAU_PUBLIC_URL is not set, and the "
                  "request's host %r is not this machine", request.host)
        return
    account_id = account.id
    write_transaction(lambda: _send_link(account_id, origin))


def _send_link(account_id: int, origin: str) -> None:
    # Read again, its row locked (FOR NO KEY UPDATE on PostgreSQL, which a mail delivered to
    # the account meanwhile does not wait for; SQLite's write lock is already held): two
    # requests at the same instant mail one link, the second seeing the first's entry.
    account = db.session.scalar(
        select(Account).where(Account.id == account_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True))
    if account is None or account.suspended or not account.verified_redirect:
        return
    token = password_reset.token_for(account, current_app.config["SECRET_KEY"])
    link = origin + url_for(".choose", token=token)
    body = gettext("Bonjour %(name)s,\n\n"
                   "Quelqu'un (vous, sans doute) a demandé à changer le mot de passe de votre "
                   "compte Préau « %(login)s ».\n"
                   "Pour en choisir un nouveau, ouvrez ce lien dans l'heure ; il ne sert "
                   "qu'une fois :\n\n%(link)s\n\n"
                   "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre "
                   "mot de passe reste le même.\n",
                   name=account.full_name, login=account.login, link=link)
    message = system_mail.build(
        to=account.verified_redirect, subject=gettext("Préau : mot de passe oublié"),
        body=body, domain=mail_domain())
    address = message["To"].addresses[0].addr_spec     # as the queue writes it
    if _mailed_lately(account.id, address):
        log.info("password reset link not mailed to account %s: one was mailed less than "
                 "%s ago", account.id, MAIL_AGAIN_AFTER)
        return
    # The entry is the account's: `_mailed_lately` finds it by the account's index, and
    # erasing the account forgets its address.
    system_mail.send(message, account_id=account.id)


def _mailed_lately(account_id: int, address: str) -> bool:
    """Whether a link was mailed to the account at `address`, its present one, within
    MAIL_AGAIN_AFTER (those mailed to a former one no longer open:
    directory/password_reset.py). A reset link's entry has no author; a redirect address's
    verification link, the account's too, has the member as its author
    (portal/preferences.py), and is not one."""
    return any(to == address for _, to in system_mail.mailed_since(
        account_id, utcnow() - MAIL_AGAIN_AFTER, asked_by_member=False))


@bp.route("/<token>", methods=["GET", "POST"])
def choose(token: str):
    """GET shows the form (a mail scanner opening the link spends nothing); POST sets the
    password. A link that cannot be used says why as soon as it is opened."""
    secret = current_app.config["SECRET_KEY"]
    found = password_reset.check(token, secret)
    if isinstance(found, Refusal):
        return render_template("auth/new_password.html", error=_refusal_text(found)), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            password_reset.reset(token, secret, form.new.data)
        except InvalidInput as error:
            form.new.errors.append(error.message)
        else:
            db.session.commit()
            flash(gettext("Votre mot de passe a été changé. Connectez-vous avec le nouveau."),
                  "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/new_password.html", form=form, account=found), \
        400 if form.errors else 200
