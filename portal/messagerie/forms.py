"""Forms of the Messagerie. POST forms carry their CSRF token (FlaskForm); the list, search
and picker forms are read from the query string (GET, no CSRF: they change nothing)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from ..directory_forms import choice
from .compose import BODY_MAX, SUBJECT_MAX
from .mailbox import FOLDER_NAME_MAX, ORDERS, SORTS
from .search import MAX_SEARCH

MAX_PAGE = 10**6
ACTIONS = ("deplacer", "lu", "non-lu", "supprimer")


class _GetForm(FlaskForm):
    class Meta:
        csrf = False

    page = IntegerField("Page", default=1, validators=[
        Optional(), NumberRange(1, MAX_PAGE, "Numéro de page invalide.")])

    def page_number(self) -> int:
        return self.page.data or 1


class ListForm(_GetForm):
    tri = SelectField("Trier par", default="date", choices=[
        choice("date", "Date"), choice("expediteur", "Expéditeur"), choice("objet", "Objet")],
        validators=[AnyOf(SORTS)])
    ordre = SelectField("Ordre", default="desc", choices=[
        choice("desc", "Décroissant"), choice("asc", "Croissant")], validators=[AnyOf(ORDERS)])


class SearchForm(_GetForm):
    q = StringField("Rechercher dans mes messages", validators=[
        DataRequired("Saisissez le texte à chercher."),
        Length(max=MAX_SEARCH, message=f"{MAX_SEARCH} caractères au plus.")])


class SelectionForm(FlaskForm):
    """Actions on the messages ticked in a list (their ids come as `item` values)."""

    action = StringField("Action", validators=[AnyOf(ACTIONS, message="Action inconnue.")])
    destination = IntegerField("Déplacer vers", validators=[
        Optional(), NumberRange(1, 2**31 - 1, "Dossier inconnu.")])
    confirme = BooleanField("Confirmé")


class FolderNameForm(FlaskForm):
    name = StringField("Nom du dossier", validators=[
        DataRequired("Donnez un nom au dossier."),
        Length(max=FOLDER_NAME_MAX,
               message=f"Le nom du dossier dépasse {FOLDER_NAME_MAX} caractères.")])


class DeleteFolderForm(FlaskForm):
    deplacer = BooleanField("Déplacer ses messages et supprimer le dossier")


class ReceiptForm(FlaskForm):
    reponse = StringField("Réponse", validators=[AnyOf(("oui", "non"))])


class ComposeForm(FlaskForm):
    subject = StringField("Objet", validators=[Length(
        max=SUBJECT_MAX, message=f"L'objet dépasse {SUBJECT_MAX} caractères.")])
    body = TextAreaField("Message", validators=[Length(
        max=BODY_MAX, message=f"Le texte dépasse {BODY_MAX} caractères.")])
    files = MultipleFileField("Pièces jointes")
    receipt = BooleanField("Demander un accusé de réception")
    copy = BooleanField("Enregistrer une copie dans Messages envoyés")
