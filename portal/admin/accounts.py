"""Accounts: the filtered table, its export, one account's page and what an administrator
does to it (SPEC §8). Rules live in directory.account_admin; these views read the request,
call them and word their answers."""
from __future__ import annotations

import uuid
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from directory import account_admin as rules
from directory.account_admin import Activity, AdminFilters, EditRefused, Refusal
from directory.account_file import DAY_FORMAT
from directory.clock import end_of_local_day, last_local_day
from directory.db import db, lock_account
from directory.enums import GroupKind, Profile
from directory.errors import InvalidInput
from directory.models import Account, Group
from directory.search import id_from
from directory.wording import Reason
from mailgate import mailbox
from mailgate.models import MailboxItem

from ..directory_forms import choice
from ..directory_pages import page_args
from ..i18n import said
from ..spreadsheet import csv_stream, in_chunks
from . import bp
from .access import administrator_required
from .forms import (
    BulkForm,
    ConfirmForm,
    EditForm,
    FilterForm,
    NewAccountForm,
    PasswordForm,
    SuspendForm,
)
from .password_mail import send_password, send_passwords

PER_PAGE = 50
EXPORT_CHUNK = 2_000
EXPORTED = (Account.id, Account.search_name, Account.login, Account.last_name,
            Account.first_name, Account.profile, Account.address, Account.suspended,
            Account.last_access_at, Account.access_ends_at)


def _filter_form() -> tuple[FilterForm, AdminFilters]:
    form = FilterForm(formdata=request.args)
    schools = rules.administered_schools(current_user)
    form.etablissement.choices = [choice("", gettext("Tous"))] + [
        choice(str(s.id), f"{s.name} ({s.uai})") for s in schools]
    form.profil.choices = [choice("", gettext("Tous"))] + [choice(p.value, gettext(p.label))
                                                           for p in Profile]
    school_id = id_from(form.etablissement.data)
    groups = rules.groups_of_school(current_user, school_id)
    form.groupe.choices = [choice("", gettext("Toutes"))] + [choice(str(g.id), g.name)
                                                             for g in groups]
    if not form.validate():
        return form, AdminFilters(school_id=school_id)
    return form, AdminFilters(
        name=form.nom.data or "", school_id=school_id,
        profile=Profile(form.profil.data) if form.profil.data else None,
        group_id=int(form.groupe.data) if form.groupe.data else None,
        suspended={"actif": False, "suspendu": True}.get(form.etat.data),
        activity=Activity(form.activite.data) if form.activite.data else None,
        inactive_days=form.jours.data if form.jours.data is not None else 30)


@bp.route("/comptes/")
@administrator_required
def accounts():
    form, filters = _filter_form()
    number = form.page.data if form.page.data and not form.page.errors else 1
    args = {key: value for key, value in page_args(request.args).items() if key != "page"}
    try:
        page = rules.find_accounts(current_user, filters, number, PER_PAGE)
    except rules.PastLastPage as error:
        form.page.errors.append(gettext(
            "Cette page n'existe pas : les résultats tiennent sur %(pages)d page(s).",
            pages=error.pages))
        return render_template("admin/accounts.html", form=form, page=None, args=args), 404
    classes = rules.administered_classes_by_account(current_user, [a.id for a in page.accounts])
    return render_template("admin/accounts.html", form=form, page=page, classes=classes,
                           args=args, bulk=BulkForm(), cap=rules.COUNT_CAP), \
        400 if form.errors else 200


@bp.route("/comptes/export.csv")
@administrator_required
def export():
    """Every account the filters find, however many (a region's half million included), with
    its classes: the file is written while they are read, a chunk at a time in the index's
    name order (`spreadsheet.in_chunks`)."""
    _, filters = _filter_form()
    query = rules.find_query(current_user, filters).with_only_columns(
        *EXPORTED, rules.administered_class_names(current_user).label("classes"))
    header = [gettext("Identifiant"), gettext("Nom"), gettext("Prénom"), gettext("Profil"),
              gettext("Classe"), gettext("Adresse universelle"), gettext("État"),
              gettext("Dernier accès"), gettext("Dernier jour d'accès")]
    profiles = {profile: gettext(profile.label) for profile in Profile}
    states = {True: gettext("suspendu"), False: gettext("actif")}
    chunks = in_chunks(query, (Account.search_name, Account.id), EXPORT_CHUNK)
    return csv_stream(header, ([[row.login, row.last_name, row.first_name, profiles[row.profile],
                                 ", ".join(sorted(row.classes or ())), row.address,
                                 states[row.suspended], _date(row.last_access_at),
                                 _day(_last_day(row))] for row in chunk]
                               for chunk in chunks), "comptes.csv")


