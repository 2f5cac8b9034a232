"""iCalendar in and out: export of a group's agenda, import of a .ics file (shown first, then
applied), and the private subscription feeds (token in the URL, revocable)."""
from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, select

from agenda import access, feeds, ical, ical_read, importing
from agenda.errors import AgendaError
from agenda.models import Agenda, Event, EventStatus
from directory.clock import utcnow
from directory.db import db, write_transaction

from ..public_links import public_url_for
from .blueprint import agenda_or_404, bp, space_route
from .forms import ImportForm
from .wording import describe, fate_labels, note_labels, skip_reason

FEED_PAST = timedelta(days=366)
FEED_LIMIT = 2000


def _events(account, agendas: list[Agenda] | None) -> list[Event]:
    """The events a feed or an export carries: from a year ago on, drafts left out, their
    author's too (a calendar shows every event it gets as taking place, to whoever the file
    or the feed is shared with), at most FEED_LIMIT (recurring events count once). The cap
    keeps first the events not over yet (a series still running too), soonest first, then
    the past ones, latest first; the file lists them by start."""
    now = utcnow()
    ahead = Event.last_ends_at >= now
    query = (select(Event).join(Agenda).where(Event.status != EventStatus.DRAFT,
                                              Event.last_ends_at > now - FEED_PAST)
             .order_by(case((ahead, 0), else_=1), case((ahead, Event.starts_at)),
                       Event.last_ends_at.desc(), Event.id).limit(FEED_LIMIT))
    if agendas is None:
        query = query.where(access.readable_agendas(account))
    else:
        query = query.where(Event.agenda_id.in_([a.id for a in agendas]))
    return sorted(db.session.scalars(query), key=lambda e: (e.starts_at, e.id))


def _calendar(account, agendas, name: str, filename: str) -> Response:
    data = ical.export(_events(account, agendas), name=name,
                       url_of=lambda e: public_url_for(".event", event_id=e.id))
    return Response(data, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, max-age=300"})


@space_route("/agenda.ics")
@login_required
def export_ics(group_id: int | None = None, rubric_id: int | None = None):
    agenda = agenda_or_404(group_id, rubric_id)
    return _calendar(current_user, [agenda], agenda.name, f"agenda-{agenda.key}.ics")


@space_route("/importer", methods=["GET", "POST"])
@login_required
def import_ics(group_id: int | None = None, rubric_id: int | None = None):
    agenda = agenda_or_404(group_id, rubric_id)
    if not access.may_write(current_user, agenda):
        abort(404)
    form = ImportForm()
    lines, applied = None, False
    if form.validate_on_submit():
        try:
            read = ical_read.read(form.file.data.read(ical_read.MAX_BYTES + 1))
            if form.confirm.data:   # the writer's lock, as any booking takes it
                lines = write_transaction(lambda: importing.apply(current_user, agenda, read))
                applied = True
            else:
                lines = importing.plan(agenda, read)
        except AgendaError as error:
            db.session.rollback()
            form.file.errors.append(describe(error))
    status = 400 if form.errors else 200
    return render_template("agenda/import.html", agenda=agenda, form=form, lines=lines,
                           applied=applied, fate_labels=fate_labels(),
                           note_labels=note_labels(), skip_reason=skip_reason), status



@bp.route("/abonnements", methods=["GET", "POST"], endpoint="feeds")
@login_required
def feeds_page():
    groups = access.readable_groups(current_user)
    if request.method == "POST":
        group_id = request.form.get("group", type=int)
        agenda = access.agenda_of_group(current_user, group_id) if group_id else None
        if group_id and agenda is None:
            abort(404)
        if request.form.get("action") == "revoke":
            feeds.revoke(current_user, agenda)
            db.session.commit()
            flash(_("Le lien est révoqué : les abonnements qui l'utilisaient ne reçoivent plus "
                    "rien."), "success")
            return redirect(url_for(".feeds"))
        # the account's lock taken before the transaction's first read (SQLite: write_lock)
        token = write_transaction(lambda: feeds.create(current_user, agenda))
        return _feeds_page(groups, public_url_for(".feed", token=token), agenda)
    return _feeds_page(groups, None, None)


def _feeds_page(groups, new_url, new_for):
    rows = [(None, _("Mon agenda (tous mes agendas)"))] + [(g.id, g.name) for g in groups]
    return render_template("agenda/feeds.html", rows=rows, active=_active(groups),
                           new_url=new_url, new_for=new_for)


def _active(groups) -> dict:
    """group id (None: Mon agenda) → the live token's row or None, for the page's list."""
    found = feeds.active_by_group(current_user, [g.id for g in groups])
    return {key: found.get(key) for key in [None, *(g.id for g in groups)]}


@bp.route("/flux/<token>.ics")
def feed(token: str):
    """A subscription: no login (calendar applications cannot log in), the token is the key."""
    found = feeds.resolve(token)
    if found is None:
        abort(404)
    account, agenda = found
    if agenda is not None and not access.may_read(account, agenda):
        abort(404)
    name = agenda.name if agenda else _("Mon agenda (Préau)")
    return _calendar(account, [agenda] if agenda else None, name, "agenda.ics")
