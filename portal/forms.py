"""WTForms used by more than one view. Every form inherits CSRF protection from FlaskForm."""
from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from directory.passwords import policy_errors

from .i18n import said

FIRST_YEAR, LAST_YEAR = 1900, 2199


def plausible_year(form, field):
    """A typed date within years the readers' zone converts and people mean: year 1 went
    below the earliest datetime once converted to UTC (a 500), year 9999 past the last."""
    if field.data is not None and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(_("Choisissez une date entre %(first)d et %(last)d.",
                                first=FIRST_YEAR, last=LAST_YEAR))


def password_policy(form, field):
    """Each rule of the password policy the typed password breaks, in the reader's language."""
    if field.data:
        unmet = policy_errors(field.data)
        if unmet:
            raise ValidationError(" ".join(said(rule) for rule in unmet))


class LoginForm(FlaskForm):
    login = StringField(_("Identifiant"), validators=[
        DataRequired(_("Saisissez votre identifiant.")), Length(max=120)])
    password = PasswordField(_("Mot de passe"), validators=[
        DataRequired(_("Saisissez votre mot de passe.")), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_("Mot de passe actuel"), validators=[
        DataRequired(_("Saisissez votre mot de passe actuel.")), Length(max=200)])
    new = PasswordField(_("Nouveau mot de passe"), validators=[
        DataRequired(_("Saisissez un nouveau mot de passe.")), Length(max=200)])
    confirm = PasswordField(_("Confirmation"), validators=[
        EqualTo("new", _("Les deux mots de passe diffèrent."))])


class RedirectForm(FlaskForm):
    address = EmailField(_("Adresse de redirection"), validators=[
        DataRequired(_("Saisissez une adresse.")),
        Email(_("Cette adresse électronique n'est pas valide."), check_deliverability=False),
        Length(max=254)])
    password = PasswordField(_("Mot de passe actuel"), validators=[
        DataRequired(_("Saisissez votre mot de passe actuel.")), Length(max=200)])


class ForgottenPasswordForm(FlaskForm):
    login = StringField(_("Identifiant"), validators=[
        DataRequired(_("Saisissez votre identifiant.")), Length(max=120)])


class NewPasswordForm(FlaskForm):
    new = PasswordField(_("Nouveau mot de passe"), validators=[
        DataRequired(_("Saisissez un nouveau mot de passe.")), Length(max=200), password_policy])
    confirm = PasswordField(_("Confirmation"), validators=[
        EqualTo("new", _("Les deux mots de passe diffèrent."))])
