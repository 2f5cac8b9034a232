"""Ad hoc groups' life cycle: create, edit, add members one by one or the whole list of a
search, remove members, give a member a last day, name managers, delete after confirmation.
Every group is loaded through `managed_group`, so someone who does not manage it gets 404,
forged POST included."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from agenda.models import Agenda, Event
from directory import groups
from directory.clock import end_of_local_day
from directory.db import db
from directory.errors import InvalidInput, PreauError
from directory.models import Account, GroupMember
from directory.rubric_models import Rubric
from mailgate.automations.models import Communication

from .directory_forms import AdHocGroupForm, ManagerForm, MemberEndForm, choice
from .group_members import Membership, apply_change, delete_page, register
from .i18n import said
from .rubriques.models import Article
from .saving import FAILED, saved

bp = Blueprint("adhoc", __name__, url_prefix="/groupes")
GROUP_ID = "<int(max=2147483647):group_id>"


@bp.before_request
@login_required
def _logged_in():
    return None


def _page(group) -> str:
    return url_for("groupes.members", group_id=group.id)


def _said(error: PreauError) -> str:
    """A refusal of directory.groups in the reader's words: a full group and someone of
    another school are worded here (a plural, a school's name), the others by their code."""
    if isinstance(error, groups.GroupFull):
        if error.room <= 0:
            return gettext("Le groupe « %(name)s » compte déjà %(max)d membres, le maximum "
                           "d'un groupe.", name=error.group.name, max=groups.MAX_MEMBERS)
        return ngettext("Le groupe « %(name)s » ne peut plus recevoir que %(num)d personne "
                        "(%(max)d membres au plus) : la liste en compte davantage. Précisez "
                        "la recherche.",
                        "Le groupe « %(name)s » ne peut plus recevoir que %(num)d personnes "
                        "(%(max)d membres au plus) : la liste en compte davantage. Précisez "
                        "la recherche.",
                        error.room, name=error.group.name, max=groups.MAX_MEMBERS)
    if isinstance(error, groups.OtherSchool):
        return gettext("%(name)s ne fait pas partie de %(school)s, l'établissement du groupe : "
                       "seules les personnes de cet établissement peuvent en être membres.",
                       name=error.person.full_name, school=error.school.name)
    return said(error)


_group = register(bp, Membership(
    load=groups.managed_group, page=_page, add=groups.add_member,
    add_search=groups.add_search_results, remove=groups.remove_member, describe=_said))


@bp.route("/nouveau", methods=["GET", "POST"])
def create():
    if not groups.can_manage_groups(current_user):
        abort(403)
    form = AdHocGroupForm()
    form.school.choices = [choice(s.id, f"{s.name} ({s.uai})")
                           for s in groups.school_choices(current_user)]
    if form.validate_on_submit():
        group = saved(lambda: groups.create_group(
            current_user, name=form.name.data, description=form.description.data,
            school_id=form.school.data, persistent=form.persistent.data,
            co_managers=_co_managers(form.co_managers.data)), errors=form.form_errors,
            describe=_said)
        if group is not FAILED:
            flash(gettext("Le groupe « %(name)s » est créé.", name=group.name), "success")
            return redirect(_page(group))
    return render_template("groupes/form.html", form=form, group=None), \
        400 if form.errors or form.form_errors else 200


def _co_managers(text: str) -> list[Account]:
    """Accounts named by universal address (with or without the domain) or login."""
    names = [n.split("@")[0].lower() for n in re.split(r"[\s,;]+", text or "") if n]
    if not names:
        return []
    found = list(db.session.scalars(select(Account).where(
        or_(Account.address.in_(names), func.lower(Account.login).in_(names)))))
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
        if form.school.data != group.school_id and any(_going_with(group.id).values()):
            # its rubrics, events (and their rooms) and communications belong to its school
            form.school.errors.append(gettext(
                "Ce groupe a des rubriques, des évènements ou des communications, qui "
                "appartiennent à son établissement : il ne peut pas en changer."))
        elif saved(lambda: groups.update_group(
                current_user, group, name=form.name.data, description=form.description.data,
                school_id=form.school.data, persistent=form.persistent.data),
                errors=form.form_errors) is not FAILED:
            flash(gettext("Le groupe « %(name)s » est modifié.", name=group.name), "success")
            return redirect(_page(group))
    return render_template("groupes/form.html", form=form, group=group), \
        400 if form.errors or form.form_errors else 200


@bp.route(f"/{GROUP_ID}/gestionnaires", methods=["POST"])
def set_manager(group_id: int):
    group = _group(group_id)
    form = ManagerForm()
    if not form.validate():
        abort(400)

    def change() -> str:
        groups.set_manager(current_user, group, form.account.data, form.manager.data == "oui")
        return gettext("Les gestionnaires du groupe sont mis à jour.")

    return apply_change(_page(group), change)


@bp.route(f"/{GROUP_ID}/membres/fin", methods=["POST"])
def set_member_end(group_id: int):
    """A member's last day in the group (an internship, a term's option), or none."""
    group = _group(group_id)
    form = MemberEndForm()
    if not form.validate():
        if form.errors.keys() != {"fin"}:
            abort(400)
        flash(gettext("Date illisible : choisissez un jour (jj/mm/aaaa)."), "error")
        return redirect(_page(group), code=303)
    day = form.fin.data
    ends = end_of_local_day(day) if day else None

    def change() -> str:
        person = groups.set_member_end(group, form.account.data, ends)
        if ends is None:
            return gettext("La participation de %(name)s au groupe n'a plus de fin.",
                           name=person.full_name)
        return gettext("%(name)s quittera le groupe après le %(day)s.",
                       name=person.full_name, day=day.strftime("%d/%m/%Y"))

    return apply_change(_page(group), change)


@bp.route(f"/{GROUP_ID}/supprimer", methods=["GET", "POST"])
def delete(group_id: int):
    group = _group(group_id)
    # every member whose place goes, the suspended and the hidden ones included (the list
    # page counts what its reader sees)
    members = db.session.scalar(select(func.count()).where(GroupMember.group_id == group.id))
    return delete_page(group, groups.delete_group, then=url_for("groupes.index"),
                       template="groupes/delete.html", members=members,
                       going=_going_with(group.id))


def _going_with(group_id: int) -> dict[str, int]:
    """What the database deletes with the group (its foreign keys cascade): its rubrics and
    their articles, the events of its agenda and of its rubrics' agendas, and the automated
    communications of its space, whoever wrote them. The confirmation page names them."""
    rubric_ids = select(Rubric.id).where(Rubric.group_id == group_id)
    agenda_ids = select(Agenda.id).where(or_(Agenda.group_id == group_id,
                                             Agenda.rubric_id.in_(rubric_ids)))
    return {
        "rubrics": db.session.scalar(select(func.count()).where(Rubric.group_id == group_id)),
        "articles": db.session.scalar(select(func.count()).where(
            Article.rubric_id.in_(rubric_ids))),
        "events": db.session.scalar(select(func.count()).where(
            Event.agenda_id.in_(agenda_ids))),
        "communications": db.session.scalar(select(func.count()).where(
            Communication.group_id == group_id)),
    }
