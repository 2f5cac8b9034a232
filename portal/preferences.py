"""Préférences: the universal address, and the redirect address with its verification."""
from __future__ import annotations

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
from flask_babel import gettext
from flask_login import current_user, login_required

from directory import redirects
from directory.db import db
from directory.domain import mail_domain
from directory.errors import InvalidInput
from mailgate import system_mail

from .auth import current_password_refusal
from .forms import RedirectForm
from .i18n import said
from .public_links import public_url_for
from .saving import FAILED, saved

bp = Blueprint("preferences", __name__, url_prefix="/preferences")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = RedirectForm()
    if form.validate_on_submit():
        refusal = current_password_refusal(form.password.data)
        if refusal:
            form.password.errors.append(refusal)
        else:
            def change() -> None:
                token = redirects.request_change(
                    current_user, form.address.data, current_app.config["SECRET_KEY"],
                    mail_domain=mail_domain())
                _send_verification(form.address.data.strip(), token)

            if saved(change, errors=form.address.errors) is not FAILED:
                flash(gettext("Un lien de vérification a été envoyé à %(address)s. L'adresse "
                              "sera utilisée dès que vous aurez cliqué sur ce lien (valable 48 "
                              "heures).", address=current_user.pending_redirect_address),
                      "success")
                return redirect(url_for(".index"))
    return render_template("preferences/index.html", form=form), \
        400 if form.errors else 200


def _send_verification(address: str, token: str) -> None:
    link = public_url_for(".confirm_redirect", token=token)
    body = gettext("Bonjour %(name)s,\n\n"
                   "Vous avez demandé que vos messages Préau soient redirigés vers cette "
                   "adresse.\n"
                   "Pour confirmer, ouvrez ce lien dans les 48 heures :\n\n%(link)s\n\n"
                   "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
                   name=current_user.full_name, link=link)
    message = system_mail.build(to=address,
                                subject=gettext("Préau : vérifiez votre adresse de redirection"),
                                body=body, domain=mail_domain())
    system_mail.send(message)


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
