"""The mail that hands a new password to its owner's verified redirect address."""
from __future__ import annotations

from flask import current_app, has_request_context, url_for
from flask_babel import gettext

from mailgate import system_mail


def send_password(*, to: str, name: str, login: str, password: str) -> None:
    """Queued in the caller's transaction (sent by the worker once it commits)."""
    link = url_for("auth.login", _external=True) if has_request_context() else ""
    body = gettext("Bonjour %(name)s,\n\n"
                   "Votre compte Préau est prêt.\n\n"
                   "Identifiant : %(login)s\n"
                   "Mot de passe provisoire : %(password)s\n\n"
                   "Vous devrez choisir votre propre mot de passe à la première connexion.\n"
                   "%(link)s\n", name=name, login=login, password=password, link=link)
    message = system_mail.build(to=to, subject=gettext("Préau : votre identifiant et votre "
                                                       "mot de passe"),
                                body=body, domain=current_app.config["MAIL_DOMAIN"])
    system_mail.send(message)
