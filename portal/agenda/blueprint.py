"""The `agenda` blueprint and what its pages share: objects loaded through a query that
checks the viewer may see them (404 otherwise), the portal's URLs handed to the notices, the
reason codes turned into a flashed message, dates shown in Paris time."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from agenda import access, itip, notices, times
from agenda.errors import AgendaError
from agenda.models import Agenda, Event
from directory.db import db, write_transaction
from mailgate.fanout_models import FanoutJob
from mailgate.local_handlers import LocalHandler, register

from ..public_links import public_url_for
from .wording import describe

bp = Blueprint("agenda", __name__, url_prefix="/agenda")
ID = "<int(max=2147483647):{}>"
SPACES = (f"/groupe/{ID.format('group_id')}", f"/rubrique/{ID.format('rubric_id')}")


def space_route(suffix: str, **options) -> Callable:
    """A page of one agenda, under the group's URL and the rubric's: one endpoint, whose
    view takes `group_id` or `rubric_id` (url_for picks the URL by the argument given,
    `Agenda.space` gives it)."""
    def decorate(view):
        for space in SPACES:
            bp.add_url_rule(space + suffix, view_func=view, **options)
        return view
    return decorate


def agenda_or_404(group_id: int | None = None, rubric_id: int | None = None) -> Agenda:
    agenda = access.agenda_of_rubric(current_user, rubric_id) if rubric_id is not None \
        else access.agenda_of_group(current_user, group_id)
    if agenda is None:
        abort(404)
    return agenda


def event_or_404(event_id: int) -> Event:
    return access.visible_event(current_user, event_id) or abort(404)


def writable_event_or_404(event_id: int) -> Event:
    return access.writable_event(current_user, event_id) or abort(404)


class PortalLinks:
    """`notices.Links` with the portal's absolute URLs."""

    def event(self, event: Event) -> str:
        return public_url_for("agenda.event", event_id=event.id)

    def answer_template(self, event: Event) -> str:
        return public_url_for("agenda.one_click", token="TOKEN").replace(
            "TOKEN", "{token}")


def saved(work: Callable[[], object]) -> object | None:
    """Run `work` in a write transaction (directory/db.py); a refusal is flashed and None
    returned, with nothing written."""
    try:
        return write_transaction(work)
    except AgendaError as error:
        flash(describe(error), "error")
        return None


def report_notice(job: FanoutJob | None) -> None:
    if job is None:
        return
    event_id = notices.event_id_of(job)
    flash(Markup(_('Les messages partent en arrière-plan vers %(num)s personnes : '
                   '<a href="%(url)s">suivre l\'envoi</a>.', num=job.total,
                   url=url_for("agenda.notice", event_id=event_id, job_id=job.id))),
          "success")


@bp.app_template_filter("format_month")
def _format_month(day) -> str:
    return format_date(day, "LLLL y")


@bp.app_template_filter("format_weekday")
def _format_weekday(day, pattern: str) -> str:
    return format_date(day, pattern)


@bp.app_template_filter("paris")
def _paris(value, pattern: str = "%d/%m/%Y %H:%M") -> str:
    return times.to_local(value).strftime(pattern) if value else ""


def install(app) -> None:
    """Wire what the agenda offers outside its pages: the gateway's answering addresses."""
    register(app, LocalHandler(itip.PREFIX, accepts=itip.event_of_tag, receive=_receive_reply))


def _receive_reply(author, event_id: int, raw: bytes) -> str | None:
    """Run by the gateway's committer, in the transaction of a batch that holds other
    messages' jobs: a refused reply undoes its own writes only (a savepoint)."""
    try:
        with db.session.begin_nested():
            itip.receive_reply(author, event_id, raw)
    except AgendaError as error:
        return describe(error)
    return None
