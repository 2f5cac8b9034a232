"""CSV import in the browser (SPEC §8): upload, preview row by row, apply batch by batch
with a progress bar, then print the sheets of the accounts that have no password yet.

The uploaded file is kept in the database (directory.import_models.AccountImport), so any
web process serves the next step. Applying is one request per batch (JavaScript shows the
progress); without JavaScript the apply button runs every batch in one request.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from math import ceil
from typing import NamedTuple

from flask import (
    abort,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from directory import account_admin as rules
from directory.account_file import FileRefused, read_account_file
from directory.account_import import Application, Fate, apply_batch, plan_import, prepared
from directory.db import db

from ..directory_forms import choice
from ..directory_pages import asked_page
from ..i18n import said
from . import bp, wording
from .access import administrator_required
from .accounts import reset_and_report
from .forms import ConfirmForm, UploadForm
from .password_mail import send_passwords

WEB_BATCH = 200
SHEETS_AT_ONCE = 2000
PREVIEW_PAGE = 500      # rows of the preview a page shows (a school's file: up to 50,000)
ERROR_LINES_SHOWN = 200  # line numbers in error the result page names
APPLICATIONS_KEPT = 2   # files being applied whose reading a process keeps (`_application`)
#: how the preview names the encoding a file was read in
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16",
                  "cp1252": "Windows-1252"}

_applications: OrderedDict[tuple, Application] = OrderedDict()
_applications_lock = threading.Lock()


class PreviewPage(NamedTuple):
    number: int
    pages: int


def mail_generated_passwords(created) -> None:
    """Run inside each batch's transaction: the generated passwords leave with it, by the
    signed-in administrator (none on the command line)."""
    importer = current_user.id if has_request_context() and current_user.is_authenticated \
        else None
    send_passwords([{"account_id": account.account_id, "to": account.email,
                     "name": f"{account.first_name} {account.last_name}",
                     "login": account.login, "password": account.password}
                    for account in created if account.password and account.email],
                   author_id=importer)


@bp.route("/import", methods=["GET", "POST"])
@administrator_required
def upload():
    form = UploadForm()
    form.etablissement.choices = [choice(str(s.id), f"{s.name} ({s.uai})")
                                  for s in rules.administered_schools(current_user)]
    if form.validate_on_submit():
        school = rules.administered_school(current_user, int(form.etablissement.data)) \
            or abort(404)
        content = form.fichier.data.read()
        try:
            read_account_file(content)
        except FileRefused as refused:
            form.fichier.errors.append(said(refused))
        else:
            kept = rules.keep_upload(current_user, school, form.fichier.data.filename or "",
                                     content, bool(form.creer_classes.data))
            db.session.commit()
            return redirect(url_for(".preview", import_id=kept.id), code=303)
    return render_template("admin/import.html", form=form), 400 if form.errors else 200


def _upload_or_404(import_id: int):
    return rules.administered_import(current_user, import_id) or abort(404)


@bp.route("/import/<int(max=2147483647):import_id>")
@administrator_required
def preview(import_id: int):
    kept = _upload_or_404(import_id)
    if kept.finished_at is not None:
        return redirect(url_for(".result", import_id=kept.id))
    school = rules.administered_school(current_user, kept.school_id) or abort(404)
    plan = plan_import(school, kept.content, create_classes=kept.create_classes,
                       importer=current_user._get_current_object())
    db.session.rollback()
    errors_only = request.args.get("erreurs") == "1"
    rows = [r for r in plan.rows if r.fate == Fate.ERROR] if errors_only else plan.rows
    number = asked_page()
    pages = max(1, ceil(len(rows) / PREVIEW_PAGE))
    if not 1 <= number <= pages:
        abort(404)
    return render_template("admin/import_preview.html", kept=kept, plan=plan, school=school,
                           rows=rows[(number - 1) * PREVIEW_PAGE:number * PREVIEW_PAGE],
                           page=PreviewPage(number, pages), errors_only=errors_only,
                           encoding=ENCODING_NAMES.get(plan.file.encoding, plan.file.encoding),
                           Fate=Fate, wording=wording, said=said,
                           confirm=ConfirmForm())


@bp.route("/import/<int(max=2147483647):import_id>/lot", methods=["POST"])
@administrator_required
def apply_next_batch(import_id: int):
    """One batch; JSON for the progress bar, from what the kept file records (another tab
    may have applied the batch meanwhile: this one then counted nothing)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kept = _upload_or_404(import_id)
    total = _apply(kept).total if kept.finished_at is None else None
    kept = _upload_or_404(import_id)
    return jsonify(done=kept.rows_done, total=total or kept.rows_done,
                   finished=kept.finished_at is not None,
                   created=kept.created_count, updated=kept.updated_count,
                   next=url_for(".result", import_id=kept.id))


@bp.route("/import/<int(max=2147483647):import_id>/appliquer", methods=["POST"])
@administrator_required
def apply_all(import_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kept = _upload_or_404(import_id)
    while kept.finished_at is None:
        _apply(kept)
        kept = _upload_or_404(import_id)
    return redirect(url_for(".result", import_id=kept.id), code=303)


def _apply(kept):
    """The next batch of `kept`, its progress recorded in the batch's own transaction."""
    school = rules.administered_school(current_user, kept.school_id) or abort(404)
    key = (kept.id, kept.created_at)
    result = apply_batch(school, _application(kept, key), kept.rows_done,
                         create_classes=kept.create_classes, size=WEB_BATCH,
                         before_commit=mail_generated_passwords,
                         importer=current_user._get_current_object(), upload_id=kept.id)
    if result.finished:
        with _applications_lock:
            _applications.pop(key, None)
    return result


def _application(kept, key: tuple) -> Application:
    """The kept file read, ordered and searched for duplicates once per process for all its
    batches, whether one request applies them all or JavaScript sends one per batch (read
    again at each, a school's 50,000-row file cost the square of its size). Keyed by the
    upload's id and time: an id SQLite gives again is another file."""
    with _applications_lock:
        if key in _applications:
            _applications.move_to_end(key)
            return _applications[key]
    application = prepared(read_account_file(kept.content))
    with _applications_lock:
        _applications[key] = application
        while len(_applications) > APPLICATIONS_KEPT:
            _applications.popitem(last=False)
    return application


@bp.route("/import/<int(max=2147483647):import_id>/resultat")
@administrator_required
def result(import_id: int):
    kept = _upload_or_404(import_id)
    lines = kept.lines_in_error
    return render_template("admin/import_result.html", kept=kept,
                           waiting=rules.awaiting_sheet_count(current_user, kept.school_id),
                           batch=SHEETS_AT_ONCE, lines_in_error=lines[:ERROR_LINES_SHOWN],
                           more_errors=len(lines) > ERROR_LINES_SHOWN,
                           summary=wording.summary(kept.created_count, kept.updated_count,
                                                   len(lines)),
                           confirm=ConfirmForm())


@bp.route("/import/<int(max=2147483647):import_id>/fiches", methods=["POST"])
@administrator_required
def sheets(import_id: int):
    """The sheets of the school's accounts still without a password. Printed from two tabs
    at once, each account's sheet comes out of one only (`first_only`): the other's password
    would not have worked."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kept = _upload_or_404(import_id)
    return reset_and_report(rules.awaiting_sheet(current_user, kept.school_id, SHEETS_AT_ONCE),
                            mode="fiche", first_only=True,
                            back=url_for(".result", import_id=kept.id))
