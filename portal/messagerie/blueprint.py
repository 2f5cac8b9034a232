"""The `messagerie` blueprint and what its pages share: login required everywhere, the folder
sidebar with the quota, the errors of our own turned into 404 or a flashed refusal, and the
safe "back to where you were" redirect."""
from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from directory.db import db
from directory.errors import NotFound
from mailgate import mailbox
from mailgate import settings as mail_settings
from mailgate.models import FolderKind

from ..errors import MESSAGES
from . import display

bp = Blueprint("messagerie", __name__, url_prefix="/messagerie")

ID = "<int(max=2147483647):{}>"


# Pages without the folder sidebar: the recipient picker (a search page, also loaded into
# the compose page's dialog) need not read the folders.
WITHOUT_FOLDERS = frozenset({"messagerie.picker"})


@bp.before_request
@login_required
def _logged_in():
    """Every page with the sidebar needs the account's folders: they are created the first
    time (and committed then, whatever the request)."""
    if request.endpoint in WITHOUT_FOLDERS:
        return
    g.mail_folders, created = mailbox.folders(current_user)
    if created:
        db.session.commit()


@bp.errorhandler(NotFound)
def _not_found(error):
    """Someone else's message, folder, attachment or group: the ordinary 404 page."""
    title, text = MESSAGES[404]
    return render_template("error.html", title=gettext(title), text=gettext(text),
                           code=404), 404


@bp.context_processor
def _helpers():
    return {"list_date": display.list_date, "full_date": display.full_date,
            "size_kb": display.size_kb, "size_text": display.size_text,
            "names": display.names,
            "FolderKind": FolderKind}


def settings():
    return mail_settings.from_app(current_app._get_current_object())


def sidebar(current_folder=None) -> dict:
    """Folders with their counts, the quota and the current folder: every page shows them."""
    folders = g.mail_folders
    quota = mailbox.quota(current_user, settings().quota_bytes)
    return {"folders": folders, "counts": mailbox.folder_counts(current_user), "quota": quota,
            "current_folder": current_folder, "has_inbox": mailbox.has_inbox(current_user),
            "home_kind": mailbox.home_kind(current_user)}


def reserved_names() -> list[str]:
    """The system folders' names as the reader reads them: no own folder may take one."""
    return [gettext(kind.label) for kind in FolderKind if kind != FolderKind.USER]


def move_targets(side: dict, current=None) -> list:
    """Where ticked messages may be moved: the inbox and one's own folders (the Corbeille
    is what "Supprimer" does; Brouillons, Messages envoyés and Boîte d'envoi are filled by
    writing, not by filing). Nowhere from Brouillons: a draft stays one (mailbox.move); from
    the Corbeille, Brouillons too, for the drafts deleted there."""
    kind = getattr(current, "kind", None)
    if kind == FolderKind.DRAFTS:
        return []
    kinds = (FolderKind.INBOX, FolderKind.USER) + \
        ((FolderKind.DRAFTS,) if kind == FolderKind.TRASH else ())
    return [f for f in side["folders"] if f.id != getattr(current, "id", None)
            and f.kind in kinds]


def back(default: str | None = None):
    """303 to the `retour` field when it is a Messagerie page (never an outside address)."""
    target = request.form.get("retour", "") or request.args.get("retour", "")
    if not (target.startswith(bp.url_prefix + "/") and "//" not in target and "\\" not in target):
        target = default or url_for("messagerie.index")
    return redirect(target, code=303)
