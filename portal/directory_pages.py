"""What the Annuaire and group pages share: pagination of a search, the rows of a page of
people with their schools, classes and envelope, and the link to write to someone."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import NamedTuple

from flask import current_app, g, request, url_for
from flask_babel import get_translations, gettext

from directory.db import db
from directory.enums import Profile
from directory.models import Account
from directory.rights import SenderRule, refusal
from directory.search import AccountFilters, count_capped

from .i18n import N_, said
from .people_statements import IDS, people_statements

RESULTS_CAP = 1_000  # past that, one refines the search rather than paging
# The cap of a list that belongs to one thing (an event's comments, an author's messages): each
# of its pages can be reached, and counting it whole costs an index range.
UNCAPPED = 2_000_000_000
WRITE_TO = N_("Écrire à %(name)s")


class PageOutOfRange(Exception):
    def __init__(self, pages: int):
        super().__init__(pages)
        self.pages = pages


@dataclass
class Page:
    rows: list
    number: int
    per_page: int
    total: int
    capped: bool
    classes: dict[int, list[str]] = field(default_factory=dict)
    refusals: dict[int, str] = field(default_factory=dict)   # why no envelope, by account id
    cap: int = RESULTS_CAP

    @property
    def pages(self) -> int:
        return page_count(min(self.total, self.cap), self.per_page)


def page_count(total: int, per_page: int) -> int:
    return max(1, ceil(total / per_page))


def _within(total: int, number: int, per_page: int, cap: int = RESULTS_CAP) -> int:
    """`total`, unless page `number` is past the last: PageOutOfRange."""
    pages = page_count(min(total, cap), per_page)
    if number > pages:
        raise PageOutOfRange(pages)
    return total


def _page(rows, number: int, per_page: int, total: int, cap: int = RESULTS_CAP) -> Page:
    return Page(rows=rows, number=number, per_page=per_page, total=min(total, cap),
                capped=total > cap, cap=cap)


def asked_page() -> int:
    """The page number of the query string (`?page=`): the first page when there is none, or
    no whole number, or one below 1. A page past the last is the caller's 404: `paginate`
    raises PageOutOfRange before any OFFSET, which a huge number would overflow, and so does
    `people_page` for a page past the capped range."""
    return max(1, request.args.get("page", 1, type=int))


def paginate(query, number: int, per_page: int, id_column=Account.id, *,
             cap: int = RESULTS_CAP) -> Page:
    """One count, capped at `cap` (a page past the last raises PageOutOfRange), and one page
    of rows of a sorted query."""
    total = _within(count_capped(query, cap, id_column), number, per_page, cap)
    rows = db.session.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    return _page(rows, number, per_page, total, cap)


@dataclass(slots=True)
class Person:
    """One person of a page of results: plain values, not an ORM row (a page of 100 people
    then costs no identity map, no relationship loading and no per-row translation)."""

    id: int
    first_name: str
    last_name: str
    profile: Profile
    profile_label: str       # translated once per page
    discipline: str | None
    address: str
    schools: list[str]
    classes: list[str]
    write_label: str = ""    # « Écrire à … », from a pattern translated once per page

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PersonRow(NamedTuple):
    person: Person
    writable: bool
    is_manager: bool | None = None
    member_ends_at: datetime | None = None     # when the membership of `group_id` ends


def people_page(viewer: Account, filters: AccountFilters, number: int, per_page: int, *,
                group_id: int | None = None, rule: SenderRule | None = None) -> Page:
    """A page of people: PersonRow(person, writable, is_manager of `group_id` and when
    that membership ends), in two
    statements whatever the page's size (its people's ids, then their rows with schools,
    classes and the capped count, or the ids with the count), built once per shape
    (portal/people_statements.py). A page past the capped range is past the last whatever
    the data: only the count runs (the first page's), never its OFFSET, which would read the
    whole region for a 404."""
    beyond = number > page_count(RESULTS_CAP, per_page)
    statements, params = people_statements(viewer, filters, 0 if beyond else
                                           (number - 1) * per_page, per_page, RESULTS_CAP,
                                           manager_of=group_id, rule=rule)
    connection = db.session.connection()
    if beyond:
        total = connection.execute(statements.count, params).scalar_one()
        raise PageOutOfRange(page_count(min(total, RESULTS_CAP), per_page))
    id_rows = statements.run("ids", connection, params)
    ids = [row[0] for row in id_rows]
    found = statements.run("rows", connection, {**params, IDS: ids}) if ids else []
    if statements.total_with_ids and id_rows:
        total = id_rows[0][1]
    elif found:
        total = found[0].total
    else:   # nobody on this page: none at all, or a page past the last (count them to say so)
        total = 0 if number == 1 else connection.execute(statements.count, params).scalar_one()
    total = _within(total, number, per_page)
    position = {account_id: n for n, account_id in enumerate(ids)}
    found.sort(key=lambda r: position[r.id])
    labels = {profile: gettext(profile.label) for profile in Profile}
    write_to = get_translations().gettext(WRITE_TO)
    rows, refused = [], []
    for r in found:
        person = Person(id=r.id, first_name=r.first_name, last_name=r.last_name,
                        profile=r.profile, profile_label=labels[r.profile],
                        discipline=r.discipline, address=r.address,
                        schools=sorted(r.schools or ()),
                        classes=sorted(r.classes or ()))
        person.write_label = write_to % {"name": person.full_name}
        rows.append(PersonRow(person, bool(r.writable), *(
            (r.is_manager, r.member_ends_at) if group_id is not None else ())))
        if not r.writable:
            refused.append((r.id, person.full_name, r.profile, r.suspended))
    page = _page(rows, number, per_page, total)
    page.refusals = refusal_reasons(viewer, refused)
    return page


def refusal_reasons(viewer: Account, refused) -> dict[int, str]:
    """Why `viewer` may not write to each person of a page whose rows hold the rule's verdict
    (`rights.rule_condition`, false for these): (id, name, profile, suspended) → the rights
    engine's reason in words, shown where the directory and the picker offer no envelope.
    No query: the row has said it all."""
    return {account_id: said(refusal(viewer, name, profile, suspended=suspended))
            for account_id, name, profile, suspended in refused}


def compose_link(account: Account) -> str:
    """Where the envelope leads: the compose page once Messagerie exists, else a mailto: of
    the universal address (never the redirect address). The page's address is built once
    per request, not once per row."""
    if "messagerie.compose" in current_app.view_functions:
        if "compose_url" not in g:
            g.compose_url = url_for("messagerie.compose")
        return f"{g.compose_url}?destinataire={int(account.id)}"
    return f"mailto:{account.universal_address}"


def page_link(endpoint: str, args, route: dict | None = None) -> Callable[[int], str]:
    """The address of each page of the current search (the pagination's links): url_for
    once, for the search without its page number, which each link then adds. A url_for per
    link cost about 0.25 ms of a search's 4."""
    base = url_for(endpoint, **page_args(args, route, page=None))
    separator = "&" if "?" in base else "?"
    return lambda number: f"{base}{separator}page={int(number)}"


def page_args(args, route: dict | None = None, **changes) -> dict:
    """url_for arguments: the route's own, then the query string of the current search (lists
    kept; "endpoint" and names starting with "_" dropped: url_for would read them as its own
    parameters, a 500 for `?endpoint=x`) with some values changed."""
    values = {key: items if len(items) > 1 else items[0]
              for key, items in args.to_dict(flat=False).items()
              if not key.startswith("_") and key != "endpoint"}
    values.update(changes)
    values.update(route or {})
    return values
