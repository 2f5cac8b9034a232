"""A group as the person in charge of it edits it — add one person of the directory, add the
whole list of a search, remove one, delete the group after confirmation — for the ad hoc
groups (portal/adhoc.py) and the address book's groups (portal/carnet/views.py) alike: the
same routes, the same sentences, the same way back to the group's page."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext
from flask_login import current_user

from directory.db import db
from directory.errors import PreauError
from directory.models import Account
from directory.search import AccountFilters

from .annuaire import fill_choices
from .directory_forms import ConfirmForm, MemberForm, PeopleSearchForm
from .i18n import said
from .saving import FAILED, saved

GROUP_ID = "<int(max=2147483647):group_id>"


@dataclass(frozen=True)
class Membership:
    """How one kind of group is edited: every callable takes the logged-in account."""

    load: Callable[[Account, int], Any]                     # the group, or None (→ 404)
    page: Callable[[Any], str]                              # the group's page
    add: Callable[[Account, Any, int], tuple[Account, bool]]
    add_search: Callable[[Account, Any, AccountFilters], int]
    remove: Callable[[Any, int], Account]
    describe: Callable[[PreauError], str] = said            # a refusal in words


def register(bp: Blueprint, membership: Membership) -> Callable[[int], Any]:
    """Add the three routes to `bp`; returns its group loader (404 for a group the account
    may not edit, forged POST included)."""

    def group_of(group_id: int):
        return membership.load(current_user, group_id) or abort(404)

    def finish(group, work: Callable[[], str]):
        return apply_change(membership.page(group), work, describe=membership.describe)

    @bp.route(f"/{GROUP_ID}/membres/ajouter", methods=["POST"], endpoint="add_member")
    def add_member(group_id: int):
        group, form = group_of(group_id), MemberForm()
        if not form.validate():
            abort(400)

        def add_one() -> str:
            person, added = membership.add(current_user, group, form.account.data)
            if added:
                return gettext("%(name)s est ajouté(e) au groupe.", name=person.full_name)
            return gettext("%(name)s fait déjà partie du groupe.", name=person.full_name)

        return finish(group, add_one)

    @bp.route(f"/{GROUP_ID}/membres/ajouter-la-liste", methods=["POST"], endpoint="add_list")
    def add_list(group_id: int):
        group, form = group_of(group_id), PeopleSearchForm(formdata=request.form)
        group_visible = fill_choices(form, current_user)
        if not (form.validate() and group_visible):
            abort(400)
        return finish(group, lambda: gettext(
            "%(count)d personne(s) ajoutée(s) au groupe.",
            count=membership.add_search(current_user, group, form.filters())))

    @bp.route(f"/{GROUP_ID}/membres/retirer", methods=["POST"], endpoint="remove_member")
    def remove_member(group_id: int):
        group, form = group_of(group_id), MemberForm()
        if not form.validate():
            abort(400)
        return finish(group, lambda: gettext(
            "%(name)s est retiré(e) du groupe.",
            name=membership.remove(group, form.account.data).full_name))

    return group_of


def apply_change(page: str, work: Callable[[], str], *,
                 describe: Callable[[PreauError], str] = said):
    """Run a change of a group that returns the sentence saying what it did, flash that
    sentence (or the refusal, worded by `describe`: nothing is kept), and go back to the
    group's `page`."""
    message = saved(work, describe=describe)
    if message is not FAILED:
        flash(message, "success")
    return redirect(back_to(page), code=303)


def delete_page(group, delete: Callable[[Any], None], *, then: str, template: str,
                members: int, **said: Any):
    """The page that deletes a group once confirmed (it tells how many members it has, and
    `said` what else goes with it), then goes to `then`."""
    form = ConfirmForm()
    if form.validate_on_submit():
        name = group.name
        delete(group)
        db.session.commit()
        flash(gettext("Le groupe « %(name)s » est supprimé.", name=name), "success")
        return redirect(then, code=303)
    return render_template(template, group=group, form=form, members=members, **said)


def back_to(own: str) -> str:
    """The page the form came from (`retour`) if it is one of the group's pages, else the
    group's page: never an address from elsewhere."""
    back = request.form.get("retour", "")
    if back == own or back.startswith((own + "?", own + "/")):
        return back
    return own
