"""Groups in the Annuaire: search classes, institutional and ad hoc groups; see a group's
members ("Voir la liste"); export them as a CSV file that Excel opens as is."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from directory.db import db
from directory.domain import universal
from directory.enums import GroupKind
from directory.groups import can_manage_groups, is_manager_of, manager_memberships
from directory.models import Account, Group, GroupMember
from directory.naming import address_base
from directory.search import (
    AccountFilters,
    can_search,
    classes_of_group_members,
    group_search_query,
    member_counts,
    perimeter_condition,
    perimeter_school_ids,
    search_query,
    visible_group,
)

from .directory_forms import GroupSearchForm, MembersPageForm
from .directory_pages import PageOutOfRange, compose_link, page_args, paginate, people_page
from .spreadsheet import csv_response

bp = Blueprint("groupes", __name__, url_prefix="/groupes")
GROUP_ID = "<int(max=2147483647):group_id>"


@bp.context_processor
def _helpers():
    return {"compose_link": compose_link, "page_args": page_args}


@bp.before_request
@login_required
def _searchers_only():
    if not can_search(current_user):
        abort(403)


@bp.route("/")
def index():
    form = GroupSearchForm(formdata=request.args)
    form.fill_schools(current_user)
    page, status = None, 200
    if not form.validate():
        status = 400
    else:
        try:
            page = paginate(group_search_query(current_user, form.filters()),
                            form.page_number(), form.par_page.data, id_column=Group.id)
        except PageOutOfRange as error:
            form.page.errors.append(_no_such_page(error))
            status = 404
    counts = member_counts(current_user, [row[0].id for row in page.rows]) if page else {}
    return render_template("groupes/index.html", form=form, page=page, counts=counts,
                           may_create=can_manage_groups(current_user),
                           region_wide=perimeter_school_ids(current_user) is None), status


@bp.route(f"/{GROUP_ID}")
def members(group_id: int):
    group = visible_group(current_user, group_id) or abort(404)
    form = MembersPageForm(formdata=request.args)
    page, status = None, 200
    if not form.validate():
        status = 400
    else:
        try:
            page = people_page(current_user, AccountFilters(group_id=group.id),
                               form.page_number(), form.par_page.data, group_id=group.id)
        except PageOutOfRange as error:
            form.page.errors.append(_no_such_page(error))
            status = 404
    return render_template("groupes/members.html", group=group, form=form, page=page,
                           managers=_managers(group), manage=_manages(group)), status


@bp.route(f"/{GROUP_ID}/membres.csv")
def export(group_id: int):
    group = visible_group(current_user, group_id) or abort(404)
    people = db.session.execute(search_query(current_user, AccountFilters(group_id=group.id))
                                .with_only_columns(Account.id, Account.last_name,
                                                   Account.first_name, Account.profile,
                                                   Account.address))
    classes = classes_of_group_members(group.id)
    header = [gettext("Nom"), gettext("Prénom"), gettext("Profil"),
              gettext("Adresse universelle"), gettext("Classes")]
    rows = ([person.last_name, person.first_name,
             gettext(person.profile.label),  # directory_forms.PROFILE_LABEL_MARKERS
             universal(person.address), ", ".join(classes.get(person.id, []))]
            for person in people)
    filename = f"groupe-{address_base('', group.name)}-{group.school.uai.lower()}.csv"
    return csv_response(header, rows, filename)


def _no_such_page(error: PageOutOfRange) -> str:
    return gettext("Cette page n'existe pas : les résultats tiennent sur %(pages)d page(s).",
                   pages=error.pages)


def _managers(group: Group) -> list[Account]:
    """The group's managers the reader may find, as its member table shows its members (a
    suspended manager, or one outside the reader's directory, is not named)."""
    return list(db.session.scalars(
        select(Account).join(GroupMember, GroupMember.account_id == Account.id)
        .where(GroupMember.group_id == group.id, manager_memberships(Account),
               perimeter_condition(current_user))
        .order_by(Account.search_name)))


def _manages(group: Group) -> bool:
    return group.kind == GroupKind.AD_HOC and (current_user.is_admin
                                               or is_manager_of(current_user, group))
