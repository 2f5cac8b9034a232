"""Answers and follow-up: a member answers from the event page or from the one-click link of
their notice; the organiser sees the table of answers, writes one on someone's behalf,
exports them as CSV, reminds those who did not answer, and moderates comments."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from agenda import comments, confirmations, notices, times
from agenda.errors import AgendaError
from agenda.models import AnswerChannel, AnswerKind, Event
from directory.db import db
from directory.enums import Profile
from directory.models import Account
from directory.search import valid_id
from mailgate import personalise
from mailgate.fanout_models import FanoutJob

from ..directory_forms import MAX_PAGE
from ..directory_pages import asked_page, page_count
from ..i18n import N_
from ..spreadsheet import csv_stream, in_chunks
from .blueprint import (
    ID,
    PortalLinks,
    bp,
    event_or_404,
    report_notice,
    saved,
    writable_event_or_404,
)
from .event_views import add_comment
from .forms import AnswerForm, CommentForm, OnBehalfForm, RemindForm
from .wording import describe

CSV_CHUNK = 2000        # readers a statement of the CSV export reads
ANSWER_LABELS = {AnswerKind.ACCEPTED: N_("Accepte"), AnswerKind.REFUSED: N_("Refuse")}


@bp.route(f"/evenement/{ID.format('event_id')}/reponse", methods=["POST"])
@login_required
def answer(event_id: int):
    event = event_or_404(event_id)
    form = AnswerForm()
    if not form.validate():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    elif saved(lambda: confirmations.answer(event, current_user, AnswerKind(form.answer.data),
                                            form.comment.data, channel=AnswerChannel.PAGE)):
        flash(_("Votre réponse est enregistrée."), "success")
    return redirect(url_for(".event", event_id=event.id))


@bp.route("/reponse/<token>", methods=["GET", "POST"])
def one_click(token: str):
    """The notice's signed link: GET shows the question, POST records the answer — a mail
    scanner that opens links changes nothing. No login needed: the link is the proof."""
    found = _answer_target(token)
    event = db.session.get(Event, found[0]) if found else None
    account = db.session.get(Account, found[1]) if found else None
    if event is None or account is None or account.suspended:   # as a suspended login
        abort(404)
    closed = confirmations.closed(event)
    if closed is not None:      # said at once, rather than after the form is filled in
        return render_template("agenda/one_click.html", event=event, account=account,
                               closed=describe(AgendaError(closed)), form=None, done=None)
    form = AnswerForm()
    current = confirmations.answer_of(event, account)
    if request.method == "POST" and form.validate():
        try:
            confirmations.answer(event, account, AnswerKind(form.answer.data), form.comment.data,
                                 channel=AnswerChannel.LINK)
            db.session.commit()
            return render_template("agenda/one_click.html", event=event, account=account,
                                   done=AnswerKind(form.answer.data), form=None)
        except AgendaError as error:
            db.session.rollback()
            flash(describe(error), "error")
    elif request.method == "GET" and current is not None:
        form.answer.data, form.comment.data = current.answer.value, current.comment
    return render_template("agenda/one_click.html", event=event, account=account, form=form,
                           done=None)


def _answer_target(token: str) -> tuple[int, int] | None:
    """(event id, account id) of a notice's link, signed for its fan-out job (what the worker
    writes in each message). The links signed for an event id alone, of the first notices,
    are not read: on SQLite a deleted event's id is given again, and such a link answered
    whichever event has it now."""
    signed = personalise.read_token(token)
    job = db.session.get(FanoutJob, signed[0]) if signed else None
    event_id = notices.event_id_of(job) if job else None
    return (event_id, signed[1]) if event_id is not None else None


@bp.route(f"/evenement/{ID.format('event_id')}/reponses")
@login_required
def answers(event_id: int):
    """One page of the table; a page past the last is not found (a huge number would
    overflow the database's OFFSET: refused before any query)."""
    event = writable_event_or_404(event_id)
    page = asked_page()
    if page > MAX_PAGE:
        abort(404)
    rows, total = confirmations.table(event, page)
    pages = page_count(total, confirmations.PAGE_SIZE)
    if page > pages:
        abort(404)
    return render_template("agenda/answers.html", event=event, rows=rows, total=total,
                           page=page, pages=pages,
                           counts=confirmations.counts(event), form=OnBehalfForm(),
                           remind_form=RemindForm(formdata=None, cle=uuid.uuid4().hex),
                           AnswerKind=AnswerKind)


@bp.route(f"/evenement/{ID.format('event_id')}/reponses", methods=["POST"])
@login_required
def answer_on_behalf(event_id: int):
    event = writable_event_or_404(event_id)
    form = OnBehalfForm()
    account = db.session.get(Account, form.account.data) \
        if form.validate() and valid_id(form.account.data) else None
    if account is None:
        abort(400)
    if saved(lambda: confirmations.answer(event, account, AnswerKind(form.answer.data),
                                          form.comment.data, channel=AnswerChannel.ORGANISER,
                                          recorded_by=current_user)):
        flash(_("Réponse de %(name)s enregistrée.", name=account.full_name), "success")
    return redirect(url_for(".answers", event_id=event.id, page=request.args.get("page", 1)))


@bp.route(f"/evenement/{ID.format('event_id')}/reponses.csv")
@login_required
def answers_csv(event_id: int):
    """Every reader and their answer, as a CSV file that a spreadsheet opens as is; times in
    Paris time. Written while read, a chunk at a time in name order (`spreadsheet.in_chunks`):
    a statement per CSV_CHUNK readers, the file never whole in memory."""
    event = writable_event_or_404(event_id)
    header = [_("Nom"), _("Prénom"), _("Profil"), _("Réponse"), _("Commentaire"),
              _("Date de la réponse")]
    answers = {kind: _(label) for kind, label in ANSWER_LABELS.items()}
    answers[None] = _("Sans réponse")
    profiles = {profile: _(profile.label) for profile in Profile}
    chunks = in_chunks(confirmations.export_query(event), (Account.search_name, Account.id),
                       CSV_CHUNK)
    return csv_stream(header, ([[row.last_name, row.first_name, profiles[row.profile],
                                 answers[row.answer], row.comment or "",
                                 f"{times.to_local(row.answered_at):%d/%m/%Y %H:%M}"
                                 if row.answered_at else ""] for row in chunk]
                               for chunk in chunks), f"reponses-{event.id}.csv")


@bp.route(f"/evenement/{ID.format('event_id')}/relancer", methods=["POST"])
@login_required
def remind(event_id: int):
    event = writable_event_or_404(event_id)
    form = RemindForm()
    if not form.validate_on_submit():
        abort(400)
    report = saved(lambda: notices.remind(current_user, event, PortalLinks(),
                                          key=form.cle.data))
    report_notice(report)
    return redirect(url_for(".answers", event_id=event.id))


@bp.route(f"/evenement/{ID.format('event_id')}/commentaires", methods=["POST"])
@login_required
def comment(event_id: int):
    event = event_or_404(event_id)
    form = CommentForm()
    if not form.validate():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    else:
        added = saved(lambda: add_comment(event, form))
        if added is not None:
            flash(_("Votre commentaire attend l'accord de l'organisateur.")
                  if added.state.value == "pending" else _("Commentaire publié."), "success")
    return redirect(url_for(".event", event_id=event.id))


@bp.route(f"/evenement/{ID.format('event_id')}/commentaires/{ID.format('comment_id')}",
          methods=["POST"])
@login_required
def moderate(event_id: int, comment_id: int):
    event = writable_event_or_404(event_id)
    approve = request.form.get("decision") == "approve"
    if saved(lambda: comments.moderate(event, comment_id, approve)) is None:
        abort(404)
    flash(_("Commentaire publié.") if approve else _("Commentaire refusé."), "success")
    return redirect(url_for(".event", event_id=event.id))
