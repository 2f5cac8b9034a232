"""The communications' blueprint, the loaders every view goes through (an object is fetched
by a query that checks what the viewer may do with it, else 404), and the words for the
business codes."""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from directory.models import Group, School
from mailgate.automations import communications
from mailgate.automations.communications import CommunicationError, Problem
from mailgate.automations.models import Communication

from ..directory_pages import page_args
from ..i18n import N_
from ..public_links import public_url_for

bp = Blueprint("communications", __name__, url_prefix="/communications")
ID = "<int(max=2147483647):{}>"

PROBLEMS = {
    Problem.NAME_MISSING: N_("Donnez un nom."),
    Problem.SUBJECT_MISSING: N_("Donnez un objet au message."),
    Problem.BODY_MISSING: N_("Écrivez le message."),
    Problem.TOO_LONG: N_("Le texte dépasse %(max)d caractères."),
    Problem.BAD_TIME: N_("Heure invalide : écrivez-la comme 08:00."),
    Problem.IN_THE_PAST: N_("Cette date est passée : choisissez un moment à venir."),
    Problem.BAD_DAYS: N_("Les jours sont des nombres séparés par des virgules, comme 7,15."),
    Problem.FILES_TOO_BIG: N_("Les pièces jointes dépassent %(max)d Mo en tout."),
    Problem.NOT_A_DRAFT: N_("Ce message n'est plus un brouillon : il est déjà envoyé ou "
                            "programmé."),
    Problem.TOO_MANY_EXCLUDED: N_("Vous pouvez exclure au plus %(max)d personnes une à une : "
                                  "choisissez plutôt des groupes ou des profils."),
    Problem.BAD_EXCLUSION: N_("Une personne à exclure est inconnue."),
    Problem.FIELDS_IN_SUBJECT: N_("Les champs de fusion ne s'emploient que dans le message, "
                                  "pas dans l'objet : retirez %(fields)s de l'objet."),
}


def problem_text(error: CommunicationError) -> str:
    if error.problem == Problem.COUNT_TO_CONFIRM:       # a plural: said by its count
        return ngettext("Vérifiez les destinataires : sans groupe ni profil choisi, ce "
                        "message part à %(num)d personne. Cliquez de nouveau sur « Envoyer » "
                        "pour confirmer.",
                        "Vérifiez les destinataires : sans groupe ni profil choisi, ce "
                        "message part à %(num)d personnes. Cliquez de nouveau sur « Envoyer » "
                        "pour confirmer.", error.params["num"])
    return gettext(PROBLEMS[error.problem], **error.params)


@bp.before_request
@login_required
def _logged_in():
    return None


@bp.context_processor
def _helpers():
    return {"page_args": page_args}


def writer() -> None:
    if not communications.may_write_to_many(current_user):
        abort(403)


def own_message(communication_id: int) -> Communication:
    return communications.own_message(current_user, communication_id) or abort(404)


def space_communication(communication_id: int) -> Communication:
    return communications.space_communication(current_user, communication_id) or abort(404)


def school_space(school_id: int) -> School:
    return communications.managed_school(current_user, school_id) or abort(404)


def group_space(group_id: int) -> Group:
    return communications.managed_group(current_user, group_id) or abort(404)


def space_url(communication: Communication) -> str:
    if communication.group_id:
        return url_for("communications.group_list", group_id=communication.group_id)
    return url_for("communications.school_list", school_id=communication.school_id)


def portal_url() -> str:
    return public_url_for("home.index") if request else ""
