"""The words of the rubrics' pages for what the business code says with codes: populations,
rubric problems, and what became of each recipient of a population mailing."""
from __future__ import annotations

from flask_babel import gettext

from directory.enums import Profile
from directory.models import Account
from directory.rights import refusal_reason
from directory.rubric_models import RubricPopulation
from directory.rubrics import Problem, RubricError
from mailgate.fanout import AUTHOR_GONE, CANCELLED, FORWARD_FAILED, UNROUTABLE
from mailgate.fanout_models import RecipientState
from mailgate.routing import Refusal

from ..i18n import N_, said

PEOPLE = {
    Profile.STUDENT: N_("Élèves"),
    Profile.PARENT: N_("Parents d'élèves"),
    Profile.TEACHER: N_("Enseignants"),
    Profile.STAFF: N_("Personnels non enseignants"),
    Profile.OTHER: N_("Autres membres"),
}

PROBLEMS = {
    Problem.NAME_MISSING: N_("Donnez un nom à la rubrique."),
    Problem.NAME_TOO_LONG: N_("Le nom de la rubrique dépasse %(max)d caractères."),
    Problem.DESCRIPTION_TOO_LONG: N_("La description dépasse %(max)d caractères."),
    Problem.NOT_A_SPACE_OF_YOURS: N_("Vous ne pouvez pas créer de rubrique dans cet espace."),
    Problem.UNKNOWN_SCOPE: N_("Choisissez l'établissement de la rubrique ou un de ses groupes."),
    Problem.POPULATION_EXISTS: N_("Cette population a déjà accès à la rubrique."),
    Problem.NOT_A_MANAGER_PROFILE: N_("%(name)s n'est ni enseignant ni personnel : il ne peut "
                                      "pas gérer de rubrique."),
    Problem.UNKNOWN_ACCOUNT: N_("Aucun enseignant ni personnel de l'établissement n'a cet "
                                "identifiant."),
    Problem.DEFAULT_RUBRIC: N_("La rubrique d'un établissement ou d'une classe ne peut pas être "
                               "supprimée."),
}

FATES = {
    RecipientState.PENDING: N_("En attente"),
    RecipientState.DELIVERED: N_("Dans sa messagerie Préau"),
    RecipientState.FORWARDED: N_("Transféré à son adresse de redirection"),
    RecipientState.REFUSED: N_("Non remis"),
}

REFUSALS = {
    Refusal.SUSPENDED.value: N_("compte suspendu"),
    Refusal.NO_REDIRECT.value: N_("injoignable : pas d'adresse de redirection"),
    Refusal.MAILBOX_FULL.value: N_("boîte aux lettres pleine"),
    Refusal.TOO_LARGE.value: N_("message trop volumineux"),
    Refusal.UNKNOWN.value: N_("compte supprimé"),
    AUTHOR_GONE: N_("le compte de l'auteur n'existe plus"),
    UNROUTABLE: N_("le message n'a pas pu être préparé pour l'envoi"),
    FORWARD_FAILED: N_("le transfert à son adresse de redirection a échoué"),
    CANCELLED: N_("envoi arrêté : la communication a été désactivée"),
}
NOT_DELIVERED = N_("non remis")     # a refusal without words of its own


def population_label(population: RubricPopulation) -> str:
    people = gettext(PEOPLE[population.profile])
    if population.group is not None:
        return gettext("%(people)s de %(group)s", people=people, group=population.group.name)
    return gettext("%(people)s — %(school)s", people=people, school=population.school.name)


def problem(error: RubricError) -> str:
    return gettext(PROBLEMS[error.problem], **error.params)


def fate(state: str) -> str:
    return gettext(FATES[RecipientState(state)])


def refusal(code: str | None, author: Account | None, first_name: str, last_name: str,
            profile: Profile) -> str:
    """Why a recipient was not reached; the rights engine's own words for its refusals."""
    if code == Refusal.NOT_ALLOWED.value and author is not None:
        return said(refusal_reason(author, f"{first_name} {last_name}".strip(), Profile(profile)))
    return gettext(REFUSALS.get(code or "", NOT_DELIVERED))
