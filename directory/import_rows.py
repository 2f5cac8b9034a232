"""The rows of an account file checked on their own, before the database is read
(directory/import_plan.py): names, profile, lengths, e-mail, password, last day of access,
and the file's duplicates and namesakes, which are found over the whole file whatever the
batch (SPEC §8). Names and e-mail follow the rules of an account made by hand
(`accounts.name_refusal`, `redirects.address_refusal`)."""
from __future__ import annotations

import enum
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email

from .account_file import DAY_FORMATS, HEADER_NAMES, FileRow, header_key, split_classes
from .accounts import name_refusal
from .clock import end_of_local_day
from .enums import GroupKind, Profile
from .groups import NAME_MAX as GROUP_NAME_MAX
from .groups import group_name_refusal
from .groups import name_too_long as group_name_too_long
from .naming import search_key
from .passwords import POLICY, policy_errors
from .redirects import address_refusal
from .wording import Reason

LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "external_id": 64,
          "password": 200}
SEARCH_NAME_MAX = 201       # Account.search_name, the folded « last first »

PROFILE_WORDS = {
    "eleve": Profile.STUDENT, "eleves": Profile.STUDENT, "student": Profile.STUDENT,
    "etudiant": Profile.STUDENT,
    "parent": Profile.PARENT, "parents": Profile.PARENT, "parent d eleve": Profile.PARENT,
    "responsable": Profile.PARENT,
    "enseignant": Profile.TEACHER, "teacher": Profile.TEACHER, "editingteacher": Profile.TEACHER,
    "professeur": Profile.TEACHER,
    "personnel non enseignant": Profile.STAFF, "personnel": Profile.STAFF,
    "staff": Profile.STAFF, "non teaching staff": Profile.STAFF,
    "autre": Profile.OTHER, "other": Profile.OTHER,
}


