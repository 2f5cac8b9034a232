"""The rows of a table of people (the Annuaire's results, a group's members), rendered in
Python: name, profile, schools, classes, discipline, the envelope where writing is allowed, and
the actions the page offers (add to a group, or manage a member).

A Jinja loop pays an escape, an attribute look-up and a context look-up per cell, and
`compose_link`'s proxies per row; here each row is one format string, and what every row shares
(the translated words, the form addresses, the CSRF token) is worked out once per page. An
Annuaire search of 20 rows went from 4.7 to 4.5 ms of CPU in process. The table around the
rows stays in templates/annuaire/_macros.html. `picker_rows` does the same for the recipient
picker's results (templates/messagerie/_picker.html).
"""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from directory.clock import last_local_day

from .directory_pages import Page, compose_link

_ROW = ('<tr>\n    <td>{name}{badge}</td>\n    <td>{profile}</td>\n    <td>{schools}</td>\n'
        '    <td>{classes}</td>\n    <td>{discipline}</td>\n    <td>{write}</td>{actions}\n'
        '  </tr>')


def people_rows(page: Page, *, target=None, group=None, manage: bool = False) -> Markup:
    """The <tr> of each row of `page`: PersonRow(person, writable, is_manager)."""
    actions = _Actions(target, group, manage)
    manager = escape(gettext("gestionnaire"))   # outside the f-string, where pybabel sees it
    badge = f' <span class="badge">{manager}</span>'
    html = []
    for row in page.rows:
        person = row.person
        html.append(_ROW.format(
            name=f"{escape(person.last_name)} {escape(person.first_name)}",
            badge=badge if group is not None and row.is_manager else "",
            profile=escape(person.profile_label),
            schools=escape(", ".join(person.schools)),
            classes=escape(", ".join(person.classes)),
            discipline=escape(person.discipline or ""),
            write=_envelope(person, row.writable, page.refusals),
            actions=actions.of(row)))
    return Markup("\n  ".join(html))


_PICKER_ROW = ('<tr>\n      <td>{name}</td>\n      <td>{profile}</td>\n      <td>{classes}</td>\n'
               '      <td>{add}</td>\n    </tr>')


def picker_rows(page: Page, add_url) -> Markup:
    """The <tr> of each row of the picker's `page`: name, profile, classes and
    `picker_add_cell`."""
    words = _AddWords()
    html = []
    for row in page.rows:
        person = row.person
        html.append(_PICKER_ROW.format(
            name=f"{escape(person.last_name)} {escape(person.first_name)}",
            profile=escape(person.profile_label), classes=escape(", ".join(person.classes)),
            add=picker_add_cell(page, row, add_url, words)))
    return Markup("\n    ".join(html))


class _AddWords:
    """The words of the picker's last cell, translated once per page."""

    def __init__(self):
        self.add = gettext("Ajouter")
        self.refused = escape(gettext("Vous ne pouvez pas lui écrire"))


def picker_add_cell(page: Page, row, add_url, words: _AddWords | None = None) -> Markup:
    """The picker's last cell for one row (person, writable) of `page` (its result rows, and
    the members of an address-book group in templates/messagerie/_picker.html): an "Ajouter"
    link where writing is allowed (`add_url(token)`: the picker's address with the person
    added), else why not, in the rights engine's words when it gave them."""
    words = words or _AddWords()
    person = row[0]
    if row.writable:
        return add_chip(add_url, f"p:{int(person.id)}", person.full_name, [person.id],
                        words.add, person.full_name)
    refusal = page.refusals.get(person.id)
    return Markup(f'<span class="hint refusal">'
                  f'{escape(refusal) if refusal else words.refused}</span>')


