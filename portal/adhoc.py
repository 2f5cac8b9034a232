"""Ad hoc groups' life cycle: create, edit, add members one by one or the whole list of a
search, remove members, name managers, delete after confirmation. Every group is loaded
through `managed_group`, so someone who does not manage it gets 404, forged POST included."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from directory import groups
from directory.db import db
from directory.errors import InvalidInput
from directory.models import Account, GroupMember

from .annuaire import fill_choices
from .directory_forms import (
    AdHocGroupForm,
    ConfirmForm,
    ManagerForm,
    MemberForm,
    PeopleSearchForm,
    choice,
)

bp = Blueprint("adhoc", __name__, url_prefix="/groupes")
GROUP_ID = "<int(max=2147483647):group_id>"


@bp.before_request
@login_required
def _logged_in():
    return None


def _group(group_id: int):
    return groups.managed_group(current_user, group_id) or abort(404)


def _back(group) -> str:
    return url_for("groupes.members", group_id=group.id)


@bp.route("/nouveau", methods=["GET", "POST"])
def create():
    if not groups.can_manage_groups(current_user):
        abort(403)
    form = AdHocGroupForm()
    form.school.choices = [choice(s.id, f"{s.name} ({s.uai})")
                           for s in groups.school_choices(current_user)]
    if form.validate_on_submit():
        try:
            group = groups.create_group(
                current_user, name=form.name.data, description=form.description.data,
                school_id=form.school.data, persistent=form.persistent.data,
                co_managers=_co_managers(form.co_managers.data))
            db.session.commit()
        except InvalidInput as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash(gettext("Le groupe « %(name)s » est créé.", name=group.name), "success")
            return redirect(_back(group))
    return render_template("groupes/form.html", form=form, group=None), \
        400 if form.errors or form.form_errors else 200


def _co_managers(text: str) -> list[Account]:
    """Accounts named by universal address (with or without the domain) or login."""
    names = [n.split("@")[0].lower() for n in re.split(r"[\s,;]+", text or "") if n]
    if not names:
        return []
    found = list(db.session.scalars(select(Account).where(
        or_(func.lower(Account.address).in_(names), func.lower(Account.login).in_(names)))))
    known = {a.address.lower() for a in found} | {a.login.lower() for a in found}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(gettext("Aucun compte ne correspond à : %(names)s.",
                                   names=", ".join(unknown)))
    return found


@bp.route(f"/{GROUP_ID}/modifier", methods=["GET", "POST"])
def edit(group_id: int):
    group = _group(group_id)
    form = AdHocGroupForm(obj=group if request.method == "GET" else None)
    if request.method == "GET":
        form.school.data = group.school_id
    choices = groups.school_choices(current_user)
    if group.school not in choices:
        choices.append(group.school)
    form.school.choices = [choice(s.id, f"{s.name} ({s.uai})") for s in choices]
    if form.validate_on_submit():
        try:
            groups.update_group(current_user, group, name=form.name.data,
                                description=form.description.data, school_id=form.school.data,
                                persistent=form.persistent.data)
            db.session.commit()
        except InvalidInput as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash(gettext("Le groupe « %(name)s » est modifié.", name=group.name), "success")
            return redirect(_back(group))
    return render_template("groupes/form.html", form=form, group=group), \
        400 if form.errors or form.form_errors else 200


@bp.route(f"/{GROUP_ID}/membres/ajouter", methods=["POST"])
def add_member(group_id: int):
    group = _group(group_id)
    form = MemberForm()
    if not form.validate():
        abort(400)
    return _apply(group, lambda: gettext(
        "%(name)s est membre du groupe.",
        name=groups.add_member(current_user, group, form.account.data).full_name))


@bp.route(f"/{GROUP_ID}/membres/ajouter-la-liste", methods=["POST"])
def add_list(group_id: int):
    group = _group(group_id)
    form = PeopleSearchForm(formdata=request.form)
    group_visible = fill_choices(form, current_user)
    if not (form.validate() and group_visible):
        abort(400)
    return _apply(group, lambda: gettext(
        "%(count)d personne(s) ajoutée(s) au groupe.",
        count=groups.add_search_results(current_user, group, form.filters())))


@bp.route(f"/{GROUP_ID}/membres/retirer", methods=["POST"])
def remove_member(group_id: int):
    group = _group(group_id)
    form = MemberForm()
    if not form.validate():
        abort(400)

    def remove():
        groups.remove_member(group, form.account.data)
        name = db.session.get(Account, form.account.data).full_name
        return gettext("%(name)s ne fait plus partie du groupe.", name=name)

    return _apply(group, remove)


@bp.route(f"/{GROUP_ID}/gestionnaires", methods=["POST"])
def set_manager(group_id: int):
    group = _group(group_id)
    form = ManagerForm()
    if not form.validate():
        abort(400)

    def change():
        groups.set_manager(current_user, group, form.account.data, form.manager.data == "oui")
        return gettext("Les gestionnaires du groupe sont mis à jour.")

    return _apply(group, change)


def _apply(group, action):
    """Run a change; on a refusal nothing is kept and the reason is shown on the group page."""
    try:
        message = action()
        db.session.commit()
        flash(message, "success")
    except InvalidInput as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(_back(group), code=303)


@bp.route(f"/{GROUP_ID}/supprimer", methods=["GET", "POST"])
def delete(group_id: int):
    group = _group(group_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = group.name
        groups.delete_group(group)
        db.session.commit()
        flash(gettext("Le groupe « %(name)s » est supprimé.", name=name), "success")
        return redirect(url_for("groupes.index"), code=303)
    members = db.session.scalar(select(func.count()).where(GroupMember.group_id == group.id))
    return render_template("groupes/delete.html", group=group, form=form, members=members)
