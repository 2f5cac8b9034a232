"""The automated communications of a school or a group, for those who manage it: the list
(active ones in black, inactive ones greyed), create, edit, deactivate, reactivate, "Envoyer
un essai à moi-même", and the history of each (every occurrence, every recipient's
outcome). The rules live in mailgate/automations/; these views only read forms and words."""
from __future__ import annotations

import uuid
from datetime import datetime, time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from directory.audience import DEFAULT_DAYS, Audience, TriggerKind
from directory.clock import local_time
from directory.db import db
from directory.enums import Profile
from directory.models import Group, School
from mailgate.automations import communications, merge, scheduler
from mailgate.automations.communications import CommunicationError, Draft
from mailgate.automations.models import Communication, Kind, Repeat
from mailgate.automations.schedule import to_utc
from mailgate.automations.scheduler import TrialTo

from ..directory_forms import choice
from ..i18n import N_, day_at_time
from .blueprint import (
    ID,
    bp,
    group_space,
    portal_url,
    problem_text,
    school_space,
    space_communication,
    space_url,
)
from .forms import KINDS, REPEATS, WEEKDAYS, AutomatedForm, ButtonForm
from .write_views import _history, describe, group_choices, history_csv


@bp.route(f"/etablissements/{ID.format('school_id')}")
def school_list(school_id: int):
    school = school_space(school_id)
    return _list(school.name, communications.of_space(school.id, None),
                 url_for(".school_new", school_id=school.id))


@bp.route(f"/groupes/{ID.format('group_id')}")
def group_list(group_id: int):
    group = group_space(group_id)
    return _list(group.name, communications.of_space(group.school_id, group.id),
                 url_for(".group_new", group_id=group.id))


def _list(space_name: str, found: list[communications.Listed], new_url: str):
    return render_template("communications/automated_list.html", space_name=space_name,
                           communications=found, new_url=new_url, rule=rule_of,
                           kind=lambda c: str(KINDS[c.kind]), button=ButtonForm(),
                           local_time=local_time)


def rule_of(communication: Communication) -> str:
    """The rule in words: "Tous les jours à 08:00 · jamais connectés 7, 15 jours après…"."""
    if communication.repeat == Repeat.ONCE:
        when = gettext("Le %(when)s", when=day_at_time(communication.send_at)) \
            if communication.send_at else gettext("Une fois")
    elif communication.repeat == Repeat.WEEKLY:
        when = gettext("Chaque %(day)s à %(time)s", day=str(
            WEEKDAYS[communication.weekday or 0]), time=communication.at_time)
    else:
        when = gettext("Tous les jours à %(time)s", time=communication.at_time)
    if communication.trigger == TriggerKind.NONE:
        return when
    days = ", ".join(str(n) for n in communication.steps)
    return f"{when} · {gettext(RULES[communication.trigger], days=days)}"


#: a trigger with its days, after its time: « Tous les jours à 08:00 · inactifs depuis 30
#: jours » (the form's TRIGGERS say « N jours », the days being asked beside); the masculine
#: generic, as the audience's filters say it (write_views.describe, the admin's lists)
RULES = {
    TriggerKind.NEVER_LOGGED_IN: N_("jamais connectés %(days)s jours après la création du "
                                    "compte ou l'arrivée dans le groupe"),
    TriggerKind.INACTIVE: N_("inactifs depuis %(days)s jours"),
    TriggerKind.ACCESS_ENDS: N_("dont l'accès se termine dans %(days)s jours"),
}


@bp.route(f"/etablissements/{ID.format('school_id')}/nouvelle", methods=["GET", "POST"])
def school_new(school_id: int):
    school = school_space(school_id)
    return _edit(None, school.id, None, school.name)


@bp.route(f"/groupes/{ID.format('group_id')}/nouvelle", methods=["GET", "POST"])
def group_new(group_id: int):
    group = group_space(group_id)
    return _edit(None, group.school_id, group.id, group.name)


@bp.route(f"/automatisees/{ID.format('communication_id')}/modifier", methods=["GET", "POST"])
def automated_edit(communication_id: int):
    shown = space_communication(communication_id)
    space = db.session.get(Group, shown.group_id) if shown.group_id \
        else db.session.get(School, shown.school_id)
    return _edit(shown, shown.school_id, shown.group_id, space.name)


def _edit(shown: Communication | None, school_id: int, group_id: int | None,
          space_name: str):
    form = _form(shown)
    if group_id:
        form.groupes.choices = [choice(g, n) for g, n in group_choices([school_id])
                                if g == group_id]
    else:
        form.groupes.choices = [choice(g, n) for g, n in group_choices([school_id])]
    if request.method == "POST" and shown is None:
        first = communications.by_key(current_user, form.cle.data)
        if first is not None:       # saved twice (a double click): the first one stands
            flash(gettext("Cette communication est déjà enregistrée : la voici."), "info")
            return redirect(url_for(".automated", communication_id=first.id), code=303)
    if form.validate_on_submit():
        saved = _save(form, shown, school_id, group_id, space_name)
        if saved is not None:
            return redirect(url_for(".automated", communication_id=saved.id), code=303)
    return render_template("communications/automated_form.html", form=form, shown=shown,
                           space_name=space_name, fields=merge.SHOWN,
                           defaults={t.value: ",".join(map(str, d))
                                     for t, d in DEFAULT_DAYS.items()}), \
        400 if form.errors else 200