def add_chip(add_url, token: str, label: str, ids, text: str, hidden_text: str = "") -> Markup:
    """The picker's "Ajouter" link (templates/messagerie/_picker.html calls it too): without
    JavaScript it adds `token` to the page's `ajout` values; with it, its data-token,
    data-label and data-ids make a chip of the compose page."""
    hidden = (f'<span class="visually-hidden"> : {escape(hidden_text)}</span>'
              if hidden_text else "")
    return Markup(f'<a class="add-chip button small" href="{escape(add_url(token))}" '
                  f'data-token="{escape(token)}" data-label="{escape(label)}" '
                  f'data-ids="{" ".join(str(int(i)) for i in ids)}">{escape(text)}{hidden}</a>')


def _envelope(person, writable: bool, refusals: dict[int, str]) -> str:
    if writable:
        label = escape(person.write_label)
        return (f'<a class="envelope" href="{escape(compose_link(person))}" '
                f'aria-label="{label}" title="{label}">✉</a>')
    refusal = refusals.get(person.id)
    return f'<span class="hint refusal">{escape(refusal)}</span>' if refusal else ""


class _Actions:
    """The last cell: a form to add the person to `target`, or the forms managing a member
    of `group` (`manage`), or nothing."""

    def __init__(self, target, group, manage: bool):
        self.target, self.manage = target, manage and group is not None
        if target is None and not self.manage:
            return
        self.token = escape(generate_csrf())
        if target is not None:
            self.add = escape(url_for("adhoc.add_member", group_id=target.id))
            self.add_word = escape(gettext("Ajouter"))
        else:
            self.set_manager = escape(url_for("adhoc.set_manager", group_id=group.id))
            self.set_end = escape(url_for("adhoc.set_member_end", group_id=group.id))
            self.until = escape(gettext("Jusqu'au"))
            self.save_word = escape(gettext("Enregistrer"))
            self.remove = escape(url_for("adhoc.remove_member", group_id=group.id))
            self.demote = escape(gettext("Retirer la gestion"))
            self.promote = escape(gettext("Nommer gestionnaire"))
            self.remove_word = escape(gettext("Retirer du groupe"))

    def of(self, row) -> str:
        if self.target is not None:
            return self._add(row.person)
        if self.manage:
            return self._managing(row.person, row.is_manager, row.member_ends_at)
        return ""

    def _hidden(self, person) -> str:
        return (f'<input type="hidden" name="csrf_token" value="{self.token}">'
                f'<input type="hidden" name="account" value="{int(person.id)}">')

    def _add(self, person) -> str:
        label = escape(gettext("Ajouter %(name)s au groupe", name=person.full_name))
        return (f'\n    <td><form method="post" action="{self.add}">{self._hidden(person)}'
                f'<button type="submit" class="small" aria-label="{label}">{self.add_word}'
                f'</button></form></td>')

    def _managing(self, person, is_manager: bool, ends_at) -> str:
        name = escape(person.full_name)
        change = self.demote if is_manager else self.promote
        html = (f'\n    <td class="actions">\n      <form method="post" '
                f'action="{self.set_manager}">{self._hidden(person)}'
                f'<input type="hidden" name="manager" value="{"non" if is_manager else "oui"}">'
                f'<button type="submit" class="small secondary">{change}'
                f'<span class="visually-hidden"> : {name}</span></button></form>')
        if not is_manager:
            html += (f'\n      <form method="post" action="{self.remove}">{self._hidden(person)}'
                     f'<button type="submit" class="small danger">'
                     f'{self.remove_word}'
                     f'<span class="visually-hidden"> : {name}</span></button></form>')
            last_day = last_local_day(ends_at).isoformat() if ends_at else ""
            html += (f'\n      <form method="post" action="{self.set_end}" class="member-end">'
                     f'{self._hidden(person)}<label>{self.until}'
                     f'<span class="visually-hidden"> ({name})</span> '
                     f'<input type="date" name="fin" value="{last_day}"></label> '
                     f'<button type="submit" class="small secondary">{self.save_word}'
                     f'<span class="visually-hidden"> : {name}</span></button></form>')
        return html + "\n    </td>"
