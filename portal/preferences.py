"""Préférences: the universal address, and the redirect address with its verification.

The verification mails an account has sent are bounded, counted from those mails themselves
in the outbound queue (`_verification_limit`, the one rule): a logged-in member could
otherwise have Préau mail any outside address, from the school's domain, as often as they
liked (the current password asked for slows down wrong guesses only).
- An address is not mailed again within MAIL_AGAIN_AFTER (20 minutes) of a link mailed to it
  for the account: that link, good for 48 hours, is in its mailbox. The address becomes the
  pending one again, so that this link is the one that works (a request for another address
  may have replaced it meanwhile), and the page says to look in that mailbox.
- At most MAILS_PER_DAY (5) links are mailed for one account in 24 hours, whatever their
  addresses; past that the request is refused and nothing changes (the pending address stays
  as it was). A member who mistyped can type their address again at once; a script sending
  the form again and again has five links a day mailed at most, one address one in 20
  minutes at most.
The requests of one account take turns (its row locked until the commit), so that two sent at
once cannot both pass the bound.

Each verification mail's queue entry is written with its account, so that erasing the account
forgets the address typed (mailgate/queue.py `forget_recipients`), and with the member as its
author: that tells it from a password reset link (portal/password_reset.py), which anyone may
ask for and has no author, in the same queue. System mail is never reported on when it fails
(mailgate/bounces.py `report`), so its author is told nothing more."""
from __future__ import annotations

import enum
from datetime import timedelta
from email.message import EmailMessage
from math import ceil
from typing import NamedTuple

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from directory import redirects
from directory.clock import utcnow
from directory.db import db, lock_account
from directory.domain import mail_domain
from directory.errors import InvalidInput
from mailgate import system_mail

from .auth import current_password_refusal
from .forms import RedirectForm
from .i18n import said
from .public_links import public_url_for
from .saving import FAILED, saved

bp = Blueprint("preferences", __name__, url_prefix="/preferences")

MAIL_AGAIN_AFTER = system_mail.MAIL_AGAIN_AFTER
MAILS_PER_DAY = 5
_DAY = timedelta(hours=24)


class Limit(enum.StrEnum):
    MAILED_LATELY = "mailed_lately"     # this address got a link less than 20 minutes ago
    TOO_MANY = "too_many"               # MAILS_PER_DAY links in the last 24 hours


class Held(NamedTuple):
    limit: Limit
    wait: timedelta     # until a link may be mailed again


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = RedirectForm()
    if form.validate_on_submit():
        refusal = current_password_refusal(form.password.data)
        if refusal:
            form.password.errors.append(refusal)
        else:
            def change() -> Held | None:
                lock_account(current_user.id)
                token = redirects.request_change(
                    current_user, form.address.data, current_app.config["SECRET_KEY"],
                    mail_domain=mail_domain())
                message = _verification(current_user.pending_redirect_address, token)
                held = _verification_limit(current_user.id,
                                           message["To"].addresses[0].addr_spec)
                if held is not None and held.limit is Limit.TOO_MANY:
                    raise InvalidInput(_too_many_text(held.wait))  # rolled back by `saved`
                if held is None:
                    system_mail.send(message, account_id=current_user.id,
                                     author_id=current_user.id)
                return held

            held = saved(change, errors=form.address.errors)
            if held is None:
                flash(gettext("Un lien de vérification a été envoyé à %(address)s. L'adresse "
                              "sera utilisée dès que vous aurez cliqué sur ce lien (valable 48 "
                              "heures).", address=current_user.pending_redirect_address),
                      "success")
                return redirect(url_for(".index"))
            if held is not FAILED:
                flash(gettext("Un lien de vérification a déjà été envoyé à %(address)s il y a "
                              "moins de %(minutes)d minutes : cherchez-le dans cette boîte aux "
                              "lettres (et parmi ses indésirables). Aucun nouveau lien n'y est "
                              "envoyé avant la fin de ce délai.",
                              address=current_user.pending_redirect_address,
                              minutes=MAIL_AGAIN_AFTER // timedelta(minutes=1)), "info")
                return redirect(url_for(".index"))
    return render_template("preferences/index.html", form=form), \
        400 if form.errors else 200


def _verification_limit(account_id: int, address: str) -> Held | None:
    """What holds back a verification link to `address` (as the queue writes it) for the
    account now, or None: the module's rule, read from the verification mails the account had
    sent in the last 24 hours (at most MAILS_PER_DAY, since the rule holds; entries are kept
    30 days). The address is compared as written: the pending address becomes it again, and
    must be the very one its link carries; another spelling of it (capitals) is another
    address, within the day's MAILS_PER_DAY."""
    now = utcnow()
    sent = system_mail.mailed_since(account_id, now - _DAY, asked_by_member=True)
    same = [at for at, to in sent if to == address and at > now - MAIL_AGAIN_AFTER]
    if same:
        return Held(Limit.MAILED_LATELY, max(same) + MAIL_AGAIN_AFTER - now)
    if len(sent) >= MAILS_PER_DAY:
        oldest = sorted(at for at, _ in sent)[len(sent) - MAILS_PER_DAY]
        return Held(Limit.TOO_MANY, oldest + _DAY - now)
    return None


def _too_many_text(wait: timedelta) -> str:
    hours = max(1, ceil(wait / timedelta(hours=1)))
    return ngettext("Trop de liens de vérification demandés : au plus %(count)d en 24 heures. "
                    "Réessayez dans %(num)d heure.",
                    "Trop de liens de vérification demandés : au plus %(count)d en 24 heures. "
                    "Réessayez dans %(num)d heures.", hours, count=MAILS_PER_DAY)


def _verification(address: str, token: str) -> EmailMessage:
    """The verification mail of `token` to `address`, not yet queued."""
    link = public_url_for(".confirm_redirect", token=token)
    body = gettext("Bonjour %(name)s,\n\n"
                   "Vous avez demandé que vos messages Préau soient redirigés vers cette "
                   "adresse.\n"
                   "Pour confirmer, ouvrez ce lien dans les 48 heures :\n\n%(link)s\n\n"
                   "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
                   name=current_user.full_name, link=link)
    return system_mail.build(to=address,
                             subject=gettext("Préau : vérifiez votre adresse de redirection"),
                             body=body, domain=mail_domain())


@bp.route("/verifier/<token>", methods=["GET", "POST"])
@login_required
def confirm_redirect(token: str):
    """GET shows a button; POST confirms, so a mail scanner following the link changes nothing.
    A link that cannot be used says why as soon as it is opened."""
    secret = current_app.config["SECRET_KEY"]
    try:
        if request.method == "GET":
            address = redirects.check(current_user, token, secret)
            return render_template("preferences/confirm.html", token=token, address=address)
        address = redirects.confirm(current_user, token, secret)
    except InvalidInput as error:
        return render_template("preferences/confirm.html", error=said(error)), 400
    db.session.commit()
    flash(gettext("Votre adresse de redirection %(address)s est vérifiée.", address=address),
          "success")
    return redirect(url_for(".index"))


@bp.route("/mes-donnees.zip")
@login_required
def my_data():
    """RGPD: everything Préau keeps about the member, as files they can open elsewhere. Sent
    from its temporary file a block at a time, which is closed (and removed) once sent."""
    from .personal_data import personal_data_zip

    archive = personal_data_zip(current_user, mail_domain())
    size = archive.seek(0, 2)
    archive.seek(0)
    response = send_file(archive, mimetype="application/zip", as_attachment=True,
                         download_name="mes-donnees-preau.zip", conditional=False)
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"     # a member's data stays out of caches
    return response
