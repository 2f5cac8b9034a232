"""Carnet d'adresses: one's own contact groups (create, rename, delete after confirmation),
their members (added from the directory one by one or the whole list of a search, removed),
and vCard export and import. Every group is loaded through `book.owned_group`, so someone
else's group answers 404, forged POST included."""
from __future__ import annotations

import re
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from directory.db import db
from directory.errors import InvalidInput
from directory.rights import writable_condition
from directory.search import can_search, classes_by_account, search_query

from ..annuaire import fill_choices
from ..directory_forms import MembersPageForm, PeopleSearchForm
from ..directory_pages import PageOutOfRange, compose_link, page_args, paginate
from ..group_members import Membership, delete_page, register
from ..i18n import said
from ..saving import FAILED, saved
from . import book, exporting, importing
from .forms import ConfirmImportForm, GroupNameForm, ImportForm
from .models import ContactGroup
from .vcard import VERSIONS, read_cards

bp = Blueprint("carnet", __name__, url_prefix="/carnet")
GROUP_ID = "<int(max=2147483647):group_id>"
PREVIEW_ROWS = 500  # recognised cards listed in an import preview; unrecognised ones all are


@bp.context_processor
def _helpers():
    return {"compose_link": compose_link, "page_args": page_args}


@bp.before_request
@login_required
def _logged_in():
    return None


_group = register(bp, Membership(
    load=book.owned_group, page=lambda group: url_for(".group", group_id=group.id),
    add=book.add_member, add_search=book.add_search_results, remove=book.remove_member))


@bp.route("/")
def index():
    return _index(GroupNameForm(formdata=None))


def _index(form: GroupNameForm, status: int = 200):
    paging = MembersPageForm(formdata=request.args)
    page = None
    if not paging.validate():
        status = 400
    else:
        try:
            page = paginate(book.groups_query(current_user), paging.page_number(),
                            paging.par_page.data, id_column=ContactGroup.id)
        except PageOutOfRange as error:
            paging.page.errors.append(_no_such_page(error))
            status = 404
    return render_template("carnet/index.html", form=form, paging=paging, page=page,
                           versions=VERSIONS), status


@bp.route("/groupes", methods=["POST"])
def create():
    form = GroupNameForm()
    if form.validate_on_submit():
        group = saved(lambda: book.create_group(current_user, form.name.data),
                      errors=form.name.errors)
        if group is not FAILED:
            flash(gettext("Le groupe « %(name)s » est créé. Ajoutez-y des personnes de "
                          "l'annuaire.", name=group.name), "success")
            return redirect(url_for(".add", group_id=group.id), code=303)
    return _index(form, 400)


@bp.route(f"/{GROUP_ID}")
def group(group_id: int):
    group = _group(group_id)
    paging = MembersPageForm(formdata=request.args)
    page, status = None, 400
    if paging.validate():
        try:
            page = paginate(book.members_query(current_user, group), paging.page_number(),
                            paging.par_page.data)
            page.classes = classes_by_account([r[0].id for r in page.rows if r.findable])
            status = 200
        except PageOutOfRange as error:
            paging.page.errors.append(_no_such_page(error))
            status = 404
    return render_template("carnet/group.html", group=group, paging=paging, page=page,
                           versions=VERSIONS), status


@bp.route(f"/{GROUP_ID}/renommer", methods=["GET", "POST"])
def rename(group_id: int):
    group = _group(group_id)
    form = GroupNameForm(obj=group)
    if form.validate_on_submit():
        if saved(lambda: book.rename_group(current_user, group, form.name.data),
                 errors=form.name.errors) is not FAILED:
            flash(gettext("Le groupe s'appelle désormais « %(name)s ».", name=group.name),
                  "success")
            return redirect(url_for(".group", group_id=group.id), code=303)
    failed = request.method == "POST"
    return render_template("carnet/rename.html", group=group, form=form), 400 if failed else 200


@bp.route(f"/{GROUP_ID}/supprimer", methods=["GET", "POST"])
def delete(group_id: int):
    group = _group(group_id)
    return delete_page(group, book.delete_group, then=url_for(".index"),
                       template="carnet/delete.html", members=book.member_count(group.id))


