"""Forms of the address book. Every POST form carries its CSRF token (FlaskForm)."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..directory_forms import choice
from .importing import CATEGORIES, NEW_GROUP
from .models import NAME_MAX

MAX_VCF_BYTES = 5 * 1024 * 1024
# Lazy: the default group name is in the language of whoever imports.
DEFAULT_IMPORT_GROUP = _l("Contacts importés")


class GroupNameForm(FlaskForm):
    name = StringField(_l("Nom du groupe"), validators=[
        DataRequired(_l("Donnez un nom au groupe.")),
        Length(max=NAME_MAX, message=_l("Le nom du groupe dépasse %(max)d caractères."))])


class ImportForm(FlaskForm):
    file = FileField(_l("Fichier vCard (.vcf)"), validators=[
        FileRequired(_l("Choisissez un fichier .vcf."))])
    target = SelectField(_l("Ranger les contacts reconnus"), default=CATEGORIES, choices=[])
    new_name = StringField(_l("Nom du nouveau groupe"), default=DEFAULT_IMPORT_GROUP,
                           validators=[Length(max=NAME_MAX, message=_l(
                               "Le nom du groupe dépasse %(max)d caractères."))])

    def fill_targets(self, groups) -> None:
        self.target.choices = [
            choice(CATEGORIES, gettext("Dans les groupes nommés par les catégories des fiches")),
            choice(NEW_GROUP, gettext("Dans un nouveau groupe")),
        ] + [choice(str(g.id), gettext("Dans mon groupe « %(name)s »", name=g.name))
             for g in groups]

    def read_file(self) -> bytes | None:
        """The uploaded bytes, or None (with the error on the field) when over the limit."""
        data = self.file.data.stream.read(MAX_VCF_BYTES + 1)
        if len(data) > MAX_VCF_BYTES:
            self.file.errors.append(gettext(
                "Le fichier dépasse %(size)d Mo, la taille maximale d'un import.",
                size=MAX_VCF_BYTES // (1024 * 1024)))
            return None
        return data


class ConfirmImportForm(FlaskForm):
    plan = HiddenField(validators=[DataRequired(_l("Confirmation incomplète."))])
