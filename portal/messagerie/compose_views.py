"""The compose page: start from nothing, a person of the Annuaire, a reply, a forward or a
draft; send, save as draft, or — without JavaScript — save and open the picker, or remove a
chip. After sending, the per-recipient result of the routing."""
from __future__ import annotations

import hashlib
import uuid

from flask import abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user

from directory.db import write_transaction
from directory.errors import InvalidInput
from directory.rights import writable
from directory.search import id_from
from mailgate import mailbox, store
from mailgate.routing import MAX_RECIPIENTS

from ..i18n import said
from ..saving import FAILED, saved
from . import compose, drafts, recipients, typed
from .blueprint import bp, settings, sidebar
from .compose import Composition
from .forms import ComposeForm

RESULT_KEY = "messagerie.sent"
# Send; save the draft; save it and open the picker (no JavaScript); remove a chip (idem);
# add the person typed in « Ajouter une personne » (idem, or no suggestion chosen).
ACTIONS = ("envoyer", "brouillon", "destinataires", "retirer", "ajouter")


def int_arg(values, name: str) -> int | None:
    value = values.get(name, "")
    if not value:
        return None
    number = id_from(value)
    if number is None:
        abort(404)
    return number


# Endpoint `compose`: the one the Annuaire's envelope links to (directory_pages.compose_link).
@bp.route("/ecrire", endpoint="compose")
def compose_page():
    comp = _starting_point()
    _add_tokens(comp, request.args.getlist("ajout"))
    form = ComposeForm(formdata=None, subject=comp.subject, body=comp.body,
                       receipt=comp.receipt, copy=comp.copy)
    return _page(form, comp)


def _starting_point() -> Composition:
    args = request.args
    for name, start in (("brouillon", drafts.load), ("transferer", compose.forward),
                        ("repondre", compose.reply),
                        ("repondre_tous", lambda a, i: compose.reply(a, i, everyone=True))):
        item_id = int_arg(args, name)
        if item_id is not None:
            return start(current_user, item_id)
    comp = Composition(copy=mailbox.has_inbox(current_user))
    person = int_arg(args, "destinataire")
    if person is not None:
        verdict = writable(current_user, [person]).get(person)
        if verdict is not None and verdict.allowed:
            comp.chips = recipients.resolve(current_user, [("to", recipients.PERSON, person)])
        elif verdict is not None and typed.in_perimeter(current_user, person):
            flash(said(verdict.why), "error")
        else:       # no name of anyone outside one's directory: ids must not reveal them
            flash(gettext("Destinataire inconnu."), "error")
    return comp


def _add_tokens(comp: Composition, tokens: list[str]) -> None:
    """Chips chosen in the picker without JavaScript (`ajout` values). Someone unknown or no
    longer in one's directory, or more chips than a form may hold, is said instead."""
    if not tokens:
        return
    known = [(c.field, c.kind, c.id) for c in comp.chips]
    try:
        entries = recipients.from_tokens(tokens, besides=len(known))
        comp.chips = recipients.resolve(current_user, known + entries)
    except InvalidInput as error:
        flash(said(error), "error")


@bp.route("/ecrire", methods=["POST"])
def compose_post():
    form = ComposeForm()
    comp = Composition(subject=form.subject.data or "", body=form.body.data or "",
                       receipt=form.receipt.data, copy=form.copy.data, key=_sending_key())
    action = "retirer" if request.form.get("retirer") else request.form.get("action", "envoyer")
    try:
        if action == "envoyer":     # sent already: its draft, its files may be gone
            compose.check_not_sent(current_user, comp)
        _read_form(comp)
    except compose.AlreadySent as first:
        return _already_sent(first)
    except InvalidInput as error:
        form.form_errors.append(said(error))
        return _page(form, comp, 400)
    if not form.validate_on_submit():
        return _page(form, comp, 400)
    if action not in ACTIONS:
        abort(400)
    if action == "ajouter":
        return _add_typed(form, comp)
    try:
        done = saved(lambda: write_transaction(
            lambda: compose.send(current_user, comp) if action == "envoyer"
            else drafts.save(current_user, comp)), errors=form.form_errors)
    except compose.AlreadySent as first:
        return _already_sent(first)
    if done is FAILED:
        if comp.uploads:
            form.form_errors.append(gettext("Joignez de nouveau vos fichiers : ils n'ont pas "
                                            "été conservés."))
        return _page(form, comp, 400)
    if action == "envoyer":
        session[RESULT_KEY] = _summary(comp, done)
        return redirect(url_for(".sent"), code=303)
    if action == "destinataires":
        return redirect(url_for(".picker", brouillon=done,
                                champ=request.form.get("champ", "to")), code=303)
    if action == "brouillon":
        flash(gettext("Le brouillon est enregistré dans « Brouillons »."), "success")
    return redirect(url_for(".compose", brouillon=done), code=303)


