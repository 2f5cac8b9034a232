"""Forms of "Écrire à plusieurs" and of the automated communications. Choices that depend
on the viewer (their schools' groups, the people of the audience, their signatures) are
filled by the view before validation."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from directory.audience import TriggerKind
from directory.clock import readers_zone
from directory.enums import Profile, Role
from mailgate.automations.communications import BODY_MAX, NAME_MAX, SUBJECT_MAX
from mailgate.automations.models import Kind, Repeat

from ..directory_forms import CheckboxesField, choice
from ..forms import plausible_year


class _ZoneCity:
    """The city of the readers' time zone (PREAU_TIMEZONE: « Paris » for Europe/Paris), read
    when a label is shown: the times of the forms are on the readers' clocks."""

    def __str__(self) -> str:
        return readers_zone().key.rpartition("/")[2].replace("_", " ")


#: « Heure (heure de Paris) »
LOCAL_TIME = _l("Heure (heure de %(city)s)", city=_ZoneCity())

KINDS = {Kind.ANNOUNCE: _l("Annonce"), Kind.REMINDER: _l("Rappel"),
         Kind.ACCESS_ENDING: _l("Fin d'accès"), Kind.INACTIVITY: _l("Inactivité")}
REPEATS = {Repeat.ONCE: _l("Une fois, à une date"), Repeat.DAILY: _l("Tous les jours"),
           Repeat.WEEKLY: _l("Chaque semaine")}
TRIGGERS = {TriggerKind.NONE: _l("Toutes les personnes visées"),
            TriggerKind.NEVER_LOGGED_IN: _l("Jamais connectées N jours après la création du "
                                            "compte ou l'arrivée dans le groupe"),
            TriggerKind.INACTIVE: _l("Inactives depuis N jours"),
            TriggerKind.ACCESS_ENDS: _l("Dont l'accès se termine dans N jours")}
WEEKDAYS = (_l("lundi"), _l("mardi"), _l("mercredi"), _l("jeudi"), _l("vendredi"),
            _l("samedi"), _l("dimanche"))
PROFILES = {Profile.STUDENT: _l("Élèves"), Profile.PARENT: _l("Parents d'élèves"),
            Profile.TEACHER: _l("Enseignants"), Profile.STAFF: _l("Personnels non enseignants"),
            Profile.OTHER: _l("Autres membres")}


class AudienceForm(FlaskForm):
    """Who: the filters of the audience (directory/audience.py)."""
    groupes = SelectMultipleField(_l("Membres des groupes"), coerce=int)
    #: an administrator's groups are the region's: the form lists those whose name starts so
    groupes_nom = StringField(_l("Chercher un groupe par son nom"),
                              validators=[Optional(), Length(max=120)])
    parents_de = SelectMultipleField(_l("Parents des élèves de"), coerce=int)
    profils = CheckboxesField(_l("Profils"), choices=[choice(p.value, label)
                                                     for p, label in PROFILES.items()])
    roles = CheckboxesField(_l("Rôles"), choices=[choice(r.value, _l(r.label)) for r in Role])
    inactifs = IntegerField(_l("Inactifs depuis plus de (jours)"), validators=[
        Optional(), NumberRange(1, 3650, _l("Entre 1 et 3650 jours."))])
    jamais_connectes = BooleanField(_l("Jamais connectés"))
    exclus = SelectMultipleField(_l("Exclure"), coerce=int, validate_choice=False)


class WriteForm(AudienceForm):
    objet = StringField(_l("Objet"), validators=[
        DataRequired(_l("Donnez un objet au message.")), Length(max=SUBJECT_MAX)])
    texte = TextAreaField(_l("Message"), validators=[
        DataRequired(_l("Écrivez le message.")), Length(max=BODY_MAX)])
    signature = SelectField(_l("Signature"), coerce=int, validate_choice=False)
    fichiers = MultipleFileField(_l("Pièces jointes"))
    apercu_pour = SelectField(_l("Aperçu pour"), coerce=int, validate_choice=False)
    quand = RadioField(_l("Envoi"), default="maintenant",
                       choices=[choice("maintenant", _l("Maintenant")),
                                choice("programme", _l("À une date et une heure"))])
    date = DateField(_l("Date"), validators=[Optional(), plausible_year])
    heure = TimeField(LOCAL_TIME, validators=[Optional()])
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])  # drawn once shown
    #: the count « Compter et prévisualiser » showed (communications.check_count_seen)
    compte_vu = HiddenField(validators=[Optional(), Length(max=12)])


class AutomatedForm(FlaskForm):
    nom = StringField(_l("Nom"), validators=[
        DataRequired(_l("Donnez un nom à la communication.")), Length(max=NAME_MAX)])
    genre = SelectField(_l("Type"), choices=[choice(k.value, label)
                                             for k, label in KINDS.items()])
    groupes = SelectMultipleField(_l("Groupes visés (aucun : tout l'espace)"), coerce=int)
    profils = CheckboxesField(_l("Profils"), choices=[choice(p.value, label)
                                                     for p, label in PROFILES.items()])
    regle = SelectField(_l("Règle"), choices=[choice(t.value, label)
                                              for t, label in TRIGGERS.items()])
    jours = StringField(_l("Jours (séparés par des virgules)"), validators=[Length(max=40)])
    repetition = SelectField(_l("Quand"), choices=[choice(r.value, label)
                                                   for r, label in REPEATS.items()])
    date = DateField(_l("Date"), validators=[Optional(), plausible_year])
    heure = TimeField(LOCAL_TIME, default=None, validators=[Optional()])
    jour_semaine = SelectField(_l("Jour de la semaine"), coerce=int,
                               choices=[choice(n, label) for n, label in enumerate(WEEKDAYS)])
    objet = StringField(_l("Objet"), validators=[
        DataRequired(_l("Donnez un objet au message.")), Length(max=SUBJECT_MAX)])
    texte = TextAreaField(_l("Message"), validators=[
        DataRequired(_l("Écrivez le message.")), Length(max=BODY_MAX)])
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])  # drawn once shown


class SignatureForm(FlaskForm):
    nom = StringField(_l("Nom de la signature"), validators=[
        DataRequired(_l("Donnez un nom à la signature.")), Length(max=80)])
    texte = TextAreaField(_l("Signature"), validators=[
        DataRequired(_l("Écrivez la signature.")), Length(max=2000)])
    par_defaut = BooleanField(_l("Signature par défaut"))


class ButtonForm(FlaskForm):
    """A POST with nothing but its CSRF token (deactivate, reactivate, trial…)."""
