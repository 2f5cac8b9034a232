"""Reading a school's account file (SPEC §8): whatever a spreadsheet wrote, into rows.

Accepted: UTF-8 with or without BOM, UTF-16 (Excel's "Unicode text"), Windows-1252 (Excel
on Windows), but not UTF-8 with a few Windows-1252 bytes (refused: read as Windows-1252, its
accented letters would be mangled); `;`, `,` or tab as separator (the one the header line
uses most); quoted fields with line breaks; blank lines. Column names in French or in
Moodle's English, case, accents, spaces, hyphens and underscores ignored. A file that cannot
be read is refused as a whole with `FileRefused(code, **params)`, a code of
directory/wording.py.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from .errors import InvalidInput
from .naming import fold
from .wording import Reason

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000

# field → the header names that mean it, folded (see `header_key`)
COLUMNS = {
    "first_name": ("prenom", "firstname", "first name"),
    "last_name": ("nom", "lastname", "last name", "nom de famille"),
    "profile": ("profil", "profile"),
    "class_name": ("classe", "class"),
    "email": ("courriel", "email", "e mail", "mail", "adresse de redirection"),
    "password": ("mot de passe", "password"),
    "external_id": ("identifiant externe", "idnumber", "id number", "external id"),
    "parent_of": ("parent de", "parent of"),
    "access_end": ("fin d acces", "dernier jour d acces", "date de fin", "end date",
                   "enddate", "last day of access"),
}
# field → how a reason names its column: its header in a French file
HEADER_NAMES = {"first_name": "prénom", "last_name": "nom", "profile": "profil",
                "class_name": "classe", "email": "courriel", "password": "mot de passe",
                "external_id": "identifiant externe", "parent_of": "parent de",
                "access_end": "fin d'accès"}
REQUIRED = ("first_name", "last_name", "profile")
# How a day is written in an account file (the export writes it so); the import also reads
# the other DAY_FORMATS.
DAY_FORMAT = "%d/%m/%Y"
DAY_FORMATS = (DAY_FORMAT, "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")
#: what portal.spreadsheet.cell guards with a leading apostrophe (tab and carriage return
#: included: a stripped cell no longer starts with them, its apostrophe does)
GUARDED = ("=", "+", "-", "@", "\t", "\r")
#: a French letter or punctuation as UTF-8 writes it (é, à, ç, É…, œ, Œ, ’, «, –…): bytes that
#: Windows-1252 text almost never holds (« Ã© », « â€™ »)
_UTF8_LETTER = re.compile(rb"\xc3[\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]"
                          rb"|\xe2\x80[\x93\x94\x98\x99\x9c\x9d\xa6]|\xc2[\xab\xbb\xb0\xa0]")
_COHORT = re.compile(r"^(?:groupe|cohort|cohorte)\s*(\d+)$")


class FileRefused(InvalidInput):
    """The whole file is refused: `why` is a reason of directory/wording.py."""

    def __init__(self, code: str, **params):
        super().__init__(Reason(code, params))


@dataclass
class FileRow:
    line: int                               # line of the file where the row starts
    first_name: str = ""
    last_name: str = ""
    profile: str = ""
    class_name: str = ""
    email: str = ""
    password: str = ""
    external_id: str = ""
    access_end: str = ""                    # the last day of access, as the file wrote it
    parent_of: list[str] = field(default_factory=list)
    cohorts: list[str] = field(default_factory=list)
    #: the class cell as the school's classes read it (`split_classes`), set by the plan
    read_classes: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def classes(self) -> list[str]:
        """The class cell's classes: « 4A, 4B » names two (the export writes a teacher's
        classes so), « 1re, spé NSI, 4A » two too when the school has a class « 1re, spé
        NSI » (once the plan has read the cell so); the same class twice counts once."""
        if self.read_classes is not None:
            return self.read_classes
        return split_classes(self.class_name)


def comma_key(name: str) -> str:
    """A class name's key that keeps its commas (`header_key` of each part): « CM1, CM2 »
    is « cm1,cm2 », never the key of a class « CM1-CM2 » or « CM1 CM2 »."""
    return ",".join(header_key(part) for part in name.split(","))


def split_classes(cell: str, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The classes a class cell names, separated by commas; a run of parts that together
    name a class of `known` (the `comma_key`s of the school's classes whose name holds a
    comma: a class made by hand may, and the export writes its name as it is) is that class,
    the longest run first. A run is never longer than the class names of `known`: the cost
    follows the cell, not its square or cube (no `known`: the plain split)."""
    parts = cell.split(",")
    longest = max((key.count(",") for key in known), default=0) + 1
    keys = [header_key(part) for part in parts] if known else []
    names: dict[str, str] = {}
    start = 0
    while start < len(parts):
        end = next((end for end in range(min(len(parts), start + longest), start + 1, -1)
                    if ",".join(keys[start:end]) in known), start + 1)
        name = ",".join(parts[start:end]).strip()
        if name:
            names.setdefault(header_key(name), name)
        start = end
    return list(names.values())


