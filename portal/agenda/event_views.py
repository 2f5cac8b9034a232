"""The event form (new, edit), the event page and cancelling an event."""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from agenda import access, comments, confirmations, events, notices, recurrence, resources, times
from agenda.errors import AgendaError, Problem
from agenda.models import Agenda, AnswerKind, Comment, Event, EventStatus
from agenda.recurrence import Repeat
from directory import form_keys
from directory.db import db
from mailgate import fanout
from mailgate.fanout_models import FanoutJob

from ..directory_forms import choice
from ..directory_pages import UNCAPPED, PageOutOfRange, asked_page, paginate
from .blueprint import (
    ID,
    PortalLinks,
    agenda_or_404,
    bp,
    event_or_404,
    report_notice,
    saved,
    space_route,
    writable_event_or_404,
)
from .forms import OTHER_RULE, AnswerForm, CommentForm, EventForm
from .wording import describe

NOTICES_SHOWN = 10      # the event page's newest notices (the organiser's)


@bp.route("/nouveau", methods=["GET", "POST"])
@space_route("/nouveau", methods=["GET", "POST"])
@login_required
def new_event(group_id: int | None = None, rubric_id: int | None = None):
    form = _form()
    if (group_id, rubric_id) != (None, None) and \
            not _offer_space(form, agenda_or_404(group_id, rubric_id)):
        return render_template("error.html", code=403, title=_("Accès refusé"),
                               text=_("Vous n'écrivez pas dans cet agenda.")), 403
    if not form.agenda.choices:
        return render_template("error.html", code=403, title=_("Accès refusé"),
                               text=_("Vous n'écrivez dans aucun agenda.")), 403
    if request.method == "GET":
        form.cle.data = uuid.uuid4().hex    # the form sent twice makes one event
        if group_id is not None:
            form.agenda.data = str(group_id)
        elif rubric_id is not None:
            form.agenda.data = f"r{rubric_id}"
    elif form.validate():
        event = _save(form, None)
        if event is not None:
            return redirect(url_for(".event", event_id=event.id))
    return render_template("agenda/form.html", form=form, event=None), \
        400 if request.method == "POST" else 200


@bp.route(f"/evenement/{ID.format('event_id')}/modifier", methods=["GET", "POST"])
@login_required
def edit_event(event_id: int):
    """A cancelled event is not edited: saving it would publish it again, unannounced."""
    event = writable_event_or_404(event_id)
    if event.status == EventStatus.CANCELLED:
        flash(_("Cet évènement est annulé : il ne peut plus être modifié."), "error")
        return redirect(url_for(".event", event_id=event.id))
    form = _form(event)
    if request.method == "GET":
        _fill(form, event)
    elif form.validate():
        if _save(form, event) is not None:
            return redirect(url_for(".event", event_id=event.id))
    return render_template("agenda/form.html", form=form, event=event), \
        400 if request.method == "POST" else 200


@bp.route(f"/evenement/{ID.format('event_id')}")
@login_required
def event(event_id: int):
    """The event, with a page of its comments: the newest (`?page=2`: the ones before)."""
    event = event_or_404(event_id)
    organiser = access.may_write(current_user, event.agenda)
    mine = confirmations.row_of(event, current_user)
    given = mine.answer or mine.former      # one given for the former dates, to confirm
    answer_form = AnswerForm(answer=given.answer.value if given else None,
                             comment=given.comment if given else "")
    invited = event.ask_confirmation and confirmations.is_invited(event, current_user.id)
    try:
        shown = paginate(comments.shown(event, current_user, moderator=organiser),
                         asked_page(), comments.PAGE_SIZE, cap=UNCAPPED,
                         id_column=Comment.id)
    except PageOutOfRange:
        abort(404)
    return render_template(
        "agenda/event.html", event=event, organiser=organiser, mine=mine,
        answer_form=answer_form, invited=invited, comment_form=CommentForm(formdata=None, cle=uuid.uuid4().hex),
        comments=shown,
        counts=confirmations.counts(event) if organiser and event.ask_confirmation else None,
        sent=_notices_sent(event) if organiser else [],
        upcoming=recurrence.between(event, event.starts_at, event.last_ends_at)[:20]
        if event.rrule else [], AnswerKind=AnswerKind, one_second=timedelta(seconds=1))


