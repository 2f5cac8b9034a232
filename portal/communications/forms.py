"""Forms of "Écrire à plusieurs" and of the automated communications. Choices that depend
on the viewer (their schools' groups, the people of the audience, their signatures) are
filled by the view before validation."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
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

#: the areas of the time zone database whose zones are named after a city (or an island):
#: « Europe/Paris », « America/Argentina/Buenos_Aires », « Indian/Reunion »
CITY_AREAS = frozenset({"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic",
                        "Australia", "Europe", "Indian", "Pacific"})
#: the names of Coordinated Universal Time (« UTC », « Etc/UTC », « GMT », « Etc/Zulu »…)
UNIVERSAL = frozenset({"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0",
                       "Greenwich"})


def local_time_label() -> str:
    """The label of the forms' time, on the readers' clock (PREAU_TIMEZONE), read when it is
    shown: « Heure (heure de Paris) », « Heure (heure d'Amsterdam) »; a zone that is no city
    by its name: « Heure (heure UTC) », « Heure (fuseau Etc/GMT-1) »."""
    zone = readers_zone().key
    area, _, place = zone.partition("/")
    if area in CITY_AREAS and place:
        city = place.rpartition("/")[2].replace("_", " ")
        if city[:1].lower() in "aeiou":
            return gettext("Heure (heure d'%(city)s)", city=city)
        return gettext("Heure (heure de %(city)s)", city=city)
    if zone.removeprefix("Etc/") in UNIVERSAL:
        return gettext("Heure (heure UTC)")
    return gettext("Heure (fuseau %(zone)s)", zone=zone)


#: « Heure (heure de Paris) »
LOCAL_TIME = LazyString(local_time_label)

KINDS = {Kind.ANNOUNCE: _l("Annonce"), Kind.REMINDER: _l("Rappel"),
         Kind.ACCESS_ENDING: _l("Fin d'accès"), Kind.INACTIVITY: _l("Inactivité")}
REPEATS = {Repeat.ONCE: _l("Une fois, à une date"), Repeat.DAILY: _l("Tous les jours"),
           Repeat.WEEKLY: _l("Chaque semaine")}
TRIGGERS = {TriggerKind.NONE: _l("Toutes les personnes visées"),
            TriggerKind.NEVER_LOGGED_IN: _l("Jamais connectés N jours après la création du "
                                            "compte ou l'arrivée dans le groupe"),
            TriggerKind.INACTIVE: _l("Inactifs depuis N jours"),
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
    #: the audience « Compter et prévisualiser » last counted, as
    #: communications.audience_digest (check_count_seen)
    compte_vu = HiddenField(validators=[Optional(), Length(max=64)])


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