def _day(day: date | None) -> str:
    """As the import reads it back (its « Dernier jour d'accès » column)."""
    return day.strftime(DAY_FORMAT) if day else ""


def _date(when) -> str:
    from directory.clock import local_time

    return local_time(when).strftime("%d/%m/%Y %H:%M") if when else ""


@bp.route("/comptes/actions", methods=["POST"])
@administrator_required
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        abort(400)
    chosen = [i for i in form.ids.data if isinstance(i, int)][:1000]
    accounts = rules.administered_accounts(current_user, chosen)
    back = form.retour.data if (form.retour.data or "").startswith("/administration/") \
        else url_for(".accounts")
    if not accounts:
        flash(gettext("Sélectionnez au moins un compte."), "warning")
        return redirect(back, code=303)
    if form.action.data == "mot_de_passe":
        if form.confirme.data != "1":   # every chosen password is replaced: say whose first
            return _confirm_new_passwords(accounts, form, back)
        return reset_and_report(accounts, mode="envoyer")
    suspend = form.action.data == "suspendre"
    refused = rules.set_suspended(current_user, accounts, suspend)
    db.session.commit()
    done = len(accounts) - len(refused)
    said = [ngettext("%(num)d compte suspendu.", "%(num)d comptes suspendus.", done) if suspend
            else ngettext("%(num)d compte réactivé.", "%(num)d comptes réactivés.", done)]
    if Refusal.SELF in refused:
        said.append(_own_account_refused(suspend))
    shared = refused.count(Refusal.SHARED)
    if shared:
        said.append(_shared_left_out(shared, suspend))
    flash(" ".join(said), "success" if done else "warning")
    return redirect(back, code=303)


def _confirm_new_passwords(accounts, form, back: str):
    """The page listing whose password the selection replaces: those not hers alone are
    named apart, as left out (`reset_passwords` refuses them), and counted nowhere else."""
    shared = rules.not_hers_alone(current_user, accounts)
    if len(shared) == len(accounts):
        _flash_shared_passwords(len(shared))
        return redirect(back, code=303)
    left_out = {account.id for account in shared}
    return render_template("admin/bulk_passwords.html", back=back, form=form, left_out=shared,
                           accounts=[a for a in accounts if a.id not in left_out])


def _flash_shared_passwords(number: int) -> None:
    flash(ngettext("%(num)d compte appartient aussi à un établissement que vous "
                   "n'administrez pas : son mot de passe n'est pas changé.",
                   "%(num)d comptes appartiennent aussi à un établissement que vous "
                   "n'administrez pas : leur mot de passe n'est pas changé.", number),
          "warning")


def _own_account_refused(suspend: bool) -> str:
    return gettext("Vous ne pouvez pas suspendre votre propre compte.") if suspend \
        else gettext("Vous ne pouvez pas réactiver votre propre compte.")


def _shared_left_out(number: int, suspend: bool) -> str:
    """Why `number` accounts were left as they were (Refusal.SHARED)."""
    if suspend:
        return ngettext("%(num)d compte appartient aussi à un établissement que vous "
                        "n'administrez pas : il n'est pas suspendu.",
                        "%(num)d comptes appartiennent aussi à un établissement que vous "
                        "n'administrez pas : ils ne sont pas suspendus.", number)
    return ngettext("%(num)d compte appartient aussi à un établissement que vous "
                    "n'administrez pas : il n'est pas réactivé.",
                    "%(num)d comptes appartiennent aussi à un établissement que vous "
                    "n'administrez pas : ils ne sont pas réactivés.", number)


def _account_or_404(account_id: int):
    return rules.administered_account(current_user, account_id) or abort(404)


def _class_choices(account) -> list:
    """The classes of the account's schools that the administrator administers."""
    mine = rules.administered_school_ids(current_user)
    school_ids = [s.id for s in account.schools if mine is None or s.id in mine]
    classes = db.session.scalars(select(Group).where(
        Group.school_id.in_(school_ids), Group.kind == GroupKind.CLASS)
        .order_by(Group.school_id, Group.search_name)) if school_ids else []
    return [choice("", gettext("(inchangée)"))] + [choice(str(g.id), f"{g.name} ({g.school.uai})")
                                                   for g in classes]


