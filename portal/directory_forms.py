"""Forms of the Annuaire, the group pages and the ad hoc groups.

Search forms are read from the query string (GET, no CSRF: they change nothing); their
choices depend on the viewer and are filled by the view before validation.
"""
from __future__ import annotations

import re

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
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

from .forms import plausible_year
from .i18n import N_

try:  # WTForms ≥ 3.3 deprecates (value, label) tuples; older versions only know them.
    from wtforms.fields.choices import SelectChoice

    def choice(value, label: str):
        return SelectChoice(value=value, label=label)
except ImportError:  # pragma: no cover - WTForms < 3.3
    def choice(value, label: str):
        return (value, label)

PER_PAGE_CHOICES = (20, 50, 100)
MAX_PAGE = 10**6

# The profile labels are defined in directory/enums.py (PROFILE_LABELS), outside the files
# `pybabel extract` reads: listed here so that the catalog has them. They are translated at
# run time by gettext(profile.label) (the search form below, the CSV export in groupes.py).
PROFILE_LABEL_MARKERS = (N_("Élève"), N_("Parent d'élève"), N_("Enseignant"),
                         N_("Personnel non enseignant"), N_("Autre"))
# The same for the kinds of group (directory/enums.py GROUP_KIND_LABELS).
GROUP_KIND_LABEL_MARKERS = (N_("Classe"), N_("Groupe"), N_("Groupe libre"))
# The same for the roles (directory/enums.py ROLE_LABELS; the administration's roles page).
ROLE_LABEL_MARKERS = (N_("Messagerie interne"), N_("Accès au service d'envoi"),
                      N_("Accès au service d'envoi étendu"), N_("Utilisateur (annuaire)"),
                      N_("Utilisateur avancé (annuaire)"), N_("Gestionnaire annuaire"))


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

    par_page = SelectField(_l("Résultats par page"), coerce=int, default=20,
                           choices=[choice(n, str(n)) for n in PER_PAGE_CHOICES],
                           validate_choice=True)
    page = IntegerField(_l("Page"), default=1, validators=[
        Optional(), NumberRange(1, MAX_PAGE, _l("Numéro de page invalide."))])

    def page_number(self) -> int:
        return self.page.data or 1


class _NameField(StringField):
    """A name prefix: at most 100 characters, with at least one letter or digit."""

    def pre_validate(self, form):
        text = (self.data or "").strip()
        if text and len(text) <= 100 and not name_key(text):
            raise ValidationError(gettext("Saisissez au moins une lettre ou un chiffre."))


class _SchoolFilterForm(_GetForm):
    """Schools chosen in a list of one's own, or named by UAI code (the region has hundreds)."""

    etablissement = SelectMultipleField(_l("Établissements"), coerce=int, choices=[],
                                        widget=QuickSelect(multiple=True))
    uai = StringField(_l("Autres établissements (codes UAI)"), validators=[Length(
        max=200, message=_l("%(max)d caractères au plus."))])

    def fill_schools(self, viewer) -> None:
        """Offer the viewer's schools (and any asked for); resolve the UAI codes typed."""
        codes = [c for c in re.split(r"[\s,;]+", (self.uai.data or "")[:200]) if c]
        self.schools = school_choices(viewer, self.etablissement.data or (), codes)
        self.etablissement.choices = [choice(i, f"{name} ({uai})")
                                      for i, name, uai in self.schools.offered]

    def validate_uai(self, field):
        unknown = getattr(self, "schools", None) and self.schools.unknown
        if unknown:
            raise ValidationError(gettext(
                "Établissement inconnu ou hors de votre annuaire : %(codes)s.",
                codes=", ".join(unknown)))

    def school_ids(self) -> list[int]:
        by_code = self.schools.by_code if hasattr(self, "schools") else []
        return list(dict.fromkeys([*(self.etablissement.data or ()), *by_code]))


class PeopleSearchForm(_SchoolFilterForm):
    nom = _NameField(_l("Nom ou prénom"), validators=[Length(max=100, message=_l(
        "Le nom cherché est trop long (100 caractères au plus)."))])
    profil = CheckboxesField(_l("Profil"), choices=[choice(p.value, _l(p.label))
                                                     for p in Profile])
    discipline = SelectField(_l("Discipline"), choices=[choice("", _l("Toutes"))],
                             validate_choice=False, validators=[Length(max=100)])
    groupe = SelectField(_l("Classe ou groupe"), coerce=_optional_int,
                         choices=[choice("", _l("Tous"))], validate_choice=False,
                         widget=QuickSelect())

    def filters(self) -> AccountFilters:
        profiles = [Profile(p) for p in self.profil.data or ()]
        # « Parent d'élève » + a class: the parents of its pupils (a class alone: its members)
        return AccountFilters(name=(self.nom.data or "").strip(), profiles=profiles,
                              discipline=self.discipline.data or "",
                              school_ids=self.school_ids(), group_id=self.groupe.data,
                              parents_of_class=Profile.PARENT in profiles)


class GroupSearchForm(_SchoolFilterForm):
    nom = _NameField(_l("Nom du groupe"), validators=[Length(max=100, message=_l(
        "Le nom cherché est trop long (100 caractères au plus)."))])
    type = CheckboxesField(_l("Type"), choices=[choice(k.value, _l(k.label)) for k in GroupKind])

    def filters(self) -> GroupFilters:
        return GroupFilters(name=(self.nom.data or "").strip(),
                            kinds=[GroupKind(k) for k in self.type.data or ()],
                            school_ids=self.school_ids())


class MembersPageForm(_GetForm):
    """Only the paging of a group's member list."""


class AdHocGroupForm(FlaskForm):
    name = StringField(_l("Nom du groupe"), validators=[
        DataRequired(_l("Donnez un nom au groupe.")),
        Length(max=120, message=_l("Le nom du groupe dépasse %(max)d caractères."))])
    description = TextAreaField(_l("Description"), validators=[
        Length(max=2000, message=_l("La description dépasse %(max)d caractères."))])
    school = SelectField(_l("Établissement"), coerce=int, choices=[], widget=QuickSelect())
    persistent = BooleanField(_l("Groupe pérenne (conservé d'une année scolaire à l'autre)"))
    co_managers = StringField(_l("Autres gestionnaires"), validators=[Length(max=2000)])


def _account_field():
    return IntegerField(_l("Compte"), validators=[DataRequired(_l("Compte manquant.")),
                                                  NumberRange(1, MAX_ID, _l("Compte inconnu."))])


class MemberForm(FlaskForm):
    account = _account_field()


class ManagerForm(FlaskForm):
    account = _account_field()
    manager = HiddenField(_l("Gestionnaire"), validators=[AnyOf(("oui", "non"))])


class MemberEndForm(FlaskForm):
    account = _account_field()
    fin = DateField(_l("Jusqu'au"), validators=[Optional(), plausible_year])


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token: the confirmation of a destructive action."""


class RoleForm(FlaskForm):
    role = HiddenField(_l("Rôle"), validators=[AnyOf([r.value for r in Role],
                                                      message=_l("Rôle inconnu."))])
    action = HiddenField(_l("Action"), validators=[AnyOf(("accorder", "retirer"),
                                                          message=_l("Action inconnue."))])


class AccountLookupForm(FlaskForm):
    class Meta:
        csrf = False

    compte = StringField(_l("Identifiant ou nom"), validators=[Length(
        max=120, message=_l("%(max)d caractères au plus."))])
