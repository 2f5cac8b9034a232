"""Folder pages: the list of a folder (sort, pages), the search, the actions on ticked
messages, emptying the Corbeille and managing one's own folders."""
from __future__ import annotations

from math import ceil

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from directory.db import write_transaction
from directory.errors import InvalidInput
from directory.search import id_from
from mailgate import mailbox
from mailgate.models import FolderKind

from ..directory_forms import ConfirmForm, choice
from ..i18n import said
from ..saving import FAILED, saved
from .blueprint import ID, back, bp, move_targets, reserved_names, sidebar
from .forms import DeleteFolderForm, FolderNameForm, ListForm, SearchForm, SelectionForm
from .listing import PER_PAGE, folder_listing, shows_recipients
from .search import search as search_messages

FOLDER_ID = ID.format("folder_id")


@bp.route("/")
def index():
    return _folder_page(mailbox.system_folder(current_user, mailbox.home_kind(current_user)))


@bp.route(f"/dossier/{FOLDER_ID}")
def folder(folder_id: int):
    return _folder_page(mailbox.owned_folder(current_user, folder_id))


def _folder_page(folder):
    form = ListForm(formdata=request.args)
    recipients = shows_recipients(folder)
    if recipients:      # what the list shows in place of the sender, and sorts by
        form.tri.choices = [
            choice(value, gettext("Destinataires") if value == "expediteur" else label)
            for value, label, *_ in form.tri.choices]
    side = sidebar(folder)
    listing, status = None, 400
    if form.validate():
        total = side["counts"].get(folder.id, (0, 0))[0]
        pages = max(1, ceil(total / PER_PAGE))
        if form.page_number() > pages:
            form.page.errors.append(gettext("Cette page n'existe pas : le dossier tient sur "
                                            "%(pages)d page(s).", pages=pages))
            status = 404
        else:
            listing, status = folder_listing(
                current_user, folder, total, form.page_number(), sort=form.tri.data,
                order=form.ordre.data), 200
    return render_template("messagerie/folder.html", form=form, listing=listing,
                           search=SearchForm(formdata=None), targets=move_targets(side, folder),
                           recipients_column=recipients, **side), status


@bp.route("/recherche")
def search():
    form = SearchForm(formdata=request.args)
    side = sidebar()
    listing, status = None, 400
    if form.validate():
        try:
            listing, status = search_messages(current_user, form.q.data,
                                              form.page_number()), 200
        except InvalidInput as error:
            form.q.errors.append(said(error))
        if listing is not None and listing.number > listing.pages:     # as a folder's page
            form.page.errors.append(gettext("Cette page n'existe pas : la recherche tient sur "
                                            "%(pages)d page(s).", pages=listing.pages))
            listing, status = None, 404
    return render_template("messagerie/search.html", search=form, listing=listing,
                           targets=move_targets(side, None), **side), status


@bp.route("/selection", methods=["POST"])
def selection():
    form = SelectionForm()
    if not form.validate_on_submit():
        abort(400)
    ids = _ticked()

    trashed = 0

    def work() -> str | None:
        """None: messages of the Corbeille would go for good, ask first."""
        nonlocal trashed
        if form.action.data == "supprimer" and not form.confirme.data:
            trashed = mailbox.in_trash(current_user, mailbox.owned_item_ids(current_user, ids))
            if trashed:
                return None
        return _apply(form, ids)

    message = saved(lambda: write_transaction(work))
    if message is None:
        return render_template("messagerie/confirm_delete.html", ids=ids, trashed=trashed,
                               form=SelectionForm(formdata=None),
                               retour=request.form.get("retour", ""))
    if message is not FAILED and message:   # "": deleted meanwhile by the same form sent twice
        flash(message, "success")
    return back()


def _ticked() -> list[int]:
    ids = [id_from(v) for v in request.form.getlist("item")]
    if None in ids:
        abort(400)
    return ids


