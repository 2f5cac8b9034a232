"""Annuaire: search people by name, profile, discipline, school and group, within one's
perimeter; an envelope only where writing is allowed. With `pour_groupe`, the same page
adds the people found to an ad hoc group one manages."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required

from directory.enums import GroupKind
from directory.groups import MAX_MEMBERS, addable_count, managed_group
from directory.search import (
    can_search,
    disciplines_near,
    groups_near,
    id_from,
    perimeter_school_ids,
    visible_group,
)
from mailgate.cache import TimedCache

from .directory_forms import PeopleSearchForm, choice
from .directory_pages import PageOutOfRange, compose_link, page_args, people_page
from .reads_only import reads_only

bp = Blueprint("annuaire", __name__, url_prefix="/annuaire")


@bp.context_processor
def _helpers():
    return {"compose_link": compose_link, "page_args": page_args}


@bp.route("/")
@reads_only
@login_required
def index():
    viewer = current_user._get_current_object()    # read often below: once through the proxy
    if not can_search(viewer):
        abort(403)
    target = _target_group(viewer)
    form = PeopleSearchForm(formdata=request.args)
    group_visible = fill_choices(form, viewer)
    valid = form.validate()
    if not group_visible:
        form.groupe.errors.append(gettext("Ce groupe n'existe pas ou ne vous est pas visible."))
    if not (valid and group_visible):
        return _render(viewer, form, target, None), 400
    try:
        page = people_page(viewer, form.filters(), form.page_number(), form.par_page.data)
    except PageOutOfRange as error:
        form.page.errors.append(gettext("Cette page n'existe pas : les résultats tiennent sur "
                                        "%(pages)d page(s).", pages=error.pages))
        return _render(viewer, form, target, None), 404
    return _render(viewer, form, target, page)


def fill_choices(form: PeopleSearchForm, viewer) -> bool:
    """The viewer's schools, disciplines and groups, plus the group being filtered on.
    Returns False when that group is not visible to the viewer."""
    form.fill_schools(viewer)
    disciplines, groups = _near(viewer)
    if form.discipline.data and form.discipline.data not in disciplines:
        disciplines = [*disciplines, form.discipline.data]
    form.discipline.choices = [choice("", gettext("Toutes"))] + [choice(d, d)
                                                               for d in disciplines]
    chosen, visible = form.groupe.data, True
    if isinstance(chosen, int) and chosen not in {g[0] for g in groups}:
        group = visible_group(viewer, chosen)
        visible = group is not None
        if visible:
            groups = [*groups, (group.id, group.name, group.kind, group.school.uai)]
    kinds = {kind: gettext(kind.label) for kind in GroupKind}   # once, not once per group
    form.groupe.choices = [choice("", gettext("Tous"))] + [
        choice(group_id, f"{name} · {kinds[kind]} · {uai}") for group_id, name, kind, uai in groups]
    return visible


# The disciplines and groups of one's schools change a few times a year: a search page reads
# them once per NEAR_TTL seconds per set of schools (and perimeter) in each process, not on
# every request. A group created meanwhile shows in the filter at most NEAR_TTL seconds later.
NEAR_TTL = 30.0
_near_cache = TimedCache(NEAR_TTL)


def _near(viewer) -> tuple[list[str], list[tuple]]:
    perimeter = perimeter_school_ids(viewer)
    key = (tuple(sorted(school.id for school in viewer.schools)),
           None if perimeter is None else tuple(sorted(perimeter)))
    return _near_cache.get_or(key, lambda: (disciplines_near(viewer), groups_near(viewer)))


def _target_group(viewer):
    raw = request.args.get("pour_groupe", "")
    if not raw:
        return None
    group_id = id_from(raw)
    group = managed_group(viewer, group_id) if group_id else None
    if group is None:
        abort(404)
    return group


def _render(viewer, form, target, page):
    filters = form.filters() if page is not None else None
    # « Ajouter la liste » says how many it adds: the results of the group's school who are
    # not members yet, not every result
    addable = addable_count(viewer, target, filters) \
        if target is not None and page is not None and page.total \
        and not filters.is_empty() else None
    return render_template("annuaire/index.html", form=form, target=target, page=page,
                           filters=filters, addable=addable, max_members=MAX_MEMBERS,
                           region_wide=perimeter_school_ids(viewer) is None)
