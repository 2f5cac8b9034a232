"""The words of the administration's reason codes, for the pages and the command line."""
from __future__ import annotations

from flask_babel import gettext, ngettext

from directory.account_file import FileRefused
from directory.account_import import Fate, Issue

from ..i18n import N_

COLUMN_NAMES = {"first_name": "prénom", "last_name": "nom", "profile": "profil",
                "class_name": "classe", "email": "courriel", "password": "mot de passe",
                "external_id": "identifiant externe", "parent_of": "parent de"}


def fate_label(fate: Fate) -> str:
    return {Fate.CREATE: gettext("création"), Fate.UPDATE: gettext("modification"),
            Fate.UNCHANGED: gettext("inchangé"), Fate.ERROR: gettext("erreur")}[fate]


def file_refusal(refused: FileRefused) -> str:
    """One sentence saying why the whole file is refused."""
    p = refused.params
    match refused.code:
        case "spreadsheet":
            return gettext("Ce fichier est un classeur Excel ou LibreOffice, pas un fichier "
                           "CSV : enregistrez-le au format « CSV » et recommencez.")
        case "not_text":
            return gettext("Ce fichier n'est pas un fichier texte CSV.")
        case "empty":
            return gettext("Le fichier est vide.")
        case "no_rows":
            return gettext("Le fichier ne contient que la ligne d'en-tête : aucun compte à "
                           "importer.")
        case "missing_column":
            return gettext("La colonne obligatoire « %(column)s » manque dans la ligne "
                           "d'en-tête.", column=COLUMN_NAMES.get(p["column"], p["column"]))
        case "too_big":
            return gettext("Le fichier dépasse %(mb)d Mo.", mb=p["megabytes"])
        case "too_many_rows":
            return gettext("Le fichier dépasse %(limit)d lignes : découpez-le.",
                           limit=p["limit"])
        case _:
            return gettext("Le fichier ne peut pas être lu comme un CSV (%(detail)s).",
                           detail=p.get("detail", refused.code))


def issue(item: Issue) -> str:
    p = item.params
    match item.code:
        case "missing_name":
            return gettext("nom ou prénom manquant")
        case "unknown_profile":
            return gettext("profil inconnu « %(profile)s » (Élève, Parent, Enseignant, "
                           "Personnel, Autre)", profile=p["profile"])
        case "too_long":
            return gettext("la colonne « %(column)s » dépasse %(limit)d caractères",
                           column=COLUMN_NAMES.get(p["column"], p["column"]),
                           limit=p["limit"])
        case "bad_email":
            return gettext("courriel invalide « %(email)s »", email=p["email"])
        case "weak_password":
            return gettext("mot de passe trop faible (8 caractères dont une minuscule, une "
                           "majuscule et un caractère non alphanumérique)")
        case "duplicate":
            return gettext("doublon de la ligne %(line)d", line=p["line"])
        case "ambiguous":
            return gettext("%(count)d comptes de l'établissement portent ce nom : ajoutez un "
                           "identifiant externe", count=p["count"])
        case "unknown_class":
            return gettext("classe inconnue « %(name)s »", name=p["name"])
        case "child_not_found":
            return gettext("enfant introuvable « %(ref)s »", ref=p["ref"])
        case "class_created":
            return gettext("la classe « %(name)s » sera créée", name=p["name"])
        case "group_created":
            return gettext("le groupe « %(name)s » sera créé", name=p["name"])
        case "parent_without_email":
            return gettext("parent sans courriel : pas d'adresse de redirection, les messages "
                           "qui lui sont écrits ne lui parviendront pas")
        case "password_kept":
            return gettext("compte existant : son mot de passe n'est pas changé")
    return item.code


CHANGES = {"names": N_("nom"), "profile": N_("profil"), "email": N_("courriel"),
           "external_id": N_("identifiant externe"), "school": N_("établissement"),
           "class": N_("classe"), "groups": N_("groupes"), "children": N_("enfants")}


def changes(codes: list[str]) -> str:
    return ", ".join(gettext(CHANGES[code]) for code in codes)


def summary(created: int, updated: int) -> str:
    return ngettext("%(num)d créé", "%(num)d créés", created) + ", " + \
        ngettext("%(num)d modifié", "%(num)d modifiés", updated)