@dataclass
class AccountFile:
    rows: list[FileRow]
    encoding: str
    separator: str
    ignored_columns: list[str]


def header_key(name: str) -> str:
    """'Mot_de-Passe ' → 'mot de passe'; 'Prénom' → 'prenom'."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(name)).split())


def read_account_file(data: bytes) -> AccountFile:
    if len(data) > MAX_BYTES:
        raise FileRefused("too_big", megabytes=MAX_BYTES // (1024 * 1024))
    text, encoding = _decode(data)
    if "\x00" in text:     # a database refuses it in text (PostgreSQL), wherever it is
        raise FileRefused("not_text")
    if not text.strip():
        raise FileRefused("empty")
    separator = _separator(text)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header, rows = _header_and_rows(records)
    except csv.Error as error:
        raise FileRefused("unreadable", detail=str(error)) from None
    columns, cohorts, ignored = _columns(header)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise FileRefused("missing_column", column=HEADER_NAMES[missing[0]])
    if not rows:
        raise FileRefused("no_rows")
    return AccountFile(rows=[_row(line, cells, columns, cohorts) for line, cells in rows],
                       encoding=encoding, separator=separator, ignored_columns=ignored)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FileRefused("spreadsheet")
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16"), "utf-16"
    if b"\x00" in data[:4096]:
        raise FileRefused("not_text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if _UTF8_LETTER.search(data):
            # UTF-8 with a few bytes of another encoding (a cell pasted from a Windows
            # file): read as Windows-1252, every accented letter of the rest would be
            # mangled (« Zoé » → « ZoÃ© ») and each such account renamed.
            raise FileRefused("mixed_encoding",
                              line=data[:error.start].count(b"\n") + 1) from None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise FileRefused("not_text") from None
    return text, "cp1252"


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise FileRefused("not_text") from None


def _separator(text: str) -> str:
    """The separator the header line uses most (quoted parts aside); `;` on a tie."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {sep: unquoted.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _header_and_rows(records) -> tuple[list[str], list[tuple[int, list[str]]]]:
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    line = 1
    for cells in records:
        start, line = line, records.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
        elif len(rows) == MAX_ROWS:     # refused before the rest is read: 20 MB of tiny
            raise FileRefused("too_many_rows", limit=MAX_ROWS)     # rows, gigabytes parsed
        else:
            rows.append((start, cells))
    return header or [], rows


def _columns(header: list[str]) -> tuple[dict[str, int], list[int], list[str]]:
    by_name = {name: key for key, names in COLUMNS.items() for name in names}
    columns: dict[str, int] = {}
    cohorts: list[tuple[int, int]] = []
    ignored: list[str] = []
    for index, raw in enumerate(header):
        name = header_key(raw)
        cohort = _COHORT.match(name)
        if name in by_name and by_name[name] not in columns:
            columns[by_name[name]] = index
        elif cohort:
            cohorts.append((int(cohort[1]), index))
        elif name:
            ignored.append(raw.strip())
    return columns, [index for _, index in sorted(cohorts)], ignored


def unguarded(text: str) -> str:
    """A cell as it was before an export guarded it from being read as a formula
    (portal.spreadsheet.cell writes « '=Dupont » for « =Dupont »): the re-imported file
    gives the name the account has."""
    return text[1:] if text[:1] == "'" and text[1:2] in GUARDED else text


def _row(line: int, cells: list[str], columns: dict[str, int], cohorts: list[int]) -> FileRow:
    def cell(index: int) -> str:
        return unguarded(cells[index].strip()).strip() if index < len(cells) else ""

    values = {key: cell(index) for key, index in columns.items()}
    parent_of = [part.strip() for part in re.split(r"[|,;]", values.pop("parent_of", ""))
                 if part.strip()]
    return FileRow(line=line, parent_of=parent_of,
                   cohorts=[name for name in (cell(i) for i in cohorts) if name], **values)
