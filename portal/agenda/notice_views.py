"""The organiser's view of an event's notices: each one is a background fan-out
(agenda/notices.py), with its progress bar and then its report (who read it in the portal,
who got it forwarded with the invitation, who could not be reached and why), as a CSV too."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import login_required

from agenda import notices
from directory.db import db
from mailgate.fanout_models import FanoutJob

from .. import fanout_pages
from ..directory_pages import asked_page
from .blueprint import ID, bp, writable_event_or_404

NOTICE = f"/evenement/{ID.format('event_id')}/avis/{ID.format('job_id')}"


def _notice(event_id: int, job_id: int):
    """The event (its organisers only) and one of its notices; anything else: 404."""
    event = writable_event_or_404(event_id)
    job = db.session.get(FanoutJob, job_id)
    if job is None or job.origin != notices.origin(event):
        abort(404)
    return event, job


@bp.route(NOTICE)
@login_required
def notice(event_id: int, job_id: int):
    event, job = _notice(event_id, job_id)
    return render_template("agenda/notice.html", event=event,
                           **fanout_pages.report(job, asked_page()))


@bp.route(NOTICE + "/etat")
@login_required
def notice_state(event_id: int, job_id: int):
    return fanout_pages.state(_notice(event_id, job_id)[1])


@bp.route(NOTICE + "/rapport.csv")
@login_required
def notice_csv(event_id: int, job_id: int):
    _, job = _notice(event_id, job_id)
    return fanout_pages.report_csv(job, f"avis-{event_id}-{job.id}.csv")
