"""The HTML of a form's choice fields (select lists, checkbox lists), kept per process.

The search forms offer the same choices to many requests: the profiles, the disciplines,
schools and groups of one's schools, the page sizes. Rendering them through WTForms costs
more than the search itself (about 3 ms of the Annuaire's page: one html_params() per option,
a subfield per checkbox). The HTML is kept under a key made of everything it is rendered
from — the field's name, id, type, flags and render_kw, each choice's value, label (already in the
reader's language) and whether it is selected, and the attributes the template passes — so
a kept rendering is the one the field would give again: a renamed class or a new discipline
is another key, and no delay applies. Fields without choices are rendered each time.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable

from markupsafe import Markup, escape

MAX_ENTRIES = 2_000
_kept: dict[Hashable, Markup] = {}


def _key(field, kind: str, attributes: dict) -> tuple:
    choices = tuple((str(value), str(label), bool(selected))
                    for value, label, selected, *_ in field.iter_choices())
    return (kind, type(field), type(field.widget), field.name, field.id, choices,
            tuple(sorted(vars(field.flags).items())), repr(field.render_kw),
            tuple(sorted((name, str(value)) for name, value in attributes.items())))


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


def install(app) -> None:
    app.jinja_env.globals.update(choice_widget=widget, checkbox_list=checkbox_list)
