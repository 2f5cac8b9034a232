"""Forms of the rubrics. Every POST form carries its CSRF token (FlaskForm); choices that
depend on the viewer (spaces, populations) are filled by the view before validation."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from directory.enums import Profile
from directory.rubrics import DESCRIPTION_MAX, NAME_MAX

from ..directory_forms import CheckboxesField, choice
from ..forms import plausible_year
from .articles import BODY_MAX, COMMENT_MAX, TITLE_MAX
from .labels import PEOPLE
from .models import CommentMode

MESSAGE_MAX = 2000


class RubricForm(FlaskForm):
    name = StringField(_l("Nom de la rubrique"), validators=[
        DataRequired(_l("Donnez un nom à la rubrique.")), Length(max=NAME_MAX)])
    description = TextAreaField(_l("Description"), validators=[Length(max=DESCRIPTION_MAX)])


class NewRubricForm(RubricForm):
    espace = SelectField(_l("Espace"), validators=[DataRequired(_l("Choisissez un espace."))])
    #: drawn when the form is shown: sent twice, it makes one rubric (directory/form_keys.py)
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])


class PopulationForm(FlaskForm):
    profil = SelectField(_l("Profil"), choices=[choice(p.value, label) for p, label in
                                                PEOPLE.items()],
                         validators=[AnyOf([p.value for p in Profile])])
    portee = SelectField(_l("Établissement ou groupe"),
                         validators=[DataRequired(_l("Choisissez l'établissement ou un groupe."))])


class ManagerForm(FlaskForm):
    identifiant = StringField(_l("Identifiant de l'enseignant ou du personnel"), validators=[
        DataRequired(_l("Saisissez un identifiant.")), Length(max=120)])


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a button that changes one thing."""


class ArticleForm(FlaskForm):
    titre = StringField(_l("Titre"), validators=[
        DataRequired(_l("Donnez un titre à l'article.")), Length(max=TITLE_MAX)])
    # Filled by the editor (rubriques.js) from what the author wrote; sanitised on save.
    contenu = HiddenField(_l("Texte de l'article"), validators=[Length(max=BODY_MAX)])
    publication = RadioField(_l("Publication"), default="maintenant", choices=[
        choice("brouillon", _l("Brouillon (visible des gestionnaires seulement)")),
        choice("maintenant", _l("Publier maintenant")),
        choice("plus-tard", _l("Publier plus tard, le :"))],
        validators=[AnyOf(("brouillon", "maintenant", "plus-tard"))])
    date = DateTimeLocalField(_l("Date et heure de publication"), format="%Y-%m-%dT%H:%M",
                              validators=[Optional(), plausible_year])
    commentaires = RadioField(_l("Commentaires"), default=CommentMode.OFF.value, choices=[
        choice(CommentMode.OFF.value, _l("Fermés")),
        choice(CommentMode.MODERATED.value,
               _l("Ouverts, publiés après l'accord d'un gestionnaire")),
        choice(CommentMode.OPEN.value, _l("Ouverts, publiés aussitôt"))],
        validators=[AnyOf([m.value for m in CommentMode])])
    #: drawn when a new article's editor is shown: sent twice, it makes one article
    #: (directory/form_keys.py); empty when an article is edited
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])


class CommentForm(FlaskForm):
    texte = TextAreaField(_l("Votre commentaire"), validators=[
        DataRequired(_l("Écrivez votre commentaire.")), Length(max=COMMENT_MAX)])
    #: drawn when the article's page is shown: sent twice, the form makes one comment
    #: (directory/form_keys.py)
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])


class ModerationForm(FlaskForm):
    commentaire = IntegerField(validators=[DataRequired(), NumberRange(1, 2**31 - 1)])
    # The clicked button's name and value. Not a HiddenField: `hidden_tag()` would write an
    # empty `decision` before the buttons, which the browser sends first, and the first wins.
    decision = StringField(validators=[AnyOf(("publier", "refuser"))])


def _at_least_one(form, field) -> None:
    """Not DataRequired: its `required` flag would make the browser demand every box."""
    if not field.data:
        raise StopValidation(_l("Choisissez au moins une population."))


class SendForm(FlaskForm):
    populations = CheckboxesField(_l("Destinataires"), coerce=int, validators=[_at_least_one])
    texte = TextAreaField(_l("Texte du message"), validators=[
        DataRequired(_l("Écrivez le texte du message.")), Length(max=MESSAGE_MAX)])
    confirmation = BooleanField(_l("Demander une confirmation de lecture"))
    # One per form shown: a second submit of the same form finds the first job.
    cle = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])


class ReminderForm(FlaskForm):
    cle = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])


class PageForm(FlaskForm):
    class Meta:
        csrf = False

    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(1, 10**6)])

    def number(self) -> int:
        return self.page.data or 1