def _apply(form: SelectionForm, ids: list[int]) -> str:
    action = form.action.data
    if action == "deplacer":
        if not form.destination.data:
            raise InvalidInput(gettext("Choisissez le dossier où déplacer les messages."))
        target = mailbox.owned_folder(current_user, form.destination.data)
        moved = mailbox.move(current_user, ids, target)
        return ngettext("%(num)d message déplacé dans « %(folder)s ».",
                        "%(num)d messages déplacés dans « %(folder)s ».", moved,
                        folder=gettext(target.label))
    if action in ("lu", "non-lu"):
        marked = mailbox.mark(current_user, ids, action == "lu")
        if action == "lu":
            return ngettext("%(num)d message marqué comme lu.",
                            "%(num)d messages marqués comme lus.", marked)
        return ngettext("%(num)d message marqué comme non lu.",
                        "%(num)d messages marqués comme non lus.", marked)
    trashed, destroyed = mailbox.delete(current_user, ids)
    parts = []
    if trashed:
        parts.append(ngettext("%(num)d message mis dans la Corbeille.",
                              "%(num)d messages mis dans la Corbeille.", trashed))
    if destroyed:
        parts.append(ngettext("%(num)d message supprimé définitivement.",
                              "%(num)d messages supprimés définitivement.", destroyed))
    return " ".join(parts)


@bp.route("/corbeille/vider", methods=["GET", "POST"])
def empty_trash():
    trash = mailbox.system_folder(current_user, FolderKind.TRASH)
    form = ConfirmForm()
    if form.validate_on_submit():
        # Counted from what this request deleted: the form sent twice at once says 0 the
        # second time (mailgate.store.delete_items); on SQLite it writes from its first read.
        destroyed = write_transaction(lambda: mailbox.empty_trash(current_user))
        flash(ngettext("La Corbeille est vide : %(num)d message supprimé définitivement.",
                       "La Corbeille est vide : %(num)d messages supprimés définitivement.",
                       destroyed), "success")
        return redirect(url_for(".folder", folder_id=trash.id), code=303)
    return render_template("messagerie/empty_trash.html", form=form,
                           count=mailbox.count_in(trash), trash=trash)


@bp.route("/dossiers", methods=["GET", "POST"])
def folders():
    form = FolderNameForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            created = saved(lambda: mailbox.create_folder(
                current_user, form.name.data, reserved=reserved_names()), errors=form.name.errors)
            if created is not FAILED:
                flash(gettext("Le dossier « %(name)s » est créé.", name=created.name),
                      "success")
                return redirect(url_for(".folders"), code=303)
        status = 400
    return render_template("messagerie/folders.html", form=form, **sidebar()), status


@bp.route(f"/dossier/{FOLDER_ID}/renommer", methods=["GET", "POST"])
def rename_folder(folder_id: int):
    target = _own_folder(folder_id)
    form = FolderNameForm(obj=target)
    if form.validate_on_submit():
        if saved(lambda: mailbox.rename_folder(current_user, target, form.name.data,
                                               reserved=reserved_names()),
                 errors=form.name.errors) is not FAILED:
            flash(gettext("Le dossier s'appelle désormais « %(name)s ».", name=target.name),
                  "success")
            return redirect(url_for(".folders"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("messagerie/rename_folder.html", form=form, target=target,
                           **sidebar()), status


@bp.route(f"/dossier/{FOLDER_ID}/supprimer", methods=["GET", "POST"])
def delete_folder(folder_id: int):
    target = _own_folder(folder_id)
    form = DeleteFolderForm()
    held = mailbox.count_in(target)
    if form.validate_on_submit():
        name = target.name
        # Read again in the writing transaction: a move into it waits for its end (see
        # mailbox.delete_folder).
        moved = saved(lambda: write_transaction(lambda: mailbox.delete_folder(
            current_user, _own_folder(folder_id), move_to_home=form.deplacer.data)),
            errors=form.deplacer.errors)
        if moved is not FAILED:
            home = gettext(mailbox.home_kind(current_user).label)
            flash(ngettext("Le dossier « %(name)s » est supprimé ; son message est dans "
                           "« %(home)s ».",
                           "Le dossier « %(name)s » est supprimé ; ses %(num)d messages sont "
                           "dans « %(home)s ».", moved, name=name, home=home)
                  if moved else gettext("Le dossier « %(name)s » est supprimé.", name=name),
                  "success")
            return redirect(url_for(".folders"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("messagerie/delete_folder.html", form=form, target=target,
                           held=held, **sidebar()), status


def _own_folder(folder_id: int):
    target = mailbox.owned_folder(current_user, folder_id)
    if target.kind != FolderKind.USER:
        abort(404)
    return target
