"""The `agenda` blueprint and what its pages share: objects loaded through a query that
checks the viewer may see them (404 otherwise), the portal's URLs handed to the notices, the
reason codes turned into a flashed message, dates shown in Paris time."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from agenda import access, itip, notices, times
from agenda.errors import AgendaError
from agenda.models import Agenda, Event
from directory.db import db, write_transaction
from mailgate.local_handlers import LocalHandler, register

from .wording import describe

bp = Blueprint("agenda", __name__, url_prefix="/agenda")
ID = "<int(max=2147483647):{}>"


def agenda_or_404(group_id: int) -> Agenda:
    agenda = access.agenda_of_group(current_user, group_id)
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
        return url_for("agenda.event", event_id=event.id, _external=True)

    def answer(self, event: Event, account_id: int) -> str:
        return url_for("agenda.one_click", token=itip.answer_token(event, account_id),
                       _external=True)


def saved(work: Callable[[], object]) -> object | None:
    """Run `work` in a write transaction (directory/db.py); a refusal is flashed and None
    returned, with nothing written."""
    try:
        return write_transaction(work)
    except AgendaError as error:
        flash(describe(error), "error")
        return None


def report_notice(report: notices.Report | None) -> None:
    if report is None:
        return
    flash(_("Message envoyé : %(inbox)s dans la messagerie du portail, %(forwarded)s "
            "transmis par courriel.", inbox=report.delivered, forwarded=report.forwarded),
          "success")
    if report.refused:
        names = ", ".join(r.name for r in report.refused[:10])
        more = len(report.refused) - 10
        flash(_("Non averti(s) : %(names)s%(more)s.", names=names,
                more=_(" et %(n)s autres", n=more) if more > 0 else ""), "warning")


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
    try:
        itip.receive_reply(author, event_id, raw)
    except AgendaError as error:
        db.session.rollback()
        return describe(error)
    return None
