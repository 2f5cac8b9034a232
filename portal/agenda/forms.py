"""The agenda's forms: the event form of the seed ("Nouvel évènement"), answers, comments,
resources, import."""
from __future__ import annotations

from datetime import datetime, time

from flask_babel import lazy_gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from agenda.events import EventInput
from agenda.models import AnswerKind, FollowUp, ResourceKind
from agenda.recurrence import Repeat

from ..directory_forms import choice
from ..forms import plausible_year

FOLLOW_UP_CHOICES = (
    choice(FollowUp.OFF.value, _("Pas de suivi")),
    choice(FollowUp.MODERATED.value, _("Suivi avec modération des commentaires")),
    choice(FollowUp.OPEN.value, _("Suivi sans modération")),
)
REPEAT_CHOICES = (
    choice(Repeat.NONE.value, _("Ne se répète pas")),
    choice(Repeat.DAILY.value, _("Chaque jour")),
    choice(Repeat.WEEKLY.value, _("Chaque semaine")),
    choice(Repeat.FORTNIGHTLY.value, _("Toutes les deux semaines")),
    choice(Repeat.MONTHLY.value, _("Chaque mois")),
)
OTHER_RULE = choice(Repeat.OTHER.value, _("Règle importée (conservée telle quelle)"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EventForm(FlaskForm):
    agenda = SelectField(_("Agenda"))
    title = StringField(_("Titre"), validators=[
        DataRequired(_("Donnez un titre à l'évènement.")), Length(max=200)])
    all_day = BooleanField(_("Toute la journée"))
    start_date = DateField(_("Date de début"), validators=[
        InputRequired(_("Indiquez la date de début (jj/mm/aaaa).")), plausible_year])
    start_time = TimeField(_("Heure de début"), validators=[Optional()])
    end_date = DateField(_("Date de fin"), validators=[
        InputRequired(_("Indiquez la date de fin (jj/mm/aaaa).")), plausible_year])
    end_time = TimeField(_("Heure de fin"), validators=[Optional()])
    place = StringField(_("Lieu"), validators=[Length(max=200)])
    summary = TextAreaField(_("Résumé"), validators=[Length(max=10_000)])
    resources = MultiCheckboxField(_("Ressources réservées"), coerce=int, choices=[])
    repeat = SelectField(_("Répétition"), choices=REPEAT_CHOICES)
    until = DateField(_("Jusqu'au"), validators=[Optional(), plausible_year])
    excluded = StringField(_("Sauf les"), validators=[Length(max=2000)])
    notify = BooleanField(_("Avertir les personnes de l'espace par message"))
    read_receipt = BooleanField(_("Accusé de réception"))
    ask_confirmation = BooleanField(_("Demander une confirmation"))
    follow_up = RadioField(_("Suivi"), choices=FOLLOW_UP_CHOICES,
                           default=FollowUp.OFF.value)
    save_draft = SubmitField(_("Enregistrer en brouillon"))
    publish = SubmitField(_("Valider"))
    #: drawn when a new event's form is shown: sent twice, it makes one event
    #: (directory/form_keys.py); empty on the edit form
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])

    def validate_start_time(self, field):
        if not self.all_day.data and field.data is None:
            raise ValueError(_("Indiquez l'heure de début, ou cochez « Toute la journée »."))

    def validate_end_time(self, field):
        if not self.all_day.data and field.data is None:
            raise ValueError(_("Indiquez l'heure de fin, ou cochez « Toute la journée »."))

    def validate_excluded(self, field):
        self.excluded_days()

    def excluded_days(self):
        days = []
        for text in (field_text.strip() for field_text in (self.excluded.data or "").split(",")):
            if not text:
                continue
            try:
                days.append(datetime.strptime(text, "%d/%m/%Y").date())
            except ValueError:
                raise ValueError(_("« %(text)s » n'est pas une date jj/mm/aaaa.",
                                   text=text)) from None
        return days

    def event_input(self, publish: bool) -> EventInput:
        start_time = self.start_time.data or time()
        end_time = self.end_time.data or time()
        return EventInput(
            title=self.title.data, all_day=self.all_day.data,
            starts=datetime.combine(self.start_date.data, start_time),
            ends=datetime.combine(self.end_date.data, end_time),
            place=self.place.data or "", summary=self.summary.data or "",
            resource_ids=self.resources.data or [], notify=self.notify.data,
            read_receipt=self.read_receipt.data, ask_confirmation=self.ask_confirmation.data,
            follow_up=FollowUp(self.follow_up.data), repeat=Repeat(self.repeat.data),
            until=self.until.data, excluded=self.excluded_days(), publish=publish)


class AnswerForm(FlaskForm):
    answer = RadioField(_("Votre réponse"), choices=(
        choice(AnswerKind.ACCEPTED.value, _("Je serai présent·e")),
        choice(AnswerKind.REFUSED.value, _("Je ne serai pas présent·e"))),
        validators=[InputRequired(_("Choisissez votre réponse."))])
    comment = TextAreaField(_("Commentaire (facultatif)"), validators=[Length(max=1000)])


class OnBehalfForm(FlaskForm):
    account = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    answer = SelectField(_("Réponse"), choices=(
        choice(AnswerKind.ACCEPTED.value, _("Accepte")),
        choice(AnswerKind.REFUSED.value, _("Refuse"))))
    comment = StringField(_("Commentaire"), validators=[Length(max=1000)])


class RemindForm(FlaskForm):
    # One per page shown: a second click on « Relancer » finds the first reminder.
    cle = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])


class CommentForm(FlaskForm):
    text = TextAreaField(_("Votre commentaire"), validators=[
        DataRequired(_("Écrivez un commentaire avant de l'envoyer.")), Length(max=2000)])
    #: drawn when the event's page is shown: sent twice, the form makes one comment
    #: (directory/form_keys.py)
    cle = HiddenField(validators=[Optional(), Length(min=16, max=64)])


class ResourceForm(FlaskForm):
    school = SelectField(_("Établissement"), coerce=int)
    name = StringField(_("Nom"), validators=[
        DataRequired(_("Donnez un nom à la ressource.")), Length(max=120)])
    kind = SelectField(_("Type"), choices=(
        choice(ResourceKind.ROOM.value, _("Salle")),
        choice(ResourceKind.EQUIPMENT.value, _("Matériel"))))


class ImportForm(FlaskForm):
    file = FileField(_("Fichier iCalendar (.ics)"), validators=[
        FileRequired(_("Choisissez un fichier .ics."))])
    confirm = BooleanField(_("Importer (sinon : seulement voir ce qui serait importé)"))
