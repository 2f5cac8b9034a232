"""The recipient picker: a page of its own (without JavaScript, the chips chosen accumulate
in its links as `ajout` values and go back to the draft being written), or the same content
as a fragment that messagerie.js loads into a dialog of the compose page.

Two tabs: the directory (the Annuaire's search, within one's perimeter; "Ajouter" only on
people one may write to; one's own classes and groups with "Voir la liste" and "Ajouter la
liste") and the address book (its groups, "Voir la liste", "Ajouter la liste")."""
from __future__ import annotations

from urllib.parse import quote_plus

from flask import abort, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from directory.errors import InvalidInput
from directory.rights import sender_rule
from directory.search import can_search
from mailgate import mailbox
from mailgate.routing import group_over_limit

from ..annuaire import fill_choices
from ..carnet import book
from ..directory_forms import MembersPageForm, PeopleSearchForm
from ..directory_pages import (
    PageOutOfRange,
    compose_link,
    page_args,
    paginate,
    people_page,
    refusal_reasons,
)
from ..errors import MESSAGES
from ..i18n import said
from ..reads_only import reads_only
from . import picker, recipients
from .blueprint import bp
from .compose_views import int_arg

SEARCH_KEYS = ("nom", "profil", "discipline", "etablissement", "groupe")
QUERY_SAFE = "!$'()*,/:;?@"     # what url_for leaves unquoted in a query (werkzeug.urls)


@bp.route("/destinataires", endpoint="picker")
@reads_only
def picker_page():
    draft = int_arg(request.args, "brouillon")
    if draft is not None:
        mailbox.draft_item(current_user, draft)
    field = request.args.get("champ", "to")
    tab = request.args.get("onglet", "annuaire")
    if field not in recipients.FIELDS or tab not in ("annuaire", "carnet"):
        abort(400)
    try:
        added = recipients.resolve(current_user,
                                   recipients.from_tokens(request.args.getlist("ajout")))
    except InvalidInput as error:       # a value forged, or more than a form may hold
        title, _text = MESSAGES[400]
        return render_template("error.html", title=gettext(title), text=said(error),
                               code=400), 400
    tokens = [c.full_token for c in added]
    context = {"draft": draft, "target_field": field, "tab": tab, "added": added,
               "tokens": tokens, "add_url": adding_url(tokens, field), "page_args": page_args,
               "compose_link": compose_link, "field_labels": recipients.FIELD_LABELS,
               "fields": recipients.FIELDS, "fragment": request.args.get("fragment") == "1",
               "said": said, "group_over_limit": group_over_limit}
    status = 200
    if tab == "annuaire":
        status = _directory(context)
    else:
        status = _address_book(context)
    fragment = context["fragment"]
    template = "messagerie/picker_fragment.html" if fragment else "messagerie/picker.html"
    return render_template(template, **context), status


def adding_url(tokens: list[str], field: str):
    """token → this page's address with `field:token` added to the `ajout` values: the
    address without it is built once, each link only appends its token."""
    base = url_for("messagerie.picker", **page_args(request.args, ajout=tokens))
    prefix = f"{base}{'&' if '?' in base else '?'}ajout="
    return lambda token: prefix + quote_plus(f"{field}:{token}", safe=QUERY_SAFE)


def _directory(context: dict) -> int:
    viewer = current_user._get_current_object()    # read often below: once through the proxy
    allowed = can_search(viewer)
    searching = allowed and any(request.args.get(k) for k in SEARCH_KEYS)
    # The writing rule, read once for own groups, the page (its refusals too) and its group's
    # chip.
    rule = sender_rule(viewer)
    form = PeopleSearchForm(formdata=request.args)
    context.update(form=form, page=None, group_chip=None, can_search=allowed,
                   own_groups=picker.own_groups(viewer, rule))
    if not searching:
        fill_choices(form, viewer)
        return 200
    visible = fill_choices(form, viewer)
    if not visible:
        form.groupe.errors.append(gettext("Ce groupe n'existe pas ou ne vous est pas visible."))
    if not (form.validate() and visible):
        return 400
    filters = form.filters()
    try:
        context["page"] = people_page(viewer, filters, form.page_number(), form.par_page.data,
                                      rule=rule)
    except PageOutOfRange:
        form.page.errors.append(gettext("Cette page n'existe pas."))
        return 404
    if picker.group_only(filters):
        context["group_chip"] = recipients.directory_group_chip(
            viewer, context["target_field"], filters.group_id, rule)
    return 200


def _address_book(context: dict) -> int:
    context.update(contact_groups=picker.contact_groups(current_user), viewing=None,
                   page=None)
    group_id = int_arg(request.args, "carnet")
    if group_id is None:
        return 200
    group = book.owned_group(current_user, group_id) or abort(404)
    paging = MembersPageForm(formdata=request.args)
    if not paging.validate():
        return 400
    try:
        page = paginate(book.members_query(current_user, group),
                        paging.page_number(), paging.par_page.data)
    except PageOutOfRange:
        return 404
    # Why not, for those the owner may still find in the directory only: of anyone else
    # (suspended, gone to another school) the picker tells no more than the directory would.
    page.refusals = refusal_reasons(current_user, [
        (row[0].id, row[0].full_name, row[0].profile, row[0].suspended)
        for row in page.rows if row.findable and not row.writable])
    context["page"] = page
    context["viewing"] = recipients.contact_group_chip(current_user, context["target_field"],
                                                       group.id)
    context["viewing_group"] = group
    return 200