@bp.route("/comptes/<int(max=2147483647):account_id>", methods=["GET", "POST"])
@administrator_required
def account(account_id: int):
    target = _account_or_404(account_id)
    form = EditForm(obj=None) if request.method == "POST" else EditForm(
        prenom=target.first_name, nom=target.last_name, profil=target.profile.value,
        redirection=target.redirect_address or "",
        enfants="\n".join(c.login for c in rules.children_of(target, current_user)),
        admin_etablissement=target.is_school_admin, fin_acces=_last_day(target))
    form.classe.choices = _class_choices(target)
    if form.validate_on_submit():
        last_day = form.fin_acces.data
        ends = end_of_local_day(last_day) if last_day else None
        edit = rules.AccountEdit(
            first_name=form.prenom.data, last_name=form.nom.data,
            profile=Profile(form.profil.data),
            class_id=int(form.classe.data) if form.classe.data else None,
            redirect_address=form.redirection.data or "",
            children_logins=(form.enfants.data or "").split(),
            school_admin=bool(form.admin_etablissement.data) if current_user.is_admin
            else None,
            access_ends_at=ends,
            # the form shows days: the same day saved again is no new end
            new_access_end=ends != target.access_ends_at and last_day != _last_day(target))
        try:
            rules.edit_account(current_user, target, edit)
        except EditRefused as refused:
            db.session.rollback()
            form.form_errors.append(_edit_refusal(refused))
        else:
            db.session.commit()
            flash(gettext("Compte de %(name)s enregistré.", name=target.full_name), "success")
            return redirect(url_for(".account", account_id=target.id), code=303)
    return render_template("admin/account.html", account=target, form=form,
                           last_day=_last_day(target),
                           classes=rules.classes_of(target, current_user),
                           children=rules.children_of(target, current_user),
                           hers_alone=not rules.not_hers_alone(current_user, [target]),
                           password_form=PasswordForm(), suspend_form=SuspendForm(
                               formdata=None, suspendre="0" if target.suspended else "1"),
                           confirm=ConfirmForm()), 400 if form.errors else 200


def _last_day(account) -> date | None:
    """The last day of access of an account (or of a row with its `access_ends_at`)."""
    return last_local_day(account.access_ends_at) if account.access_ends_at else None


#: refusals of the directory's own rules, worded as wherever else they apply (Préférences, the
#: import's preview, creation by hand)
_RULES_WORDED = {"name_control", "redirect_inside"}


def _edit_refusal(refused: EditRefused) -> str:
    if refused.code in _RULES_WORDED:
        return said(Reason(refused.code, refused.params))
    return {
        "missing_name": gettext("Le nom et le prénom sont obligatoires."),
        "too_long": gettext("Le nom ou le prénom dépasse 100 caractères."),
        "unknown_class": gettext("Cette classe n'est pas une classe de ses établissements."),
        "unknown_child": gettext("Aucun compte que vous administrez n'a l'identifiant "
                                 "« %(login)s ».", login=refused.params.get("login", "")),
        "not_a_pupil": gettext("« %(login)s » n'est pas un compte d'élève : seul un élève "
                               "peut être l'enfant d'un compte.",
                               login=refused.params.get("login", "")),
        "shared_account": gettext("Ce compte appartient aussi à un établissement que vous "
                                  "n'administrez pas : vous ne pouvez changer ni son nom, ni "
                                  "son profil, ni son adresse de redirection, ni son dernier "
                                  "jour d'accès."),
        "own_access_end": gettext("Vous ne pouvez pas limiter votre propre accès."),
        "access_end_past": gettext("Le dernier jour d'accès ne peut pas être déjà passé : "
                                   "pour arrêter l'accès maintenant, suspendez le compte."),
    }.get(refused.code, gettext("Modification impossible."))


