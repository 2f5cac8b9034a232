"""The words of the account import's labels (a row's fate, what an update changes, the
summary), for the pages and the command line. Its reasons (why a file or a row is refused)
are codes of directory/wording.py, worded by `portal.i18n.said`."""
from __future__ import annotations

from flask_babel import gettext, ngettext

from directory.account_import import Fate

from ..i18n import N_


def fate_label(fate: Fate) -> str:
    return {Fate.CREATE: gettext("création"), Fate.UPDATE: gettext("modification"),
            Fate.UNCHANGED: gettext("inchangé"), Fate.ERROR: gettext("erreur")}[fate]


CHANGES = {"names": N_("nom"), "profile": N_("profil"), "email": N_("courriel"),
           "external_id": N_("identifiant externe"), "school": N_("établissement"),
           "class": N_("classe"), "groups": N_("groupes"), "children": N_("enfants"),
           "access_end": N_("fin d'accès")}


def changes(codes: list[str]) -> str:
    return ", ".join(gettext(CHANGES[code]) for code in codes)


def summary(created: int, updated: int, errors: int) -> str:
    """What applying a file did, the rows it left out included (the result page and
    `preau import-users --apply` alike)."""
    said = [ngettext("%(num)d créé", "%(num)d créés", created),
            ngettext("%(num)d modifié", "%(num)d modifiés", updated)]
    if errors:
        said.append(ngettext("%(num)d ligne en erreur non importée",
                             "%(num)d lignes en erreur non importées", errors))
    return ", ".join(said)
