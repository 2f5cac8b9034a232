"""Administration's front page, and the region administrator's grant or removal of one
role for one account (SPEC §1, §8). The change is stored at once, so the account's next
search or message sees it; two changes of one account are made one after the other."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import or_, select

from directory.db import db, lock_account
from directory.enums import Role
from directory.models import Account
from directory.role_grants import grant_role, remove_role, role_states
from directory.search import AccountFilters, search_query

from ..auth import admin_required
from ..directory_forms import AccountLookupForm, RoleForm
from . import bp
from .access import administrator_required

MATCHES = 20


@bp.route("/")
@administrator_required
def index():
    if not current_user.is_admin:
        return render_template("admin/index.html", form=None, text="", account=None,
                               matches=[], role_form=None, states=[])
    form = AccountLookupForm(formdata=request.args)
    text = (form.compte.data or "").strip()
    account, matches = None, []
    if text and form.validate():
        account = db.session.scalar(select(Account).where(
            or_(Account.login == text, Account.address == text.split("@")[0])))
        if account is None:
            matches = db.session.scalars(search_query(
                current_user, AccountFilters(name=text)).limit(MATCHES)).all()
    return render_template("admin/index.html", form=form, text=text, account=account,
                           matches=matches, role_form=RoleForm(),
                           states=role_states(account) if account else []), \
        400 if form.errors else 200


@bp.route("/comptes/<int(max=2147483647):account_id>/roles", methods=["POST"])
@admin_required
def change_role(account_id: int):
    # The account locked before its overrides are read: the same change sent twice at once
    # (a double click, two administrators) is made one after the other, and the second one
    # finds the first one's override instead of inserting it again (a duplicate key, a 500).
    lock_account(account_id)
    account = db.session.get(Account, account_id, populate_existing=True) or abort(404)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    role = Role(form.role.data)
    if form.action.data == "accorder":
        grant_role(account, role)
        message = gettext("Rôle « %(role)s » accordé à %(name)s.", role=gettext(role.label),
                          name=account.full_name)
    else:
        remove_role(account, role)
        message = gettext("Rôle « %(role)s » retiré à %(name)s.", role=gettext(role.label),
                          name=account.full_name)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".index", compte=account.login), code=303)
