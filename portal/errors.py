"""Error pages in the reader's language (French by default), never a traceback; CSRF failures
explained."""
from flask import render_template
from flask_babel import gettext, lazy_gettext
from flask_wtf.csrf import CSRFError

from .security import NulCharacter

_ = lazy_gettext
MESSAGES = {
    400: (_("Requête invalide"), _("La requête n'a pas pu être traitée.")),
    403: (_("Accès refusé"), _("Vous n'avez pas le droit d'accéder à cette page.")),
    404: (_("Page introuvable"), _("Cette page n'existe pas ou vous n'y avez pas accès.")),
    405: (_("Méthode non autorisée"), _("Cette action n'est pas possible ainsi.")),
    413: (_("Envoi trop volumineux"), _("Le contenu envoyé dépasse la taille autorisée.")),
    500: (_("Erreur interne"), _("Une erreur est survenue. Elle a été enregistrée ; réessayez "
                                 "plus tard.")),
    503: (_("Service très chargé"), _("Le service est momentanément très chargé. Réessayez "
                                      "dans quelques instants.")),
}


def _page(code: int, detail: str | None = None):
    title, text = MESSAGES[code]
    return render_template("error.html", title=title, text=detail or text, code=code), code


def install(app) -> None:
    for code in MESSAGES:
        app.register_error_handler(code, lambda error, code=code: _page(code))
    app.register_error_handler(
        CSRFError, lambda error: _page(400, gettext(
            "Le formulaire a expiré ou n'est pas authentique (jeton CSRF invalide). Rechargez "
            "la page et recommencez.")))
    app.register_error_handler(
        NulCharacter, lambda error: _page(400, gettext(
            "Le formulaire contient un caractère invisible interdit (caractère nul). Retirez-le "
            "et recommencez.")))
