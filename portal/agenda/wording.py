"""The words of the agenda's reason codes (agenda/errors.py; article comments share the
flood rule of agenda/comments.py, and its words), in the reader's language: web pages,
`preau import-ics` and the gateway's refusal of a METHOD:REPLY all say them from here."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from agenda.errors import AgendaError, Problem
from agenda.ical_read import (
    DUPLICATE_UID,
    END_BEFORE_START,
    MIXED_TIMES,
    NO_START,
    SEVERAL_THAT_DAY,
    TOO_LONG,
)
from agenda.importing import CANCELLED_HERE, ELSEWHERE, NOTIFIED, Fate

_l = lazy_gettext
TEXTS = {
    Problem.TITLE_MISSING: _l("Donnez un titre à l'évènement."),
    Problem.TITLE_TOO_LONG: _l("Le titre dépasse %(max)s caractères."),
    Problem.TEXT_TOO_LONG: _l("Le texte « %(field)s » dépasse %(max)s caractères."),
    Problem.ENDS_BEFORE_START: _l("La fin de l'évènement doit venir après son début."),
    Problem.TOO_LONG: _l("Un évènement dure au plus %(days)s jours."),
    Problem.NO_SUCH_TIME: _l("%(when)s n'existe pas : les horloges avancent d'une heure cette "
                             "nuit-là (passage à l'heure d'été). Choisissez une autre heure."),
    Problem.TWICE_SUCH_TIME: _l("%(when)s a lieu deux fois : les horloges reculent d'une heure "
                                "cette nuit-là (passage à l'heure d'hiver). Choisissez une "
                                "autre heure."),
    Problem.BAD_RECURRENCE: _l("Pour un évènement répété, indiquez la date de la dernière "
                               "fois, après la première."),
    Problem.RECURRENCE_TOO_LONG: _l("Cette répétition donne plus de %(max)s dates : "
                                    "choisissez une date de fin plus proche."),
    Problem.NOT_AN_OCCURRENCE: _l("Le %(day)s n'est pas une date de cet évènement : il ne "
                                  "peut pas être exclu."),
    Problem.UNKNOWN_RESOURCE: _l("Une des ressources choisies n'existe pas ou n'est plus "
                                 "réservable dans cet établissement."),
    Problem.RESOURCE_ARCHIVED: _l("La ressource « %(resource)s » est archivée : l'évènement la "
                                  "garde à ses dates, mais ne peut pas la réserver à d'autres. "
                                  "Décochez-la pour changer les dates."),
    Problem.RESOURCE_TAKEN: _l("La ressource « %(resource)s » est déjà réservée du %(starts)s "
                               "au %(ends)s pour « %(title)s » : rien n'a été enregistré. "
                               "Choisissez d'autres horaires ou une autre ressource."),
    Problem.RESOURCE_TAKEN_ELSEWHERE: _l("La ressource « %(resource)s » est déjà réservée du "
                                         "%(starts)s au %(ends)s pour un autre évènement : "
                                         "rien n'a été enregistré. Choisissez d'autres "
                                         "horaires ou une autre ressource."),
    Problem.RESOURCE_NAME_TAKEN: _l("Une ressource « %(name)s » existe déjà dans cet "
                                    "établissement."),
    Problem.RESOURCE_NAME_MISSING: _l("Donnez un nom à la ressource."),
    Problem.NOT_ASKED: _l("Cet évènement ne demande pas de confirmation."),
    Problem.EVENT_CANCELLED: _l("Cet évènement est annulé : il n'attend plus de réponse."),
    Problem.CANCELLED_MEANWHILE: _l("Cet évènement a été annulé ou supprimé entre-temps : "
                                    "rien n'a été enregistré."),
    Problem.COMMENT_CANCELLED: _l("Cet évènement est annulé : il ne reçoit plus de "
                                  "commentaire."),
    Problem.NOT_INVITED: _l("Cette personne ne fait pas partie des invités de cet "
                            "évènement."),
    Problem.FOLLOW_UP_OFF: _l("Les commentaires sont fermés pour cet évènement."),
    Problem.COMMENT_EMPTY: _l("Écrivez un commentaire avant de l'envoyer."),
    Problem.COMMENTS_WAITING: _l("Vous avez déjà %(max)s commentaires en attente de modération ici : "
                      "attendez qu'ils soient lus avant d'en proposer un autre."),
    Problem.COMMENTS_DAILY: _l("Vous avez écrit %(max)s commentaires ici en 24 heures, le maximum : "
                    "réessayez plus tard."),
    Problem.ICS_UNREADABLE: _l("Fichier iCalendar illisible, ligne %(line)s : %(reason)s."),
    Problem.ICS_NOT_A_CALENDAR: _l("Ce fichier n'est pas un calendrier iCalendar (.ics) : il "
                                   "doit commencer par BEGIN:VCALENDAR."),
    Problem.ICS_NO_EVENT: _l("Ce calendrier ne contient aucun évènement (VEVENT)."),
    Problem.ICS_TOO_LARGE: _l("Le fichier dépasse %(max_mb)s Mo."),
    Problem.ICS_BAD_EVENT: _l("L'évènement %(uid)s est invalide : %(reason)s."),
    Problem.ICS_TOO_MANY_EVENTS: _l("Le fichier contient plus de %(max)s évènements (VEVENT), "
                                    "le maximum d'un import : découpez-le en plusieurs "
                                    "fichiers."),
    Problem.ICS_TOO_NESTED: _l("Fichier iCalendar illisible : ses composants (BEGIN … END) "
                               "sont imbriqués trop profondément."),
    Problem.REPLY_UNREADABLE: _l("Ce message ne contient pas de réponse iCalendar "
                                 "(METHOD:REPLY) lisible."),
    Problem.REPLY_NOT_FOR_EVENT: _l("Cette réponse ne concerne pas un évènement en cours de "
                                    "cet agenda."),
    Problem.REPLY_WRONG_ATTENDEE: _l("Cette réponse est écrite au nom d'une autre personne "
                                     "que son expéditeur : elle n'est pas prise en compte."),
    Problem.REPLY_SHARED_ADDRESS: _l("Cette adresse est celle de plusieurs personnes "
                                     "invitées, et la réponse ne dit pas laquelle répond : "
                                     "elle n'est pas prise en compte. Répondez avec le lien "
                                     "de votre message d'invitation ou sur la fiche de "
                                     "l'évènement."),
    Problem.REPLY_ONE_OCCURRENCE: _l("Cette réponse ne vaut que pour une seule date d'un "
                                     "évènement répété, et Préau enregistre une réponse pour "
                                     "toutes ses dates : elle n'est pas prise en compte. "
                                     "Répondez pour toute la série, et écrivez à "
                                     "l'organisateur pour une date particulière."),
    Problem.REPLY_PARTSTAT: _l("Préau ne connaît que les réponses « accepte » et « refuse » "
                               "(réponse reçue : %(partstat)s)."),
    Problem.REPLY_COUNTER: _l("Préau ne reçoit pas de proposition d'un autre horaire : "
                              "répondez « accepte » ou « refuse », et écrivez à "
                              "l'organisateur pour en proposer un autre."),
    Problem.REPLY_REFRESH: _l("Préau n'envoie pas de nouvelle copie de l'invitation : "
                              "l'évènement à jour est dans l'agenda du portail."),
    Problem.REPLY_OUTDATED: _l("Cette réponse a été écrite le %(written)s, avant celle que "
                               "Préau a enregistrée le %(answered)s : elle n'est pas prise en "
                               "compte. Pour changer votre réponse, répondez de nouveau ou "
                               "sur la fiche de l'évènement."),
}
FIELDS = {"place": _l("Lieu"), "summary": _l("Résumé"), "comment": _l("Commentaire")}


def describe(error: AgendaError) -> str:
    params = {name: _shown(name, value) for name, value in error.params.items()}
    return str(TEXTS[error.problem]) % params


def _shown(name: str, value) -> str:
    if name == "field":
        return str(FIELDS.get(value, value))
    if isinstance(value, datetime):
        return _("%(day)s à %(time)s", day=f"{value:%d/%m/%Y}", time=f"{value:%H:%M}")
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def fate_labels() -> dict:
    return {Fate.CREATE: _("créé"), Fate.UPDATE: _("mis à jour"),
            Fate.UNCHANGED: _("inchangé"), Fate.SKIP: _("ignoré")}


def skip_reason(reason: str) -> str:
    """Why an imported event was skipped: the importer's codes in words, the reader's own
    reasons (the calendar library's) as they are."""
    return {ELSEWHERE: _("cet UID appartient à un autre agenda"),
            DUPLICATE_UID: _("cet UID figure déjà plus haut dans le fichier : seul le premier "
                             "évènement est repris"),
            NO_START: _("pas de début (DTSTART)"),
            MIXED_TIMES: _("un jour pour le début et une heure pour la fin (ou l'inverse)"),
            END_BEFORE_START: _("la fin (DTEND) précède le début"),
            TOO_LONG: _("plus long qu'une année : découpez-le en plusieurs évènements"),
            SEVERAL_THAT_DAY: _("cette date déplacée est désignée par un jour "
                                "(RECURRENCE-ID), et sa série a plusieurs dates ce jour-là : "
                                "impossible de savoir laquelle elle remplace"),
            CANCELLED_HERE: _("annulé dans Préau : un import ne le rétablit ni ne le modifie ; "
                              "s'il a lieu, créez-le de nouveau"),
            NOTIFIED: _("ses invités ont été prévenus, et un import n'envoie aucun message : "
                        "changez ses dates ou annulez-le depuis sa fiche, pour qu'ils le "
                        "soient de nouveau"),
            }.get(reason, reason)


def note_labels() -> dict:
    return {"floating_time": _("Heure sans fuseau : lue comme heure de Paris."),
            "unknown_zone": _("Fuseau horaire inconnu : heure lue comme heure de Paris."),
            "rdate_ignored": _("Dates supplémentaires (RDATE) non reprises."),
            "untitled": _("Sans titre dans le fichier.")}
