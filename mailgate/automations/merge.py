"""Merge fields as authors write them — {prénom}, {nom}, {identifiant}, {classe},
{établissement}, {lien_portail}, {enfant} — and as the stored message holds them: the
per-recipient placeholders of mailgate/personalise.py ([[preau:prenom]]…), filled by the
worker for each forward and by the messagerie for each reader.

Substitution is one pass over the author's text: a value is never read again, so a name
written "{nom}" or "<script>" is printed as it is (and pages escape it like any text). Text
that looks like a placeholder in the author's own words is defused first, so nobody slips
another recipient's link into a message.
"""
from __future__ import annotations

import re

from directory.merge_fields import values as field_values

from ..personalise import apply

#: what authors may write → the placeholder's name
FIELDS = {"prénom": "prenom", "prenom": "prenom", "nom": "nom", "identifiant": "identifiant",
          "classe": "classe", "établissement": "etablissement",
          "etablissement": "etablissement", "lien_portail": "lien_portail",
          "enfant": "enfant", "prénom_enfant": "enfant", "prenom_enfant": "enfant"}
SHOWN = ("{prénom}", "{nom}", "{identifiant}", "{classe}", "{établissement}",
         "{lien_portail}", "{enfant}")
_FIELD = re.compile(r"\{([a-zé_]+)\}", re.IGNORECASE)


def to_placeholders(text: str, portal_url: str, *, school: str | None = None) -> str:
    """The author's text as stored: known fields become placeholders, {lien_portail} the
    portal's address (the same for everyone), {établissement} the name `school` when the
    message is a school's (the same for everyone: its audience is of that school, and a
    recipient of two schools read the other one's name), anything else stays as written."""
    text = _defused(text)
    fixed = {"lien_portail": portal_url}
    if school is not None:
        fixed["etablissement"] = _defused(school)

    def field(match: re.Match) -> str:
        name = FIELDS.get(match[1].lower())
        if name is None:
            return match[0]
        return fixed[name] if name in fixed else f"[[preau:{name}]]"

    return _FIELD.sub(field, text)


def _defused(text: str) -> str:
    return text.replace("[[preau:", "[[ preau:")


def fields_in(text: str) -> list[str]:
    """The merge fields written in `text`, as written ({prénom}…), each once."""
    return list(dict.fromkeys(match[0] for match in _FIELD.finditer(text)
                              if match[1].lower() in FIELDS))


def preview(text: str, portal_url: str, account_id: int) -> str:
    """The text as `account_id` will read it."""
    return apply(to_placeholders(text, portal_url), field_values(account_id))
