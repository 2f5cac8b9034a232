"""vCard files in and out (RFC 2426 version 3.0, RFC 6350 version 4.0), with vobject.

Only the format lives here: reading a file into `Card`s (what an import needs to recognise a
person) and writing `Entry`s (what an export gives) — no database.

Reading goes in two passes so that a refusal names the right line of the file:
1. lines are unfolded on the raw bytes (a folded line may cut a UTF-8 character in two, as
   some exporters do), decoded (UTF-8, else Windows-1252), and cut into cards by their
   BEGIN/END lines, each logical line remembering the physical line where it starts. Lines
   end with CRLF or LF, or with CR alone in a file without any LF (classic Mac OS);
2. each card is parsed by vobject, whose errors are mapped back to those physical lines.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import vobject
from flask_babel import gettext
from vobject.base import VObjectError

from directory.errors import InvalidInput

VERSIONS = ("3.0", "4.0")
MAX_CARDS = 5000
# Labels that Google Contacts adds to every card: not groups chosen by the person.
SYSTEM_CATEGORIES = frozenset({"mycontacts", "starred"})
MAX_CATEGORIES = 256    # a card's categories read, past what a book may hold (200 groups)
_NAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)\s*[;:]")


class VCardError(InvalidInput):
    """A file that is not a readable vCard file; `line` is the physical line at fault."""

    def __init__(self, line: int, reason: str):
        super().__init__(gettext("Ligne %(line)d : %(reason)s", line=line, reason=reason))
        self.line = line
        self.reason = reason


@dataclass
class Card:
    """What an imported card says about a person."""

    line: int
    full_name: str = ""
    family: str = ""
    given: str = ""
    emails: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        name = self.full_name or f"{self.given} {self.family}".strip()
        return name or (self.emails[0] if self.emails
                        else gettext("Fiche de la ligne %(line)d", line=self.line))


@dataclass
class Entry:
    """What an exported card says about a member: never more than the directory shows."""

    full_name: str
    family: str
    given: str
    email: str
    organisations: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


# Reading ---------------------------------------------------------------------------------

@dataclass
class _Line:
    number: int
    text: str


def read_cards(data: bytes) -> list[Card]:
    """Every card of a .vcf file, or VCardError naming the first line at fault."""
    lines = _logical_lines(data)
    cards = []
    for chunk in _chunks(lines):
        if len(cards) == MAX_CARDS:
            raise VCardError(chunk[0].number, gettext(
                "le fichier compte plus de %(max)d fiches : importez-le en plusieurs fois.",
                max=MAX_CARDS))
        cards.append(_card(chunk))
    if not cards:
        raise VCardError(1, gettext("ce fichier ne contient aucune fiche (BEGIN:VCARD)."))
    return cards


def _logical_lines(data: bytes) -> list[_Line]:
    # CR alone ends lines only in a file without any LF: in any other, a stray CR inside a
    # value stays part of it.
    line_end = b"\n" if b"\n" in data else b"\r"
    raw: list[tuple[int, bytes]] = []
    for number, physical in enumerate(data.split(line_end), start=1):
        physical = physical.rstrip(b"\r")
        if physical[:1] in (b" ", b"\t") and raw:
            raw[-1] = (raw[-1][0], raw[-1][1] + physical[1:])
        else:
            raw.append((number, physical))
    if raw and raw[0][1].startswith(b"\xef\xbb\xbf"):
        raw[0] = (raw[0][0], raw[0][1][3:])
    encoding = "utf-8" if _decodes(raw, "utf-8") else "cp1252"
    lines = []
    for number, text in raw:
        try:
            decoded = text.decode(encoding)
        except UnicodeDecodeError:
            decoded = "\x00"
        if "\x00" in decoded:      # UTF-16 has one in every other byte; no name has one
            raise VCardError(number, gettext("caractères illisibles : enregistrez le fichier "
                                             "en UTF-8."))
        lines.append(_Line(number, decoded))
    return lines


def _decodes(raw: list[tuple[int, bytes]], encoding: str) -> bool:
    try:
        for _number, text in raw:
            text.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _property_name(text: str) -> str:
    match = _NAME.match(text)
    return match.group(1).upper() if match else ""


def _chunks(lines: list[_Line]) -> Iterable[list[_Line]]:
    """The lines of each top-level card, checked for BEGIN/END balance."""
    depth, chunk = 0, []
    for line in lines:
        if not line.text.strip():
            continue
        name = _property_name(line.text)
        value = line.text.split(":", 1)[1].strip().upper() if ":" in line.text else ""
        if depth == 0:
            if name == "BEGIN" and value != "VCARD":
                raise VCardError(line.number, gettext(
                    "élément « %(name)s » inattendu : ce fichier n'est pas un carnet "
                    "d'adresses vCard.", name=value))
            if name != "BEGIN":
                raise VCardError(line.number, gettext("texte en dehors d'une fiche "
                                                      "(BEGIN:VCARD attendu)."))
        chunk.append(line)
        if name == "BEGIN":
            depth += 1
        elif name == "END":
            depth -= 1
            if depth == 0:
                yield chunk
                chunk = []
    if depth:
        raise VCardError(chunk[0].number, gettext("cette fiche n'est jamais terminée "
                                                  "(END:VCARD manquant)."))


def _card(chunk: list[_Line]) -> Card:
    begin = chunk[0].number
    try:
        component = vobject.readOne("\r\n".join(line.text for line in chunk) + "\r\n",
                                    allowQP=True)
    except VObjectError as error:
        index = min(max((error.lineNumber or 1) - 1, 0), len(chunk) - 1)
        raise VCardError(chunk[index].number, _reason(error, chunk[index].text)) from None
    except Exception:  # whatever else vobject trips on in a stranger's file: a refusal
        raise VCardError(begin, gettext("cette fiche est illisible.")) from None
    return _read_component(component, begin)


def _reason(error: VObjectError, text: str) -> str:
    message = str(error)
    if "Failed to parse line" in message:
        shown = text if len(text) <= 60 else text[:57] + "…"
        return gettext("ligne mal formée « %(line)s » (NOM:valeur attendu).", line=shown)
    if "never opened" in message or "wasn't closed" in message:
        return gettext("BEGIN et END ne se correspondent pas.")
    return gettext("cette ligne est illisible.")


def _read_component(component, begin: int) -> Card:
    contents = component.contents
    card = Card(line=begin)
    if contents.get("fn"):
        card.full_name = _text(contents["fn"][0].value)
    if contents.get("n"):
        name = contents["n"][0].value
        card.family = _text(getattr(name, "family", name))
        card.given = _text(getattr(name, "given", ""))
    card.emails = [_text(line.value).removeprefix("mailto:").strip()
                   for line in contents.get("email", []) if _text(line.value).strip()]
    seen: set[str] = set()
    for line in contents.get("categories", []):
        values = line.value if isinstance(line.value, list) else [line.value]
        for category in (_text(v) for v in values):
            if category and category.lower() not in SYSTEM_CATEGORIES and category not in seen:
                seen.add(category)
                card.categories.append(category)
        if len(card.categories) > MAX_CATEGORIES:   # more than a book holds: refused later
            del card.categories[MAX_CATEGORIES + 1:]
            break
    return card


def _text(value) -> str:
    if isinstance(value, list | tuple):
        value = " ".join(_text(v) for v in value)
    return " ".join(str(value or "").split())


# Writing ---------------------------------------------------------------------------------

def write_cards(entries: Iterable[Entry], version: str) -> str:
    """A .vcf file with one card per entry, in `version` ("3.0" or "4.0")."""
    if version not in VERSIONS:
        raise InvalidInput(gettext("Version de vCard inconnue : choisissez 3.0 ou 4.0."))
    return "".join(_component(entry, version).serialize() for entry in entries)


def _component(entry: Entry, version: str):
    card = vobject.vCard()
    card.add("version").value = version
    card.add("fn").value = entry.full_name
    card.add("n").value = vobject.vcard.Name(family=entry.family, given=entry.given)
    email = card.add("email")
    email.value = entry.email
    if version == "3.0":
        email.type_param = "INTERNET"
    for organisation in entry.organisations:
        card.add("org").value = [organisation]
    if entry.categories:
        card.add("categories").value = list(entry.categories)
    # Stable across exports, so a phone or a mail client updates the card instead of
    # duplicating it; universal addresses are never reused, so neither is this id.
    card.add("uid").value = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'mailto:' + entry.email)}"
    return card
