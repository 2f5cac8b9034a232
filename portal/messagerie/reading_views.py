"""Reading a message: its text as text, its HTML sanitised in a sandboxed frame (a document
of its own with its own Content-Security-Policy, see portal/mail_html.py) with the pictures
sent inside it, its attachments downloaded as files, and the read-receipt question."""
from __future__ import annotations

import re
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import mailbox, mime, personalise, store
from mailgate.models import FolderKind, MailAttachment, MailBlob

from .. import mail_html
from ..i18n import said
from ..saving import FAILED, saved
from . import receipts
from .blueprint import ID, bp, move_targets, sidebar
from .forms import ReceiptForm, SelectionForm

ITEM_ID = ID.format("item_id")
# The types an attachment is served with as its sender declared them: what a browser shows or
# hands to an application, never a script, a style sheet or a page (with nosniff, a browser
# runs none of these as one). Any other (text/html, text/javascript, text/css, image/svg+xml…)
# goes out as application/octet-stream: on the portal's own origin, a file anyone could mail
# in must not be a script that `script-src 'self'` would let a page load.
_SERVED_AS_DECLARED = re.compile(
    r"^(image/(png|jpeg|gif|webp)|application/pdf|text/plain|text/csv|(audio|video)/[a-z0-9.+-]+"
    r"|application/(msword|vnd\.ms-(excel|powerpoint)|rtf"
    r"|vnd\.(openxmlformats-officedocument|oasis\.opendocument)\.[a-z0-9.+-]+))$")


@bp.route(f"/message/{ITEM_ID}")
def read(item_id: int):
    item, message = store.item_of(current_user, item_id)
    if item.folder_id == mailbox.system_folder(current_user, FolderKind.DRAFTS).id:
        return redirect(url_for(".compose", brouillon=item.id))
    if not item.is_read:
        mailbox.mark(current_user, [item.id])
    # The marking, and the parts item_of may have just read (indexer.index_now): the page
    # links to the attachments' rows it wrote, which must outlive the request.
    db.session.commit()
    ask = receipts.should_ask(current_user, item, message)
    attachments = db.session.scalars(select(MailAttachment).where(
        MailAttachment.message_id == message.id).order_by(MailAttachment.position)).all()
    side = sidebar()
    side["current_folder"] = next((f for f in side["folders"] if f.id == item.folder_id), None)
    remote = bool(message.html_body) and mail_html.has_remote_images(
        mail_html.sanitize(message.html_body))
    return render_template(
        "messagerie/read.html", item=item, message=message, attachments=attachments,
        ask_receipt=ask, receipt_form=ReceiptForm(formdata=None),
        actions=SelectionForm(formdata=None), remote_images=remote,
        frame_sandbox=mail_html.FRAME_SANDBOX,
        show_images=request.args.get("images") == "1",
        targets=move_targets(side, side["current_folder"]),
        author_view=message.author_id == current_user.id,
        author=db.session.get(Account, message.author_id) if message.author_id else None,
        text=personalise.text_for(_shown_text(message), message.id, current_user.id), **side)


def _shown_text(message) -> str:
    """The text shown; a malformed message's notice is the page's, in the reader's language
    (messages stored before it was have the French one at the head of their text)."""
    if message.malformed:
        return message.text_body.removeprefix(mime.MALFORMED_NOTICE)
    return message.text_body


@bp.route(f"/message/{ITEM_ID}/contenu")
def html_frame(item_id: int):
    """The sanitised HTML as its own document, for `<iframe sandbox>` on the same origin."""
    _item, message = store.item_of(current_user, item_id)
    if not message.html_body:
        abort(404)
    show_images = request.args.get("images") == "1"
    document = mail_html.frame_document(
        mail_html.sanitize(message.html_body, _inline_images(message.id)))
    response = Response(document, mimetype="text/html")
    response.headers["Content-Security-Policy"] = mail_html.frame_csp(show_images)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _inline_images(message_id: int) -> dict[str, mail_html.InlineImage]:
    """Content-ID → the pictures sent inside the message that its HTML may show in place
    (mail_html.inline_parts chooses them)."""
    parts = db.session.execute(
        select(MailAttachment.id, MailAttachment.content_type, MailAttachment.size)
        .where(MailAttachment.message_id == message_id, MailAttachment.content_id.is_not(None))
        .order_by(MailAttachment.position)).all()
    chosen = mail_html.inline_parts(mail_html.InlinePart(*part) for part in parts)
    if not chosen:
        return {}
    rows = db.session.execute(
        select(MailAttachment.content_id, MailAttachment.content_type, MailBlob.data)
        .join(MailBlob, MailBlob.sha256 == MailAttachment.blob_sha256)
        .where(MailAttachment.id.in_(chosen)))
    return {row.content_id: mail_html.inline_image(row.content_type, row.data) for row in rows}


@bp.route(f"/piece/{ID.format('attachment_id')}")
def attachment(attachment_id: int):
    content = store.attachment_for(current_user, attachment_id)
    kind = content.content_type.lower()
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", content.filename) or "piece-jointe"
    response = Response(content.data, mimetype=kind if _SERVED_AS_DECLARED.match(kind)
                        else "application/octet-stream")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; "
        f"filename*=UTF-8''{quote(content.filename or ascii_name, safe='')}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route(f"/message/{ITEM_ID}/accuse", methods=["POST"])
def receipt(item_id: int):
    form = ReceiptForm()
    if not form.validate_on_submit():
        abort(400)
    result = saved(lambda: receipts.answer(current_user, item_id,
                                           send=form.reponse.data == "oui"))
    if result is not FAILED:
        if result is None:
            flash(gettext("Aucun accusé de réception ne sera envoyé."), "info")
        elif result.accepted:
            flash(gettext("L'accusé de réception a été envoyé à %(name)s.",
                          name=result.recipients[0].name), "success")
        else:
            flash(said(result.recipients[0].why), "error")
    return redirect(url_for(".read", item_id=item_id), code=303)