def _notices_sent(event: Event) -> list[tuple[FanoutJob, fanout.Progress]]:
    """The newest NOTICES_SHOWN notices of the event with their figures: two statements
    however many were sent (the jobs, then their recipients counted together)."""
    jobs = fanout.jobs_of(notices.origin(event), NOTICES_SHOWN)
    figures = fanout.progress_of(jobs)
    return [(job, figures[job.id]) for job in jobs]


def add_comment(event: Event, form: CommentForm) -> Comment:
    """The comment, in the caller's write transaction; the form sent again (a double click on
    « Commenter », two at once) gives the comment its first sending made instead of a second
    one (directory/form_keys.py)."""
    key = form_keys.key(form.cle.data, [event.id, form.text.data]) if form.cle.data else None
    if key is not None:
        first = form_keys.already_made(current_user.id, key, Comment)
        if first is not None:
            return first
    added = comments.add(event, current_user, form.text.data)
    if key is not None:
        db.session.flush()      # its id
        form_keys.made(current_user.id, key, added.id)
    return added


@bp.app_template_filter("repetition")
def repeat_label(event: Event) -> str:
    """How `event` repeats and the dates it skips, in the reader's language, in the words of
    its notices (agenda/notices.py): on the event page and the one-click answer page."""
    words = notices.repetition(event, _)
    if not event.exceptions:
        return words
    days = ", ".join(f"{times.local_date(e.starts_at):%d/%m/%Y}" for e in event.exceptions)
    return words + " — " + _("sauf le %(days)s", days=days)


@bp.route(f"/evenement/{ID.format('event_id')}/annuler", methods=["GET", "POST"])
@login_required
def cancel_event(event_id: int):
    event = writable_event_or_404(event_id)
    if request.method == "GET":
        return render_template("agenda/cancel.html", event=event)
    seen_draft = event.status == EventStatus.DRAFT
    space = event.agenda.space

    def work():
        """What events.cancel did, read in its transaction (it locks and re-reads the event):
        the page's « draft or published » may be out of date (published meanwhile in another
        tab, cancelled or deleted by a click before)."""
        change = events.cancel(event)
        if change == events.Change.CANCELLED:
            return change, notices.after_save(current_user, event, change, PortalLinks())
        return ("deleted" if event in db.session.deleted else change), None

    result = saved(work)
    if result is None:      # refused: its words are flashed
        return redirect(url_for(".event", event_id=event_id))
    done, report = result
    if done == "deleted":
        flash(_("Le brouillon est supprimé."), "success")
    elif done == events.Change.CANCELLED:
        flash(_("Ce brouillon venait d'être publié : l'évènement est annulé.") if seen_draft
              else _("L'évènement est annulé."), "success")
        report_notice(report)
    else:                   # already cancelled, or a draft already deleted: nothing done
        flash(describe(AgendaError(Problem.CANCELLED_MEANWHILE)), "error")
    return redirect(url_for(".group_month", **space))


def _form(event: Event | None = None) -> EventForm:
    form = EventForm()
    if event is not None:
        form.agenda.choices = [choice(event.agenda.key, event.agenda.name)]
        schools = {event.agenda.school_id}
    else:
        groups = access.writable_groups(current_user)
        rubrics = access.writable_rubrics(current_user)
        form.agenda.choices = [choice(str(g.id), _group_label(g)) for g in groups]
        form.agenda.choices += [choice(f"r{r.id}", _rubric_label(r)) for r in rubrics]
        schools = {g.school_id for g in groups} | {r.school_id for r in rubrics}
    form.resources.choices = [choice(r.id, r.name) for r in resources.of_schools(schools)]
    if event is not None:       # one archived since it was booked stays offered, and chosen
        form.resources.choices += [choice(r.id, _("%(name)s (archivée)", name=r.name))
                                   for r in event.resources if not r.active]
    if event is not None and event.rrule and recurrence.repeat_of(event.rrule)[0] == Repeat.OTHER:
        form.repeat.choices = [*form.repeat.choices, OTHER_RULE]
    return form


