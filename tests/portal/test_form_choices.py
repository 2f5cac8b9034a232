"""Every choice list a page's forms offer is made of `directory_forms.choice` values, never of
tuples: WTForms 3.3 deprecates (value, label) tuples and 3.4 removes them, and it warns only
about lists declared on a form's class, not about those a view sets (`form.x.choices = …`)."""
from __future__ import annotations

from flask import template_rendered
from flask_wtf import FlaskForm

from portal.directory_forms import choice
from tests.conftest import login

PAGES = {
    "admin": ("/administration/comptes/", "/administration/comptes/nouveau",
              "/administration/import", "/communications/ecrire", "/agenda/nouveau",
              "/annuaire/?nom=ma", "/carnet/importer"),
    "claire.bernard": ("/communications/ecrire", "/agenda/nouveau", "/annuaire/?nom=ma",
                       "/messagerie/destinataires?nom=ma", "/groupes/nouveau"),
}


def test_every_choice_list_of_the_main_forms_is_made_of_choices(app):
    kind = type(choice("v", "l"))
    seen: dict[str, list] = {}

    def record(_sender, template, context, **_extra):
        for name, value in context.items():
            if isinstance(value, FlaskForm):
                for field in value:
                    choices = getattr(field, "choices", None)
                    if isinstance(choices, (list, tuple)) and choices:
                        seen[f"{template.name} {name}.{field.name}"] = list(choices)

    template_rendered.connect(record, app)
    try:
        for login_name, pages in PAGES.items():
            client = app.test_client()
            assert login(client, login_name).status_code == 302
            for page in pages:
                assert client.get(page).status_code == 200, page
    finally:
        template_rendered.disconnect(record, app)
    assert len(seen) >= 10, sorted(seen)
    wrong = {where: choices[:2] for where, choices in seen.items()
             if not all(isinstance(c, kind) for c in choices)}
    assert not wrong
