"""Forms of the Annuaire, the group pages and the ad hoc groups.

Search forms are read from the query string (GET, no CSRF: they change nothing); their
choices depend on the viewer and are filled by the view before validation.
"""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

from directory.enums import GroupKind, Profile, Role
from directory.search import MAX_ID, AccountFilters, GroupFilters, name_key, school_choices

try:  # WTForms ≥ 3.3 deprecates (value, label) tuples; older versions only know them.
    from wtforms.fields.choices import SelectChoice

    def choice(value, label: str):
        return SelectChoice(value=value, label=label)
except ImportError:  # pragma: no cover - WTForms < 3.3
    def choice(value, label: str):
        return (value, label)

PER_PAGE_CHOICES = (20, 50, 100)
MAX_PAGE = 10**6


class QuickSelect(Select):
    """WTForms' Select without one html_params() call per option: the list of the region's
    500 schools renders in about a millisecond instead of tens."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        if self.multiple:
            kwargs["multiple"] = True
        options = "".join(
            f'<option value="{escape(choice[0])}"{" selected" if choice[2] else ""}>'
            f"{escape(choice[1])}</option>" for choice in field.iter_choices())
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class _GetForm(FlaskForm):
    class Meta:
        csrf = False

    par_page = SelectField("Résultats par page", coerce=int, default=20,
                           choices=[choice(n, str(n)) for n in PER_PAGE_CHOICES],
                           validate_choice=True)
    page = IntegerField("Page", default=1, validators=[
        Optional(), NumberRange(1, MAX_PAGE, "Numéro de page invalide.")])

    def page_number(self) -> int:
        return self.page.data or 1


class _NameField(StringField):
    """A name prefix: at most 100 characters, with at least one letter or digit."""

    def pre_validate(self, form):
        text = (self.data or "").strip()
        if text and len(text) <= 100 and not name_key(text):
            raise ValidationError("Saisissez au moins une lettre ou un chiffre.")


class _SchoolFilterForm(_GetForm):
    """Schools chosen in a list of one's own, or named by UAI code (the region has hundreds)."""

    etablissement = SelectMultipleField("Établissements", coerce=int, choices=[],
                                        widget=QuickSelect(multiple=True))
    uai = StringField("Autres établissements (codes UAI)", validators=[Length(max=200, message=(
        "200 caractères au plus."))])

    def fill_schools(self, viewer) -> None:
        """Offer the viewer's schools (and any asked for); resolve the UAI codes typed."""
        codes = [c for c in re.split(r"[\s,;]+", (self.uai.data or "")[:200]) if c]
        self.schools = school_choices(viewer, self.etablissement.data or (), codes)
        self.etablissement.choices = [choice(i, f"{name} ({uai})")
                                      for i, name, uai in self.schools.offered]

    def validate_uai(self, field):
        unknown = getattr(self, "schools", None) and self.schools.unknown
        if unknown:
            raise ValidationError("Établissement inconnu ou hors de votre annuaire : "
                                  + ", ".join(unknown) + ".")

    def school_ids(self) -> list[int]:
        by_code = self.schools.by_code if hasattr(self, "schools") else []
        return list(dict.fromkeys([*(self.etablissement.data or ()), *by_code]))


class PeopleSearchForm(_SchoolFilterForm):
    nom = _NameField("Nom ou prénom", validators=[Length(max=100, message=(
        "Le nom cherché est trop long (100 caractères au plus)."))])
    profil = CheckboxesField("Profil", choices=[choice(p.value, p.label) for p in Profile])
    discipline = SelectField("Discipline", choices=[choice("", "Toutes")], validate_choice=False,
                             validators=[Length(max=100)])
    groupe = SelectField("Classe ou groupe", coerce=_optional_int, choices=[choice("", "Tous")],
                         validate_choice=False, widget=QuickSelect())

    def filters(self) -> AccountFilters:
        return AccountFilters(name=(self.nom.data or "").strip(),
                              profiles=[Profile(p) for p in self.profil.data or ()],
                              discipline=self.discipline.data or "",
                              school_ids=self.school_ids(), group_id=self.groupe.data)


class GroupSearchForm(_SchoolFilterForm):
    nom = _NameField("Nom du groupe", validators=[Length(max=100, message=(
        "Le nom cherché est trop long (100 caractères au plus)."))])
    type = CheckboxesField("Type", choices=[choice(k.value, k.value) for k in GroupKind])

    def filters(self) -> GroupFilters:
        return GroupFilters(name=(self.nom.data or "").strip(),
                            kinds=[GroupKind(k) for k in self.type.data or ()],
                            school_ids=self.school_ids())


class MembersPageForm(_GetForm):
    """Only the paging of a group's member list."""


class AdHocGroupForm(FlaskForm):
    name = StringField("Nom du groupe", validators=[
        DataRequired("Donnez un nom au groupe."),
        Length(max=120, message="Le nom du groupe dépasse 120 caractères.")])
    description = TextAreaField("Description", validators=[
        Length(max=2000, message="La description dépasse 2000 caractères.")])
    school = SelectField("Établissement", coerce=int, choices=[], widget=QuickSelect())
    persistent = BooleanField("Groupe pérenne (conservé d'une année scolaire à l'autre)")
    co_managers = StringField("Autres gestionnaires", validators=[Length(max=2000)])


def _account_field():
    return IntegerField("Compte", validators=[DataRequired("Compte manquant."),
                                              NumberRange(1, MAX_ID, "Compte inconnu.")])


class MemberForm(FlaskForm):
    account = _account_field()


class ManagerForm(FlaskForm):
    account = _account_field()
    manager = HiddenField("Gestionnaire", validators=[AnyOf(("oui", "non"))])


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token: the confirmation of a destructive action."""


class RoleForm(FlaskForm):
    role = HiddenField("Rôle", validators=[AnyOf([r.value for r in Role],
                                                  message="Rôle inconnu.")])
    action = HiddenField("Action", validators=[AnyOf(("accorder", "retirer"),
                                                      message="Action inconnue.")])


class AccountLookupForm(FlaskForm):
    class Meta:
        csrf = False

    compte = StringField("Identifiant ou nom", validators=[Length(max=120, message=(
        "120 caractères au plus."))])
