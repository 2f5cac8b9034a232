"""Forms of the address book. Every POST form carries its CSRF token (FlaskForm)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from .importing import CATEGORIES, NEW_GROUP
from .models import NAME_MAX

MAX_VCF_BYTES = 5 * 1024 * 1024
DEFAULT_IMPORT_GROUP = "Contacts importés"


class GroupNameForm(FlaskForm):
    name = StringField("Nom du groupe", validators=[
        DataRequired("Donnez un nom au groupe."),
        Length(max=NAME_MAX, message=f"Le nom du groupe dépasse {NAME_MAX} caractères.")])


class ImportForm(FlaskForm):
    file = FileField("Fichier vCard (.vcf)", validators=[FileRequired("Choisissez un fichier "
                                                                     ".vcf.")])
    target = SelectField("Ranger les contacts reconnus", default=CATEGORIES, choices=[])
    new_name = StringField("Nom du nouveau groupe", default=DEFAULT_IMPORT_GROUP, validators=[
        Length(max=NAME_MAX, message=f"Le nom du groupe dépasse {NAME_MAX} caractères.")])

    def fill_targets(self, groups) -> None:
        self.target.choices = [
            (CATEGORIES, "Dans les groupes nommés par les catégories des fiches"),
            (NEW_GROUP, "Dans un nouveau groupe"),
        ] + [(str(g.id), f"Dans mon groupe « {g.name} »") for g in groups]

    def read_file(self) -> bytes | None:
        """The uploaded bytes, or None (with the error on the field) when over the limit."""
        data = self.file.data.stream.read(MAX_VCF_BYTES + 1)
        if len(data) > MAX_VCF_BYTES:
            self.file.errors.append(f"Le fichier dépasse {MAX_VCF_BYTES // (1024 * 1024)} Mo, "
                                    "la taille maximale d'un import.")
            return None
        return data


class ConfirmImportForm(FlaskForm):
    plan = HiddenField(validators=[DataRequired("Confirmation incomplète.")])