def _offer_space(form: EventForm, agenda: Agenda) -> bool:
    """The agenda of the page the form was opened from (its group's or rubric's) among the
    form's choices: the writer's own spaces, to which an administrator's agenda of another
    school is added (she writes in every agenda, but lists only her own). False where the
    writer may not add events to that agenda."""
    if not access.may_write(current_user, agenda):
        return False
    key = agenda.key
    if all(offered.value != key for offered in form.agenda.choices):
        label = _rubric_label(agenda.rubric) if agenda.rubric_id is not None \
            else _group_label(agenda.group)
        form.agenda.choices = [*form.agenda.choices, choice(key, label)]
    return True


def _group_label(group) -> str:
    return f"{group.name} ({group.school.name})"


def _rubric_label(rubric) -> str:
    return _("Rubrique %(name)s (%(space)s)", name=rubric.name, space=_space_name(rubric))


def _space_name(rubric) -> str:
    return rubric.group.name if rubric.group else rubric.school.name


def _fill(form: EventForm, event: Event) -> None:
    form.agenda.data = event.agenda.key
    form.title.data, form.place.data, form.summary.data = event.title, event.place, event.summary
    form.all_day.data = event.all_day
    starts, ends = times.to_local(event.starts_at), times.to_local(event.ends_at)
    if event.all_day:
        ends = times.to_local(event.ends_at - timedelta(seconds=1))
    form.start_date.data, form.start_time.data = starts.date(), starts.time()
    form.end_date.data, form.end_time.data = ends.date(), ends.time()
    form.resources.data = [r.id for r in event.resources]
    repeat, until = recurrence.repeat_of(event.rrule)
    form.repeat.data, form.until.data = repeat.value, until
    form.excluded.data = ", ".join(f"{times.local_date(e.starts_at):%d/%m/%Y}"
                                   for e in event.exceptions)
    form.notify.data, form.read_receipt.data = event.notify, event.read_receipt
    form.ask_confirmation.data = event.ask_confirmation
    form.follow_up.data = event.follow_up.value


def _save(form: EventForm, event: Event | None) -> Event | None:
    """Save (and send the notices) in one transaction; the refusal flashed on failure."""
    publish = bool(form.publish.data)
    agenda = access.agenda_of_key(current_user, form.agenda.data) if event is None \
        else event.agenda
    if agenda is None or not access.may_write(current_user, agenda):
        form.agenda.errors.append(_("Choisissez un agenda où vous pouvez écrire."))
        return None
    if event is not None and not event.is_draft and not publish:
        # events.save publishes a published event's change and tells everyone: « Enregistrer
        # en brouillon » would do just that under the opposite name.
        form.form_errors.append(_("Un évènement publié ne redevient pas un brouillon : rien "
                                  "n'a été enregistré. Cliquez sur « Valider » pour "
                                  "enregistrer et publier la modification."))
        return None
    data = form.event_input(publish)
    # A new event's form sent again (a double click on « Valider », two at once) finds the
    # event its first sending made, and sends no second notice.
    key = form_keys.key(form.cle.data, sorted(form.data.items())) \
        if event is None and form.cle.data else None

    def work():
        if key is not None:
            first = form_keys.already_made(current_user.id, key, Event)
            if first is not None:
                return first, None
        saved_event, change = events.save(current_user, agenda, data, event)
        if key is not None:
            form_keys.made(current_user.id, key, saved_event.id)
        return saved_event, notices.after_save(current_user, saved_event, change, PortalLinks())

    result = saved(work)
    if result is None:
        return None
    saved_event, report = result
    flash(_("Brouillon enregistré : vous seul le voyez.") if saved_event.is_draft
          else _("L'évènement « %(title)s » est enregistré.", title=saved_event.title),
          "success")
    report_notice(report)
    return saved_event
