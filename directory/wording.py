"""The French words of every reason the business packages give as a code (a refusal of the
rights engine or of the routing, a problem with a folder or a mailbox), in one table.

Business code never writes a sentence: it returns or raises a `Reason` (a code and its
parameters). Whoever shows it words it: the SMTP replies and the report mails in French
(`str(reason)`, this table), the web pages in the reader's language (`portal.i18n.said`,
gettext of the same French text, which is its catalog entry). So the three always say the
same thing, and an English page shows English reasons. A parameter may itself be a `Reason`
(the password policy inside the import's « mot de passe trop faible »): it is worded in the
same language.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    """Mark `message` for extraction (`pybabel extract -k N_`) without translating it here:
    it is translated where it is shown, by gettext(variable) at run time."""
    return message


WORDING: dict[str, str] = {
    # directory/rights.py: why a sender may not write to someone (SPEC §2), in the words of
    # the rule that applies to the sender.
    "sender_suspended": N_("Votre compte est suspendu : vous ne pouvez pas écrire à %(name)s."),
    "recipient_suspended": N_("%(name)s : compte suspendu"),
    "parent.student": N_("%(name)s n'est ni votre enfant ni dans la classe de vos enfants"),
    "parent.teacher": N_("%(name)s n'enseigne pas à vos enfants"),
    "parent.parent": N_("%(name)s n'est parent d'aucun élève des classes de vos enfants"),
    "parent.other": N_("%(name)s ne fait partie ni des classes de vos enfants ni de vos "
                       "groupes"),
    "student.student": N_("%(name)s n'est ni dans vos classes ni dans vos groupes"),
    "student.teacher": N_("%(name)s n'enseigne dans aucune de vos classes ni aucun de vos "
                          "groupes"),
    "student.parent": N_("%(name)s n'est parent d'aucun élève de votre classe"),
    "student.other": N_("%(name)s n'est ni élève, ni enseignant, ni parent de vos classes et "
                        "groupes"),
    "no_send_right": N_("Votre compte n'a pas accès au service d'envoi : vous ne pouvez pas "
                        "écrire à %(name)s"),
    # mailgate/routing.py: what became of a recipient.
    "not_local": N_("%(address)s n'est pas une adresse de %(domain)s : Préau ne relaie pas le "
                    "courrier vers d'autres domaines"),
    "unknown": N_("%(address)s : adresse inconnue"),
    "unknown_account": N_("compte n° %(number)s : adresse inconnue"),
    "suspended": N_("Le compte de %(name)s est suspendu"),
    "mailbox_full": N_("La boîte aux lettres de %(name)s est pleine"),
    "no_redirect": N_("%(name)s n'a pas d'adresse de redirection : le message ne peut pas lui "
                      "parvenir"),
    "too_large": N_("Le message dépasse la taille maximale de %(mb)d Mo"),
    "too_many": N_("Un message peut avoir au plus %(max)d destinataires (%(total)d indiqués ; "
                   "un groupe compte pour ses membres) : aucun envoi n'a été fait"),
    "group_too_big": N_("Trop de personnes pour un message (%(max)d au plus)."),
    "no_recipient": N_("Indiquez au moins un destinataire."),
    "copy_not_saved": N_("Votre espace de stockage est plein : la copie de ce message n'a pas "
                         "été enregistrée dans « %(folder)s »."),
    # directory/groups.py: ad hoc groups.
    "group_creator_only": N_("Seul un gestionnaire de l'annuaire peut créer un groupe."),
    "person_outside_directory": N_("Cette personne n'existe pas ou ne fait pas partie de votre "
                                   "annuaire."),
    "list_needs_criteria": N_("Précisez au moins un critère de recherche avant d'ajouter la "
                              "liste."),
    "not_a_member": N_("Cette personne n'est pas membre du groupe."),
    "member_is_manager": N_("%(name)s est gestionnaire du groupe : retirez-lui d'abord la "
                            "gestion."),
    "last_manager": N_("Le groupe doit garder au moins un gestionnaire."),
    "manager_without_end": N_("%(name)s gère le groupe : retirez-lui d'abord la gestion pour "
                              "limiter sa participation dans le temps."),
    "membership_end_past": N_("Cette date est déjà passée : pour que %(name)s quitte le groupe "
                              "maintenant, retirez-le du groupe."),
    "group_name_missing": N_("Donnez un nom au groupe."),
    "group_name_too_long": N_("Le nom du groupe dépasse %(max)d caractères."),
    "group_name_control": N_("Le nom du groupe ne peut contenir ni retour à la ligne ni "
                             "caractère de contrôle."),
    "group_name_no_letter": N_("Le nom du groupe doit contenir au moins une lettre ou un "
                               "chiffre."),
    "group_description_too_long": N_("La description dépasse %(max)d caractères."),
    "not_your_school": N_("Choisissez un de vos établissements."),
    "group_members_other_school": N_("Des membres du groupe ne font pas partie de "
                                     "%(school)s : retirez-les avant de changer "
                                     "l'établissement du groupe."),
    "group_gone": N_("Ce groupe n'existe plus."),
    "group_name_taken": N_("Un groupe « %(name)s » existe déjà dans cet établissement."),
    "not_a_group_manager": N_("%(name)s n'a pas le rôle « Gestionnaire annuaire » : il ne peut "
                              "pas gérer de groupe."),
    # mailgate/mailbox.py: folders and messages of one's mailbox.
    "folder_missing": N_("Ce dossier n'existe pas."),
    "message_missing": N_("Ce message n'existe pas."),
    "draft_missing": N_("Ce brouillon n'existe pas."),
    "attachment_missing": N_("Cette pièce jointe n'existe pas."),
    "folder_name_missing": N_("Donnez un nom au dossier."),
    "folder_name_too_long": N_("Le nom du dossier dépasse %(max)d caractères."),
    "folder_name_reserved": N_("« %(name)s » est le nom d'un dossier du système."),
    "folder_name_taken": N_("Vous avez déjà un dossier « %(name)s »."),
    "too_many_folders": N_("Vous avez déjà %(max)d dossiers : supprimez-en un avant d'en créer "
                           "un autre."),
    "system_folder_rename": N_("Les dossiers du système ne peuvent pas être renommés."),
    "system_folder_delete": N_("Les dossiers du système ne peuvent pas être supprimés."),
    "folder_not_empty": N_("Le dossier « %(name)s » contient encore %(num)d message(s)."),
    "nothing_selected": N_("Sélectionnez au moins un message."),
    "not_a_filing_folder": N_("On ne range pas de message dans « %(folder)s »."),
    "only_drafts_to_drafts": N_("Seuls les brouillons retournent dans « Brouillons »."),
    "draft_not_moved": N_("On ne déplace pas un brouillon : il ne s'ouvre, pour être "
                          "terminé et envoyé, que dans « Brouillons »."),
    "draft_quota_full": N_("Votre espace de stockage est plein : le brouillon n'est pas "
                           "enregistré. Supprimez des messages et videz la Corbeille."),
    # mailgate/models.py: the system folders' names (FOLDER_LABELS), a parameter of the
    # reasons about a folder.
    "folder.inbox": N_("Boîte de réception"),
    "folder.sent": N_("Messages envoyés"),
    "folder.drafts": N_("Brouillons"),
    "folder.trash": N_("Corbeille"),
    "folder.outbox": N_("Boîte d'envoi"),
    "folder.user": N_("Dossier"),
    # directory/accounts.py: names an account may not have (by hand, edited or imported).
    "name_control": N_("Le nom et le prénom ne peuvent contenir ni retour à la ligne ni "
                       "caractère de contrôle."),
    # directory/redirects.py: a redirect address refused (in Préférences, by an
    # administrator or in an imported file), a verification link that cannot be used.
    "redirect_inside": N_("L'adresse de redirection doit être extérieure à Préau (pas une "
                          "adresse @%(domain)s)."),
    "redirect_link_expired": N_("Ce lien de vérification a expiré (il est valable 48 heures). "
                                "Demandez-en un nouveau dans Préférences."),
    "redirect_link_invalid": N_("Ce lien de vérification n'est pas valide."),
    "redirect_link_other_account": N_("Ce lien de vérification a été envoyé pour un autre "
                                      "compte."),
    "redirect_link_used": N_("Ce lien de vérification a déjà été utilisé ou remplacé par une "
                             "demande plus récente."),
    # directory/passwords.py: the password policy (SPEC §8), its one description, then each
    # rule a password breaks.
    "password_policy": N_("%(min_length)d caractères au moins, dont une minuscule, une majuscule "
                          "et un caractère non alphanumérique"),
    "password_too_short": N_("Le mot de passe doit contenir au moins %(min_length)d "
                             "caractères."),
    "password_no_lowercase": N_("Le mot de passe doit contenir au moins une lettre minuscule."),
    "password_no_uppercase": N_("Le mot de passe doit contenir au moins une lettre majuscule."),
    "password_no_symbol": N_("Le mot de passe doit contenir au moins un caractère non "
                             "alphanumérique (par exemple ! ? - _ @)."),
    # directory/account_file.py: why a whole account file is refused.
    "spreadsheet": N_("Ce fichier est un classeur Excel ou LibreOffice, pas un fichier CSV : "
                      "enregistrez-le au format « CSV » et recommencez."),
    "not_text": N_("Ce fichier n'est pas un fichier texte CSV."),
    "empty": N_("Le fichier est vide."),
    "no_rows": N_("Le fichier ne contient que la ligne d'en-tête : aucun compte à importer."),
    "missing_column": N_("La colonne obligatoire « %(column)s » manque dans la ligne "
                         "d'en-tête."),
    "too_big": N_("Le fichier dépasse %(megabytes)d Mo."),
    "too_many_rows": N_("Le fichier dépasse %(limit)d lignes : découpez-le."),
    "unreadable": N_("Le fichier ne peut pas être lu comme un CSV (%(detail)s)."),
    "mixed_encoding": N_("Ce fichier mélange deux encodages : il est en UTF-8, sauf à la ligne "
                         "%(line)d. Enregistrez-le de nouveau au format « CSV UTF-8 » et "
                         "recommencez."),
    # directory/import_plan.py: what is wrong with a row of the file, or worth knowing.
    "missing_name": N_("nom ou prénom manquant"),
    "unknown_profile": N_("profil inconnu « %(profile)s » (Élève, Parent, Enseignant, "
                          "Personnel, Autre)"),
    "too_long": N_("la colonne « %(column)s » dépasse %(limit)d caractères"),
    "too_long_folded": N_("la colonne « %(column)s » dépasse %(limit)d caractères une fois "
                          "les lettres comme « ß » ou « œ » écrites en deux (« ss », « oe »)"),
    "group_no_letter": N_("classe ou groupe « %(name)s » sans lettre ni chiffre"),
    "bad_email": N_("courriel invalide « %(email)s »"),
    "weak_password": N_("mot de passe trop faible : %(policy)s"),
    "bad_date": N_("date de fin d'accès illisible « %(value)s » (attendu : jj/mm/aaaa)"),
    "access_end_past": N_("dernier jour d'accès déjà passé (%(value)s) : non repris ; pour "
                          "arrêter l'accès, suspendez le compte"),
    "own_access_end_kept": N_("votre propre compte : le dernier jour d'accès (%(value)s) "
                              "n'est pas repris, vous ne pouvez pas limiter votre propre "
                              "accès"),
    "duplicate": N_("doublon de la ligne %(line)d"),
    "namesake": N_("même nom et même profil que la ligne %(line)d, dans une autre classe : "
                   "ajoutez un identifiant externe pour les distinguer"),
    "ambiguous": N_("%(count)d comptes de l'établissement portent ce nom : ajoutez un "
                    "identifiant externe"),
    "ambiguous_without_ids": N_("%(count)d comptes de l'établissement portent ce nom et ce "
                                "profil sans identifiant externe : l'import ne peut pas savoir "
                                "lequel est celui de cette ligne. Supprimez le compte en "
                                "double, ou corrigez sur sa page le nom de celui qui n'est pas "
                                "cette personne, puis importez à nouveau le fichier"),
    "namesake_account": N_("un compte de l'établissement sans identifiant externe porte ce "
                           "nom et ce profil, comme la ligne %(line)d : l'import ne peut pas "
                           "savoir à laquelle des deux il correspond. Importez d'abord un "
                           "fichier ne contenant que sa ligne (le compte en prendra "
                           "l'identifiant externe), puis ce fichier"),
    "unknown_class": N_("classe inconnue « %(name)s »"),
    "child_not_found": N_("enfant introuvable « %(ref)s » : ce n'est ni un élève de "
                          "l'établissement, ni une ligne d'élève acceptée du fichier"),
    "child_ambiguous": N_("« %(ref)s » est l'identifiant de connexion d'un élève et "
                          "l'identifiant externe d'un autre : nommez l'enfant par un "
                          "identifiant que lui seul a"),
    "not_administered": N_("compte d'un administrateur ou d'un autre établissement : vous ne "
                           "l'administrez pas, l'import ne le modifie pas"),
    "other_school_parent": N_("parent déjà inscrit dans un autre établissement : il rejoint "
                              "celui-ci, ses nom, profil et courriel restent ceux qu'il a"),
    "shared_identity_kept": N_("compte partagé avec un autre établissement : ses nom, "
                               "prénom, profil, courriel, identifiant externe et dernier jour "
                               "d'accès restent ceux qu'il a, seuls classe, groupes et enfants "
                               "sont repris du fichier"),
    "class_created": N_("la classe « %(name)s » sera créée"),
    "group_created": N_("le groupe « %(name)s » sera créé"),
    "parent_without_email": N_("parent sans courriel : pas d'adresse de redirection, les "
                               "messages qui lui sont écrits ne lui parviendront pas"),
    "password_kept": N_("compte existant : son mot de passe n'est pas changé"),
}


@dataclass(frozen=True)
class Reason:
    """A code of WORDING and its parameters. `str()` is the French sentence."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return french(self.code, **self.params)


def french(code: str, **params: Any) -> str:
    text = WORDING[code]
    return text % params if params else text