@bp.route("/comptes/<int(max=2147483647):account_id>/suspension", methods=["POST"])
@administrator_required
def suspension(account_id: int):
    target = _account_or_404(account_id)
    form = SuspendForm()
    if not form.validate_on_submit():
        abort(400)
    suspend = form.suspendre.data == "1"
    refused = rules.set_suspended(current_user, [target], suspend)
    if Refusal.SELF in refused:
        flash(_own_account_refused(suspend), "warning")
    elif refused:
        flash(gettext("Ce compte appartient aussi à un établissement que vous n'administrez "
                      "pas : seul un administrateur de tous ses établissements peut le "
                      "suspendre ou le réactiver ; pour le retirer du vôtre, supprimez-le."),
              "warning")
    else:
        db.session.commit()
        flash(gettext("Compte de %(name)s suspendu : il ne peut plus se connecter et les "
                      "messages qui lui sont écrits sont refusés.", name=target.full_name)
              if suspend else gettext("Compte de %(name)s réactivé.", name=target.full_name),
              "success")
    return redirect(url_for(".account", account_id=target.id), code=303)


@bp.route("/comptes/<int(max=2147483647):account_id>/mot-de-passe", methods=["POST"])
@administrator_required
def password(account_id: int):
    target = _account_or_404(account_id)
    form = PasswordForm()
    if not form.validate_on_submit() or (form.mode.data == "saisir"
                                         and not form.mot_de_passe.data):
        errors = [e for errs in form.errors.values() for e in errs] or [
            gettext("Saisissez le mot de passe.")]
        flash(" ".join(str(e) for e in errors), "error")
        return redirect(url_for(".account", account_id=target.id), code=303)
    if form.mode.data == "envoyer" and not target.verified_redirect:
        flash(gettext("%(name)s n'a pas d'adresse de redirection vérifiée : imprimez une "
                      "fiche ou saisissez un mot de passe.", name=target.full_name), "warning")
        return redirect(url_for(".account", account_id=target.id), code=303)
    if form.mode.data != "saisir" and form.confirme.data != "1":
        return _confirm_new_password(target, form.mode.data)
    typed = form.mot_de_passe.data if form.mode.data == "saisir" else None
    return reset_and_report([target], mode=form.mode.data, password=typed)


def _confirm_new_password(target, mode: str):
    """A generated password replaces the current one at once: the page first says so, and
    the button replaces it (« fiche » posts to `sheet`, « envoyer » back here, confirmed)."""
    return render_template("admin/sheet_confirm.html", account=target, mode=mode,
                           form=PasswordForm(formdata=None, mode=mode, confirme="1"),
                           hers_alone=not rules.not_hers_alone(current_user, [target]))


def reset_and_report(accounts, *, mode: str, password: str | None = None,
                     first_only: bool = False, back: str | None = None):
    """New passwords: mailed to verified redirect addresses (mode "envoyer"), else printed
    on sheets; a typed one is only confirmed (the administrator hands it over).
    `first_only`: the sheets of accounts still without a password (rules.reset_passwords),
    then `back` when none is left."""
    reset = rules.reset_passwords(current_user, accounts, password, first_only=first_only)
    if reset.refused:
        _flash_shared_passwords(len(reset.refused))
    results = reset.new
    if not results:
        if first_only:
            flash(gettext("Aucun compte n'attend sa fiche."), "info")
        return redirect(back or (url_for(".account", account_id=accounts[0].id)
                                 if len(accounts) == 1 else url_for(".accounts")), code=303)
    mails = [new for new in results if mode == "envoyer" and new.mail_to]
    send_passwords([{"account_id": new.account.id, "to": new.mail_to,
                     "name": new.account.full_name,
                     "login": new.account.login, "password": new.password} for new in mails],
                   author_id=current_user.id)
    mailed = {id(new) for new in mails}
    sheets = [new for new in results if mode != "saisir" and id(new) not in mailed]
    db.session.commit()
    mailed = len(results) - len(sheets) if mode != "saisir" else 0
    if mode == "saisir":
        flash(gettext("Mot de passe de %(name)s changé : il devra le changer à la prochaine "
                      "connexion.", name=results[0].account.full_name), "success")
    elif mailed:
        flash(ngettext("%(num)d mot de passe envoyé par courriel.",
                       "%(num)d mots de passe envoyés par courriel.", mailed), "success")
    if sheets:
        return render_template("admin/sheets.html", sheets=sheets,
                               classes=rules.administered_classes_by_account(
                                   current_user, [s.account.id for s in sheets]))
    target = url_for(".account", account_id=results[0].account.id) if len(accounts) == 1 \
        else url_for(".accounts")
    return redirect(target, code=303)


