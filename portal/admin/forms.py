"""Forms of the administration pages. Filters are read from the query string (no CSRF: they
change nothing); every form that changes something is a FlaskForm (CSRF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
)

from directory.account_admin import Activity
from directory.enums import Profile

from ..directory_forms import choice
from ..forms import password_policy

PROFILE_CHOICES = [choice(p.value, _l(p.label)) for p in Profile]   # read at each render


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    nom = StringField(_l("Nom"), validators=[Optional(), Length(max=100)])
    etablissement = SelectField(_l("Établissement"), default="")
    profil = SelectField(_l("Profil"), default="")
    groupe = SelectField(_l("Classe ou groupe"), default="")
    etat = SelectField(_l("État"), default="", choices=[
        choice("", _l("Tous")), choice("actif", _l("Actifs")),
        choice("suspendu", _l("Suspendus"))])
    activite = SelectField(_l("Activité"), default="", choices=[
        choice("", _l("Toutes")), choice(Activity.NEVER.value, _l("Jamais connectés")),
        choice(Activity.INACTIVE.value, _l("Inactifs depuis plus de N jours"))])
    jours = IntegerField(_l("N jours"), default=30,
                         validators=[Optional(), NumberRange(min=0, max=36_500)])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1, max=100_000)])


class BulkForm(FlaskForm):
    ids = SelectMultipleField(coerce=int, validate_choice=False)
    action = HiddenField(validators=[AnyOf(["suspendre", "reactiver", "mot_de_passe"])])
    retour = HiddenField()
    confirme = HiddenField()    # "1": new passwords confirmed on the page listing them


class EditForm(FlaskForm):
    prenom = StringField(_l("Prénom"), validators=[DataRequired(_l("Saisissez le prénom.")),
                                                   Length(max=100)])
    nom = StringField(_l("Nom"), validators=[DataRequired(_l("Saisissez le nom.")),
                                             Length(max=100)])
    profil = SelectField(_l("Profil"), choices=PROFILE_CHOICES)
    classe = SelectField(_l("Classe"), coerce=str, validate_choice=True)
    redirection = EmailField(_l("Adresse de redirection"), validators=[
        Optional(), Email(_l("Cette adresse électronique n'est pas valide."),
                          check_deliverability=False), Length(max=254)])
    enfants = TextAreaField(_l("Enfants (identifiants, un par ligne)"),
                            validators=[Optional(), Length(max=2000)])
    admin_etablissement = BooleanField(_l("Administrateur des comptes de ses établissements"))
    fin_acces = DateField(_l("Dernier jour d'accès"), validators=[Optional()])


class NewAccountForm(FlaskForm):
    etablissement = SelectField(_l("Établissement"), coerce=str, validate_choice=True)
    prenom = StringField(_l("Prénom"), validators=[DataRequired(_l("Saisissez le prénom.")),
                                                   Length(max=100)])
    nom = StringField(_l("Nom"), validators=[DataRequired(_l("Saisissez le nom.")),
                                             Length(max=100)])
    profil = SelectField(_l("Profil"), choices=PROFILE_CHOICES)
    redirection = EmailField(_l("Adresse de redirection"), validators=[
        Optional(), Email(_l("Cette adresse électronique n'est pas valide."),
                          check_deliverability=False), Length(max=254)])
    envoi = SelectField(_l("Mot de passe"), choices=[
        choice("envoyer", _l("Générer un mot de passe et l'envoyer à l'adresse de redirection")),
        choice("saisir", _l("Saisir un mot de passe, à changer à la première connexion"))])
    mot_de_passe = PasswordField(_l("Mot de passe (s'il est saisi)"),
                                 validators=[Optional(), Length(max=200), password_policy])
    #: drawn when the form is shown: sent twice (a double click), it creates one account
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])


class PasswordForm(FlaskForm):
    mode = SelectField(_l("Nouveau mot de passe"), choices=[
        choice("envoyer", _l("Générer et envoyer à l'adresse de redirection vérifiée")),
        choice("fiche", _l("Générer et imprimer une fiche")),
        choice("saisir", _l("Saisir un mot de passe, à changer à la prochaine connexion"))])
    mot_de_passe = PasswordField(_l("Mot de passe (s'il est saisi)"),
                                 validators=[Optional(), Length(max=200), password_policy])
    confirme = HiddenField()    # "1": the page saying the current one stops working was read


class ConfirmForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class SuspendForm(FlaskForm):
    """« Suspendre » or « Réactiver »: the state wanted, not a switch, so that the same click
    sent twice (or from a page older than a colleague's change) does not undo itself."""

    suspendre = HiddenField(validators=[AnyOf(["0", "1"])])


class UploadForm(FlaskForm):
    etablissement = SelectField(_l("Établissement"), coerce=str, validate_choice=True)
    fichier = FileField(_l("Fichier CSV"), validators=[FileRequired(_l("Choisissez un fichier."))])
    creer_classes = BooleanField(_l("Créer les classes inconnues"))