@bp.route(f"/{GROUP_ID}/ajouter")
def add(group_id: int):
    """The directory search, with "Ajouter" on each person and "Ajouter la liste"."""
    group = _group(group_id)
    form = PeopleSearchForm(formdata=request.args)
    group_visible = fill_choices(form, current_user)
    searched = bool(request.args)
    if not group_visible:
        form.groupe.errors.append(gettext("Ce groupe n'existe pas ou ne vous est pas visible."))
    if not searched or not (form.validate() and group_visible):
        return _add_page(group, form, None, 400 if searched else 200)
    query = search_query(current_user, form.filters()).add_columns(
        writable_condition(current_user).label("writable"),
        book.in_group_condition(group).label("in_group"))
    try:
        page = paginate(query, form.page_number(), form.par_page.data)
    except PageOutOfRange as error:
        form.page.errors.append(_no_such_page(error))
        return _add_page(group, form, None, 404)
    page.classes = classes_by_account([row[0].id for row in page.rows])
    return _add_page(group, form, page, 200)


def _add_page(group, form, page, status):
    return render_template("carnet/add.html", group=group, form=form, page=page,
                           has_criteria=bool(page) and book.has_criteria(form.filters()),
                           can_search=can_search(current_user)), status


def _no_such_page(error: PageOutOfRange) -> str:
    return gettext("Cette page n'existe pas : les résultats tiennent sur %(pages)d page(s).",
                   pages=error.pages)


# vCard ---------------------------------------------------------------------------------

@bp.route("/carnet.vcf")
def export_book():
    return _vcard(None, "carnet")


@bp.route(f"/{GROUP_ID}/groupe.vcf")
def export_group(group_id: int):
    group = _group(group_id)
    return _vcard(group, group.name)


def _vcard(group, name: str):
    version = request.args.get("version", "4.0")
    if version not in VERSIONS:
        abort(400)
    text = exporting.export_book(current_user, version, group)
    filename = (re.sub(r"[^\w-]+", "-", name).strip("-") or "carnet") + ".vcf"
    return Response(text, mimetype="text/vcard", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


@bp.route("/importer", methods=["GET", "POST"])
def import_vcard():
    form = ImportForm()
    form.fill_targets(g for g, _count in book.picker_groups(current_user))
    if not form.validate_on_submit():
        return _import_page(form, 400 if request.method == "POST" else 200)
    data = form.read_file()
    if data is None:
        return _import_page(form, 400)
    try:
        cards = read_cards(data)
        plan = importing.build_plan(current_user, cards, _target(form))
    except InvalidInput as error:
        db.session.rollback()
        form.file.errors.append(said(error))
        return _import_page(form, 400)
    token = importing.sign_plan(current_user, plan, current_app.config["SECRET_KEY"])
    return render_template("carnet/import_preview.html", plan=plan, shown=PREVIEW_ROWS,
                           confirm=ConfirmImportForm(formdata=None, plan=token))


def _import_page(form: ImportForm, status: int):
    return render_template("carnet/import.html", form=form), status


def _target(form: ImportForm) -> importing.Target:
    choice = form.target.data
    if choice in (importing.CATEGORIES, importing.NEW_GROUP):
        name = book.checked_name(form.new_name.data)
        return importing.Target(choice, name=name)
    group = book.owned_group(current_user, int(choice))
    if group is None:
        raise InvalidInput(gettext("Ce groupe n'existe plus."))
    return importing.Target(importing.EXISTING_GROUP, group=group)


@bp.route("/importer/confirmer", methods=["POST"])
def confirm_import():
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    added = saved(lambda: importing.apply_signed_plan(current_user, form.plan.data,
                                                      current_app.config["SECRET_KEY"]))
    if added is FAILED:
        return redirect(url_for(".import_vcard"), code=303)
    # Each part first: `pybabel extract` does not see a gettext call inside another's
    # arguments.
    parts = [gettext("%(name)s (+%(count)d)", name=name, count=count) for name, count in added]
    flash(gettext("Import terminé : %(summary)s.", summary=", ".join(parts)), "success")
    return redirect(url_for(".index"), code=303)
