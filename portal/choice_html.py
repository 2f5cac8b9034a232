"""HTML kept per process: a form's choice fields (select lists, checkbox lists), and the
blocks of a page rendered only from fields and plain values (`kept_block`).

The search forms offer the same choices to many requests: the profiles, the disciplines,
schools and groups of one's schools, the page sizes. Rendering them through WTForms costs
more than the search itself (about 3 ms of the Annuaire's page: one html_params() per option,
a subfield per checkbox). The HTML is kept under a key made of everything it is rendered
from — the field's name, id, type, flags and render_kw, each choice's value, label (already in the
reader's language) and whether it is selected, and the attributes the template passes — so
a kept rendering is the one the field would give again: a renamed class or a new discipline
is another key, and no delay applies. Fields without choices are rendered each time.

`kept_block` does the same for a block of a template: `{% call kept_block("name", a, b) %}…
{% endcall %}` renders the block once per key — its name, the reader's language and every
part given (a field's whole state: data, errors, choices and which are selected; a list or
a plain value as it is) — so the block must read nothing else: no CSRF token, no value of
the request that is not among the parts. The Annuaire's filters and the navigation bar are
such blocks; what they saved is measured in docs/PERFORMANCE.md ("Directory search within 3×
of the floor").
"""
from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import request
from flask_babel import get_locale
from markupsafe import Markup, escape

MAX_ENTRIES = 2_000
_kept: dict[Hashable, Markup] = {}


def _key(field, kind: str, attributes: dict) -> tuple:
    return (kind, _field_state(field),
            tuple(sorted((name, str(value)) for name, value in attributes.items())))


def _field_state(field) -> tuple:
    """What a WTForms field is rendered from: its type, widget, name and id, data, errors,
    choices (value, label, selected), flags and render_kw."""
    choices = tuple((str(value), str(label), bool(selected))
                    for value, label, selected, *_ in field.iter_choices()) \
        if hasattr(field, "iter_choices") else ()
    return (type(field), type(field.widget), field.name, field.id, repr(field.data),
            tuple(map(str, field.errors)), choices, tuple(sorted(vars(field.flags).items())),
            repr(field.render_kw))


def _kept_or(key: tuple, render: Callable[[], Markup]) -> Markup:
    html = _kept.get(key)
    if html is None:
        if len(_kept) >= MAX_ENTRIES:
            _kept.clear()
        html = _kept[key] = Markup(render())
    return html


def widget(field, **attributes) -> Markup:
    """`field(**attributes)`, kept when the field has choices."""
    if not hasattr(field, "iter_choices"):
        return field(**attributes)
    return _kept_or(_key(field, "widget", attributes), lambda: field(**attributes))


def checkbox_list(field) -> Markup:
    """One `<label class="inline"><input type="checkbox"…> label</label>` per choice."""
    return _kept_or(_key(field, "checkboxes", {}), lambda: Markup("\n").join(
        Markup('<label class="inline">{} {}</label>').format(option(), escape(option.label.text))
        for option in field))


def kept_block(name: str, *parts, caller) -> Markup:
    """The block of a `{% call kept_block(name, *parts) %}`, rendered at the first call with
    these parts in this language (and under this root of the site, for its links) and kept
    (see the module's docstring)."""
    key = ("block", name, str(get_locale()), request.script_root,
           *(_part(part) for part in parts))
    return _kept_or(key, caller)


def _part(part) -> Hashable:
    if hasattr(part, "widget"):     # a WTForms field
        return _field_state(part)
    if isinstance(part, (list, tuple)):
        return tuple(_part(item) for item in part)
    return part


def install(app) -> None:
    app.jinja_env.globals.update(choice_widget=widget, checkbox_list=checkbox_list,
                                 kept_block=kept_block)