class Fate(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class RowPlan:
    row: FileRow
    profile: Profile | None = None
    fate: Fate = Fate.ERROR
    errors: list[Reason] = field(default_factory=list)     # codes of directory/wording.py
    notes: list[Reason] = field(default_factory=list)
    login: str | None = None
    account_id: int | None = None
    changes: list[str] = field(default_factory=list)
    # what the write step needs, found while planning
    class_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    child_ids: list[int] = field(default_factory=list)
    new_groups: list[tuple[GroupKind, str]] = field(default_factory=list)
    access_ends_at: datetime | None = None      # from the file's last day of access
    access_end_given: bool = False              # the file gave one (31/12/9999: no end)

    def error(self, code: str, **params) -> None:
        self.refuse(Reason(code, params))

    def refuse(self, reason: Reason) -> None:
        """An error of a rule that words its own reason (`accounts.name_refusal`…)."""
        self.errors.append(reason)
        self.fate = Fate.ERROR


def profile_of(text: str) -> Profile | None:
    return PROFILE_WORDS.get(header_key(text))


def person(row: FileRow) -> tuple[str, Profile | None]:
    """Who a row is without its external id: folded name (`name_key`) and profile."""
    return name_key(row.first_name, row.last_name), profile_of(row.profile)


def name_key(first_name: str, last_name: str) -> str:
    """The name a row is matched on: folded (`search_key`), or, when folding leaves nothing
    (« Анна Смирнова », « 中文 »: letters outside the Latin alphabet are dropped), the name
    as written, case aside, after a « = » no folded name has: otherwise every such name
    would be one person."""
    return search_key(first_name, last_name)[0] or \
        "=" + " ".join(f"{last_name} {first_name}".casefold().split())


def folded_name(key: str) -> str:
    """The Account.search_name a `name_key` is read with ("" for a name as written)."""
    return "" if key.startswith("=") else key


def first_occurrences(rows: Iterable[FileRow], people: dict[int, tuple]) -> dict[int, int]:
    """line of a row → line of the first row of the file with the same identity."""
    first: dict[tuple, int] = {}
    result = {}
    for row in rows:
        key = ("id", row.external_id) if row.external_id else (
            "name", *people[row.line], _classes_key(row))
        result[row.line] = first.setdefault(key, row.line)
    return result


def namesakes(rows: Iterable[FileRow], people: dict[int, tuple]) -> dict[int, Reason]:
    """line of a row without external id → why it is refused: the first line with the same
    name and profile in another class (with an id or not: « namesake »), else the first in
    the same classes with an id (« duplicate »: an id on one row only does not tell two
    people apart). Matched by name, such a row would be the other's account (the first batch
    would create it, the next move it to the other's class or give it this row's children
    and e-mail, and so at every import): it needs an id."""
    by_name: dict[tuple, list[FileRow]] = defaultdict(list)
    for row in rows:
        by_name[people[row.line]].append(row)
    result = {}
    for same in by_name.values():
        for row in same:
            if not row.external_id:
                other = next((o.line for o in same
                              if _classes_key(o) != _classes_key(row)), None)
                with_id = next((o.line for o in same if o.external_id), None)
                if other is not None:
                    result[row.line] = Reason("namesake", {"line": other})
                elif with_id is not None:
                    result[row.line] = Reason("duplicate", {"line": with_id})
    return result


def _classes_key(row: FileRow) -> tuple[str, ...]:
    """The row's classes, whatever their order and spelling (case, accents)."""
    return tuple(sorted({header_key(name) for name in split_classes(row.class_name)}))


def checked(row: FileRow, first_lines: dict[int, int], namesakes: dict[int, Reason],
            mail_domain: str) -> RowPlan:
    """The row's plan with the errors found in it alone; `mail_domain`: Préau's, where no
    redirect address may be."""
    plan = RowPlan(row=row, profile=profile_of(row.profile))
    if not row.first_name or not row.last_name:
        plan.error("missing_name")
    if refused_names := name_refusal(row.first_name, row.last_name):
        plan.refuse(refused_names)
    if plan.profile is None:
        plan.error("unknown_profile", profile=row.profile)
    for name, limit in LIMITS.items():
        if len(getattr(row, name)) > limit:
            plan.error("too_long", column=HEADER_NAMES[name], limit=limit)
    # folded too (Account.search_first, search_name): « ß », « œ », ligatures lengthen a name;
    # said so, the cell itself being short enough. The folded « last first » past its
    # column means a folded name past 100 (the first name's, or else the last name's).
    search_name, search_first = search_key(row.first_name, row.last_name)
    folded_last = search_key("", row.last_name)[0]
    for name, too_long in (("first_name", len(search_first) > LIMITS["first_name"]),
                           ("last_name", len(search_name) > SEARCH_NAME_MAX
                            and len(folded_last) > LIMITS["last_name"])):
        if too_long and len(getattr(row, name)) <= LIMITS[name]:
            plan.error("too_long_folded", column=HEADER_NAMES[name], limit=LIMITS[name])
    if any(group_name_too_long(name) for name in row.classes):
        plan.error("too_long", column=HEADER_NAMES["class_name"], limit=GROUP_NAME_MAX)
    if any(group_name_too_long(cohort) for cohort in row.cohorts):     # groups too
        plan.error("too_long", column="groupe", limit=GROUP_NAME_MAX)
    refusal = next(filter(None, map(group_name_refusal, (*row.classes, *row.cohorts))), None)
    if refusal is not None:
        plan.refuse(refusal)
    elif no_letter := next((n for n in (*row.classes, *row.cohorts) if not header_key(n)),
                           None):
        # as the group form (groups._checked_text), in a row's words
        plan.error("group_no_letter", name=no_letter)
    if row.email and (refused_email := address_refusal(row.email, mail_domain)):
        plan.refuse(refused_email)
    elif row.email and not is_email(row.email):
        plan.error("bad_email", email=row.email)
    if row.password and policy_errors(row.password):
        plan.error("weak_password", policy=POLICY)
    if row.access_end:
        day = _day(row.access_end)
        if day is None:
            plan.error("bad_date", value=row.access_end)
        else:
            plan.access_ends_at, plan.access_end_given = end_of_local_day(day), True
    if first_lines[row.line] != row.line:
        plan.error("duplicate", line=first_lines[row.line])
    if row.line in namesakes:
        plan.refuse(namesakes[row.line])
    return plan


def _day(text: str) -> date | None:
    """A day as French spreadsheets and ISO write it: 30/06/2027, 2027-06-30…"""
    for pattern in DAY_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=2**16)
def is_email(text: str) -> bool:
    """One address, as the forms' Email() validator takes it (email_validator, without
    looking the domain up): « pere@x.fr,mere@y.fr », « a:b@x.org », « <a@x.org> » are not,
    and would reach someone else, or no one, once in a message's header. Remembered: about
    0.1 ms an address, and each page of a preview plans the whole file again."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True