def _sending_key() -> str | None:
    """The form's one-time key (`cle`, drawn when the page was shown) with what it sends: a
    double click sends once, and the same form sent again to other people or with another
    text (after « Précédent ») is a message of its own. None for a form without a key."""
    drawn = _drawn()
    if drawn is None:
        return None
    chips = sorted(f"{name}:{token}" for name in recipients.FIELDS
                   for token in request.form.getlist(name))
    parts = [drawn, *chips, request.form.get("subject", ""), request.form.get("body", "")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _already_sent(first: compose.AlreadySent):
    """The answer to a form sent again once its message has gone (a double click): the
    message sent, or where it would be."""
    if first.item_id is None:
        flash(gettext("Ce message est déjà envoyé."), "info")
        return redirect(url_for(".index"), code=303)
    flash(gettext("Ce message est déjà envoyé : le voici."), "info")
    return redirect(url_for(".read", item_id=first.item_id), code=303)


def _add_typed(form: ComposeForm, comp: Composition):
    """The typed person becomes a chip in the chosen field; the page comes back as it was."""
    field = request.form.get("champ", "to")
    if field not in recipients.FIELDS:
        abort(400)
    try:
        person = typed.resolve(current_user, request.form.get("saisie", ""))
    except InvalidInput as error:
        form.form_errors.append(error.message)
        return _page(form, comp, 400, typed_text=request.form.get("saisie", "")[:200])
    known = [(c.field, c.kind, c.id) for c in comp.chips]
    comp.chips = recipients.resolve(current_user, known + [(field, recipients.PERSON,
                                                             person.id)])
    if comp.uploads:
        form.form_errors.append(gettext("Joignez de nouveau vos fichiers : ils n'ont pas "
                                        "été conservés."))
    return _page(form, comp)


@bp.route("/suggestions")
def suggestions():
    """People matching what is typed in « Ajouter une personne », as JSON for the page's
    script: the text to show, the chip's token and label."""
    found = typed.suggestions(current_user, request.args.get("q", ""))
    return jsonify([{"text": typed.suggestion_text(a), "token": f"{recipients.PERSON}:{a.id}",
                     "label": a.full_name, "ids": str(a.id)} for a in found])


def _read_form(comp: Composition) -> None:
    """Chips, the message answered, kept and new files, the draft replaced. Someone else's
    id anywhere here is NotFound (→ 404)."""
    entries = recipients.from_form(request.form)
    removed = request.form.get("retirer")
    if removed:
        entries = [e for e in entries if e != recipients.parse_full(removed)]
    comp.chips = recipients.resolve(current_user, entries)
    comp.reply_item = int_arg(request.form, "reponse_a")
    if comp.reply_item is not None:
        store.item_of(current_user, comp.reply_item)
    comp.source_item = int_arg(request.form, "source")
    kept = [id_from(k) for k in request.form.getlist("garder")]
    if None in kept:
        abort(404)
    comp.kept = kept
    comp.draft_item = int_arg(request.form, "brouillon")
    if comp.draft_item is not None:
        mailbox.draft_item(current_user, comp.draft_item)
    files = [f for f in request.files.getlist("files") if f.filename]
    comp.uploads = [compose.upload(f.filename, f.mimetype, f.read()) for f in files]


def _page(form: ComposeForm, comp: Composition, status: int = 200, typed_text: str = ""):
    student = mailbox.has_inbox(current_user)
    if not student:
        form.copy.label.text = gettext("M'envoyer une copie")
    kept = compose.source_attachments(current_user, comp.source_item) \
        if comp.source_item is not None else []
    return render_template(
        "messagerie/compose.html", form=form, comp=comp, kept=kept,
        count=recipients.count(comp.chips), limit=MAX_RECIPIENTS,
        fields=recipients.FIELDS, field_labels=recipients.FIELD_LABELS,
        attachment_limit=compose.attachment_limit(), student=student,
        has_redirect=bool(current_user.verified_redirect), typed_text=typed_text,
        max_message=settings().max_message_bytes, sending_key=_drawn_key(), **sidebar()), status


def _drawn() -> str | None:
    drawn = request.form.get("cle", "")
    return drawn if 16 <= len(drawn) <= 64 and drawn.isascii() and drawn.isalnum() else None


def _drawn_key() -> str:
    """The one-time key the page's form carries: the one it came with (nothing was sent), or
    a new one."""
    return _drawn() or uuid.uuid4().hex


def _summary(comp: Composition, sent: compose.Sent) -> dict:
    """What the result page shows, small enough for the session cookie."""
    result = sent.result
    return {"subject": comp.subject[:120],
            "rows": [[r.name, r.address, r.outcome.value, said(r.why)]
                     for r in result.recipients],
            "notices": sent.notices,
            "copy": result.copy_folder.value if result.copy_folder else ""}


@bp.route("/envoye")
def sent():
    summary = session.get(RESULT_KEY)
    if not summary:
        return redirect(url_for(".index"))
    return render_template("messagerie/sent.html", summary=summary, **sidebar())