def _form(shown: Communication | None) -> AutomatedForm:
    if request.method == "POST":
        return AutomatedForm()
    if shown is None:
        return AutomatedForm(formdata=None, cle=uuid.uuid4().hex, genre=Kind.REMINDER.value,
                             repetition=Repeat.DAILY.value,
                             heure=time(8, 0), jours="7,15",
                             regle=TriggerKind.NEVER_LOGGED_IN.value,
                             texte=gettext("Bonjour {prénom},\n\nVotre compte vous attend : "
                                           "{lien_portail}\nVotre identifiant : "
                                           "{identifiant}"))
    saved = shown.chosen
    send_at = local_time(shown.send_at) if shown.send_at else None
    hours, _, minutes = shown.at_time.partition(":")
    return AutomatedForm(formdata=None, nom=shown.name, genre=shown.kind.value,
                         groupes=list(saved.group_ids),
                         profils=[p.value for p in saved.profiles], regle=shown.trigger.value,
                         jours=shown.days, repetition=shown.repeat.value,
                         date=send_at.date() if send_at else None,
                         heure=send_at.time() if send_at else time(int(hours), int(minutes)),
                         jour_semaine=shown.weekday or 0, objet=shown.subject,
                         texte=shown.body)


def _save(form: AutomatedForm, shown: Communication | None, school_id: int,
          group_id: int | None, space_name: str) -> Communication | None:
    repeat, trigger = Repeat(form.repetition.data), TriggerKind(form.regle.data)
    at = form.heure.data or time(8, 0)
    send_at = None
    if repeat == Repeat.ONCE:
        if form.date.data is None:
            form.date.errors = [gettext("Choisissez la date de l'envoi.")]
            return None
        send_at = to_utc(datetime.combine(form.date.data, at))
    groups = tuple(form.groupes.data or ()) or ((group_id,) if group_id else ())
    audience = Audience(school_ids=(school_id,), group_ids=groups,
                        profiles=tuple(Profile(p) for p in form.profils.data or ()))
    # a POST without the field (a script): the default days
    days = (form.jours.data or "").replace(" ", "") if trigger != TriggerKind.NONE else ""
    if trigger != TriggerKind.NONE and not days:
        days = ",".join(map(str, DEFAULT_DAYS[trigger]))
    # the recipients read it in the To: of the message: the space by its name
    label = describe(audience, dict(group_choices([school_id]))) \
        if groups or audience.profiles else \
        gettext("Tous les membres de %(space)s", space=space_name)
    plan = Draft(name=form.nom.data, subject=form.objet.data, body=form.texte.data,
                 audience=audience, audience_label=label, to_label=label,
                 kind=Kind(form.genre.data), repeat=repeat, send_at=send_at,
                 at_time=at.strftime("%H:%M"), weekday=form.jour_semaine.data,
                 trigger=trigger, days=days)
    try:
        if shown is None:
            shown = communications.create(current_user, plan, school_id=school_id,
                                          group_id=group_id, portal_url=portal_url(),
                                          idempotency_key=form.cle.data or None)
        else:
            communications.update(current_user, shown, plan)
    except CommunicationError as error:
        db.session.rollback()
        form.form_errors.append(problem_text(error))
        return None
    db.session.commit()
    flash(gettext("Communication « %(name)s » enregistrée.", name=shown.name), "success")
    return shown


@bp.route(f"/automatisees/{ID.format('communication_id')}")
def automated(communication_id: int):
    shown = space_communication(communication_id)
    return _history(shown, "communications/automated.html", rule=rule_of(shown),
                    listed=communications.listed(shown),
                    back=space_url(shown), kind=str(KINDS[shown.kind]),
                    repeats=REPEATS, csv_endpoint=".automated_csv")


@bp.route(f"/automatisees/{ID.format('communication_id')}/envois/"
          f"{ID.format('run_id')}.csv")
def automated_csv(communication_id: int, run_id: int):
    return history_csv(space_communication(communication_id), run_id)


@bp.route(f"/automatisees/{ID.format('communication_id')}/"
          "<any(desactiver, reactiver, essai):action>", methods=["POST"])
def automated_action(communication_id: int, action: str):
    shown = space_communication(communication_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    category = "success"
    if action == "desactiver":
        stopped = communications.deactivate(shown)
        message = gettext("« %(name)s » est désactivée.", name=shown.name)
        if stopped:
            message += " " + ngettext(
                "Son envoi en cours est arrêté : %(num)d personne ne la recevra pas.",
                "Son envoi en cours est arrêté : %(num)d personnes ne la recevront pas.",
                stopped)
    elif action == "reactiver":
        message = gettext("« %(name)s » est de nouveau active.", name=shown.name) \
            if communications.reactivate(shown) else \
            gettext("« %(name)s » était déjà active.", name=shown.name)
    else:
        destination = scheduler.trial_destination(current_user)
        scheduler.send_trial(shown, current_user)   # its history says what became of it
        if destination == TrialTo.NOWHERE:      # routing refuses it, and warns nobody
            message, category = gettext(
                "Vous n'avez pas d'adresse de redirection vérifiée : l'essai ne peut pas vous "
                "parvenir. Indiquez-en une dans Préférences."), "warning"
        else:
            message = gettext("Un essai part vers votre messagerie.") \
                if destination == TrialTo.INBOX else \
                gettext("Un essai part vers votre adresse de redirection.")
    db.session.commit()
    flash(message, category)
    target = request.form.get("retour") == "liste"
    return redirect(space_url(shown) if target else
                    url_for(".automated", communication_id=shown.id), code=303)
