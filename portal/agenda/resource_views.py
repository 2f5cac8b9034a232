"""Rooms and equipment of the schools one manages (staff, administrators)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from agenda import resources
from agenda.models import ResourceKind
from directory.db import db

from ..directory_forms import choice
from .blueprint import ID, bp, saved
from .forms import ResourceForm


@bp.route("/ressources", methods=["GET", "POST"], endpoint="resources")
@login_required
def resources_page():
    schools = resources.managed_schools(current_user)
    if not schools:
        abort(404)
    form = ResourceForm()
    form.school.choices = [choice(s.id, f"{s.name} ({s.uai})") for s in schools]
    if form.validate_on_submit():
        made = saved(lambda: resources.create(current_user, form.school.data, form.name.data,
                                              ResourceKind(form.kind.data)))
        if made is not None:
            flash(_("La ressource « %(name)s » est créée.", name=made.name), "success")
            return redirect(url_for(".resources"))
    listed = resources.of_schools([s.id for s in schools], active_only=False)
    return render_template("agenda/resources.html", form=form, resources=listed,
                           schools={s.id: s for s in schools}), 400 if form.errors else 200


@bp.route(f"/ressources/{ID.format('resource_id')}/archiver", methods=["POST"])
@login_required
def archive_resource(resource_id: int):
    """The form says the state wanted (`active`: 0 archives, 1 makes bookable again): a
    double click, or a second manager's stale page, asks the same again and changes nothing,
    where a toggle undid the first click."""
    resource = resources.managed_resource(current_user, resource_id) or abort(404)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        abort(400)
    resource.active = wanted == "1"
    db.session.commit()
    flash(_("« %(name)s » n'est plus réservable.", name=resource.name) if not resource.active
          else _("« %(name)s » est de nouveau réservable.", name=resource.name), "success")
    return redirect(url_for(".resources"))
