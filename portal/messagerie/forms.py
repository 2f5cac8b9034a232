"""Forms of the Messagerie. POST forms carry their CSRF token (FlaskForm); the list, search
and picker forms are read from the query string (GET, no CSRF: they change nothing)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from mailgate.mailbox import FOLDER_NAME_MAX

from ..directory_forms import choice
from .compose import BODY_MAX, SUBJECT_MAX
from .listing import ORDERS, SORTS
from .search import MAX_SEARCH

MAX_PAGE = 10**6
ACTIONS = ("deplacer", "lu", "non-lu", "supprimer")


class _GetForm(FlaskForm):
    class Meta:
        csrf = False

    page = IntegerField(_l("Page"), default=1, validators=[
        Optional(), NumberRange(1, MAX_PAGE, _l("Numéro de page invalide."))])

    def page_number(self) -> int:
        return self.page.data or 1


class ListForm(_GetForm):
    tri = SelectField(_l("Trier par"), default="date", choices=[
        choice("date", _l("Date")), choice("expediteur", _l("Expéditeur")),
        choice("objet", _l("Objet"))], validators=[AnyOf(SORTS)])
    ordre = SelectField(_l("Ordre"), default="desc", choices=[
        choice("desc", _l("Décroissant")), choice("asc", _l("Croissant"))],
        validators=[AnyOf(ORDERS)])


class SearchForm(_GetForm):
    q = StringField(_l("Rechercher dans mes messages"), validators=[
        DataRequired(_l("Saisissez le texte à chercher.")),
        Length(max=MAX_SEARCH, message=_l("%(max)d caractères au plus."))])


class SelectionForm(FlaskForm):
    """Actions on the messages ticked in a list (their ids come as `item` values)."""

    action = StringField(_l("Action"), validators=[
        AnyOf(ACTIONS, message=_l("Action inconnue."))])
    destination = IntegerField(_l("Déplacer vers"), validators=[
        Optional(), NumberRange(1, 2**31 - 1, _l("Dossier inconnu."))])
    confirme = BooleanField(_l("Confirmé"))


class FolderNameForm(FlaskForm):
    name = StringField(_l("Nom du dossier"), validators=[
        DataRequired(_l("Donnez un nom au dossier.")),
        Length(max=FOLDER_NAME_MAX,
               message=_l("Le nom du dossier dépasse %(max)d caractères."))])


class DeleteFolderForm(FlaskForm):
    deplacer = BooleanField(_l("Déplacer ses messages et supprimer le dossier"))


class ReceiptForm(FlaskForm):
    reponse = StringField(_l("Réponse"), validators=[AnyOf(("oui", "non"))])


class ComposeForm(FlaskForm):
    subject = StringField(_l("Objet"), validators=[Length(
        max=SUBJECT_MAX, message=_l("L'objet dépasse %(max)d caractères."))])
    body = TextAreaField(_l("Message"), validators=[Length(
        max=BODY_MAX, message=_l("Le texte dépasse %(max)d caractères."))])
    files = MultipleFileField(_l("Pièces jointes"))
    receipt = BooleanField(_l("Demander un accusé de réception"))
    copy = BooleanField(_l("Enregistrer une copie dans Messages envoyés"))