@bp.route("/comptes/<int(max=2147483647):account_id>/fiche", methods=["GET", "POST"])
@administrator_required
def sheet(account_id: int):
    """The sheet carries a new password: the page first says the current one will stop
    working, and the sheet is made by its button."""
    target = _account_or_404(account_id)
    if request.method == "GET":
        return _confirm_new_password(target, "fiche")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return reset_and_report([target], mode="fiche")


@bp.route("/comptes/<int(max=2147483647):account_id>/suppression", methods=["GET", "POST"])
@administrator_required
def delete(account_id: int):
    if request.method == "POST":
        # The account locked before it is read: the same deletion sent twice at once (a
        # double click, two administrators) is made one after the other, and the second one
        # reads the account after the first one's commit, so finds it gone (a 404) instead
        # of deleting its school links a second time (a StaleDataError, a 500, on
        # PostgreSQL).
        lock_account(account_id)
    target = _account_or_404(account_id)
    elsewhere = rules.schools_beyond_reach(current_user, target)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = target.full_name
        deletion = mailbox.delete_accounts(current_user, [target])
        if deletion.refused:
            flash(gettext("Vous ne pouvez pas supprimer votre propre compte."), "warning")
            return redirect(url_for(".account", account_id=account_id), code=303)
        db.session.commit()
        if deletion.withdrawn:
            flash(gettext("%(name)s est retiré de votre établissement ; son compte reste dans "
                          "les autres.", name=name), "success")
        else:
            flash(gettext("Le compte de %(name)s est supprimé.", name=name), "success")
        return redirect(url_for(".accounts"), code=303)
    messages = db.session.scalar(select(func.count()).select_from(MailboxItem)
                                 .where(MailboxItem.account_id == target.id))
    return render_template("admin/delete.html", account=target, form=form, messages=messages,
                           elsewhere=elsewhere)


@bp.route("/comptes/nouveau", methods=["GET", "POST"])
@administrator_required
def new_account():
    form = NewAccountForm() if request.method == "POST" else NewAccountForm(
        formdata=None, cle=uuid.uuid4().hex)
    schools = rules.administered_schools(current_user)
    form.etablissement.choices = [choice(str(s.id), f"{s.name} ({s.uai})") for s in schools]
    if form.validate_on_submit():
        school = rules.administered_school(current_user, int(form.etablissement.data))
        if school is None:
            abort(404)
        new = rules.NewAccount(
            school=school, first_name=form.prenom.data, last_name=form.nom.data,
            profile=Profile(form.profil.data), redirect_address=form.redirection.data or "",
            password=form.mot_de_passe.data if form.envoi.data == "saisir" else "",
            form_key=form.cle.data or "")
        first = rules.created_by_form(current_user, new)
        if first is not None:
            return _created_already(first)
        if form.envoi.data == "envoyer" and not form.redirection.data:
            form.redirection.errors.append(gettext(
                "Pour envoyer le mot de passe, saisissez l'adresse de redirection."))
        elif form.envoi.data == "saisir" and not form.mot_de_passe.data:
            form.mot_de_passe.errors.append(gettext("Saisissez le mot de passe."))
        else:
            try:
                created, plain = rules.create_by_hand(current_user, new)
                if form.envoi.data == "envoyer":
                    send_password(account_id=created.id, author_id=current_user.id,
                                  to=created.redirect_address,
                                  name=created.full_name,
                                  login=created.login, password=plain)
                db.session.commit()
            except InvalidInput as error:
                db.session.rollback()
                form.form_errors.append(said(error))
            except IntegrityError:
                # the same form sent twice at once: the other sending created it first
                db.session.rollback()
                first = rules.created_by_form(current_user, new)
                if first is None:
                    raise
                return _created_already(first)
            else:
                flash(gettext("Compte créé : identifiant %(login)s.", login=created.login)
                      + (" " + gettext("Le mot de passe a été envoyé à %(address)s.",
                                       address=created.redirect_address)
                         if form.envoi.data == "envoyer" else ""), "success")
                return redirect(url_for(".account", account_id=created.id), code=303)
    return render_template("admin/new_account.html", form=form), 400 if form.errors else 200


def _created_already(account):
    flash(gettext("Ce formulaire a déjà créé le compte %(login)s : le voici.",
                  login=account.login), "info")
    return redirect(url_for(".account", account_id=account.id), code=303)
