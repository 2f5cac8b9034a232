"""Month, week and list views of a group's agenda, and "Mon agenda" (every agenda one reads).
Dates are local (Europe/Paris); `?mois=AAAA-MM`, `?jour=AAAA-MM-JJ` choose the page."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template, request
from flask_login import current_user, login_required

from agenda import access, resources, schedule, times
from directory.clock import utcnow

from . import grid
from .blueprint import agenda_or_404, bp, space_route


@bp.route("/")
@login_required
def index():
    """Mon agenda: the month of every agenda one reads."""
    return _month(None)


@bp.route("/semaine")
@login_required
def my_week():
    return _week(None)


@space_route("/")
@login_required
def group_month(group_id: int | None = None, rubric_id: int | None = None):
    return _month(agenda_or_404(group_id, rubric_id))


@space_route("/semaine")
@login_required
def group_week(group_id: int | None = None, rubric_id: int | None = None):
    return _week(agenda_or_404(group_id, rubric_id))


@space_route("/liste")
@login_required
def group_list(group_id: int | None = None, rubric_id: int | None = None):
    agenda = agenda_or_404(group_id, rubric_id)
    now = utcnow()
    found = schedule.occurrences(current_user, now, now + timedelta(days=365), [agenda])
    return render_template("agenda/list.html", **_context(agenda), occurrences=found[:200])


def _context(agenda) -> dict:
    return {"agenda": agenda,
            "may_write": agenda is not None and access.may_write(current_user, agenda),
            "groups": access.readable_groups(current_user) if agenda is None else [],
            "rubrics": access.readable_rubrics(current_user) if agenda is None else [],
            "writable": agenda is None and bool(access.writable_groups(current_user)
                                                or access.writable_rubrics(current_user)),
            "manages_resources": resources.may_manage(current_user)}


def _today():
    return times.local_date(utcnow())


def _month(agenda):
    first = grid.parse_month(request.args.get("mois"), _today())
    weeks = grid.month_weeks(first)
    start, end = grid.utc_bounds([weeks[0][0], weeks[-1][-1]])
    found = schedule.occurrences(current_user, start, end,
                                     [agenda] if agenda else None)
    return render_template("agenda/month.html", **_context(agenda), first=first, weeks=weeks,
                           days=grid.by_day(found, [weeks[0][0], weeks[-1][-1]]),
                           today=_today(), previous=grid.previous_month(first), following=grid.next_month(first),
                           week_endpoint="agenda.group_week" if agenda else "agenda.my_week")


def _week(agenda):
    days = grid.week_days(grid.parse_day(request.args.get("jour"), _today()))
    start, end = grid.utc_bounds(days)
    found = schedule.occurrences(current_user, start, end, [agenda] if agenda else None)
    return render_template("agenda/week.html", **_context(agenda), week=days,
                           days=grid.by_day(found, days), today=_today(),
                           previous=days[0] - timedelta(days=7),
                           following=days[0] + timedelta(days=7))
