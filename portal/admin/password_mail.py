"""The mail that hands a new password to its owner's verified redirect address."""
from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext

from directory.domain import mail_domain
from mailgate import system_mail

from ..public_links import public_url_for


def send_password(*, account_id: int, author_id: int, to: str, name: str, login: str,
                  password: str) -> None:
    """Queued in the caller's transaction (sent by the worker once it commits), as the
    account's (deleting the account forgets it with the password it holds) and by
    `author_id`, the administrator: not a reset link, which the account's next « Mot de
    passe oublié » would otherwise wait for (system_mail.mailed_since)."""
    system_mail.send(password_message(to=to, name=name, login=login, password=password),
                     account_id=account_id, author_id=author_id)


def send_passwords(items: list[dict], *, author_id: int | None) -> None:
    """Many at once (an import's batch): dicts of account_id, to, name, login, password;
    `author_id` as in `send_password` (None for the command line's import, which has no
    administrator: its mails then count as reset links for twenty minutes)."""
    system_mail.send_many([password_message(**{key: value for key, value in item.items()
                                               if key != "account_id"}) for item in items],
                          account_ids=[item["account_id"] for item in items],
                          author_id=author_id)


def password_message(*, to: str, name: str, login: str, password: str):
    link = public_url_for("auth.login") if has_request_context() else ""
    body = gettext("Bonjour %(name)s,\n\n"
                   "Votre compte Préau est prêt.\n\n"
                   "Identifiant : %(login)s\n"
                   "Mot de passe provisoire : %(password)s\n\n"
                   "Vous devrez choisir votre propre mot de passe à la première connexion.\n"
                   "%(link)s\n", name=name, login=login, password=password, link=link)
    return system_mail.build(to=to, subject=gettext("Préau : votre identifiant et votre "
                                                    "mot de passe"),
                             body=body, domain=mail_domain())
