""""Écrire à plusieurs": a teacher or a member of staff chooses people with filters, sees
how many, excludes some one by one, previews the merge fields for one of them, adds a
signature and attachments, and sends now or at a date and time (Europe/Paris) — or keeps a
draft. The message goes through the background fan-out like every population mailing
(mailgate/automations/scheduler.py), each recipient judged by the rights engine; the
history shows every message and, for each, every recipient's outcome."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy import false, select

from directory.audience import Audience, count
from directory.clock import local_time, utcnow
from directory.db import db
from directory.enums import Profile, Role
from directory.models import Group, School
from directory.search import name_key, prefix_condition, valid_id
from mailgate import fanout
from mailgate.automations import communications, merge
from mailgate.automations.communications import Cancel, CommunicationError, Draft, Problem
from mailgate.automations.models import Communication, Kind, Repeat
from mailgate.automations.schedule import to_utc

from .. import fanout_pages
from ..directory_forms import choice
from ..directory_pages import UNCAPPED, PageOutOfRange, asked_page, paginate
from ..i18n import N_, day_at_time
from ..messagerie import compose
from ..messagerie.display import size_text
from ..rubriques import labels
from .blueprint import ID, PROBLEMS, bp, own_message, portal_url, problem_text, writer
from .forms import PROFILES, ButtonForm, SignatureForm, WriteForm

SHOWN_PEOPLE = 100
#: groups an administrator's form lists at once (the region's are thousands: she searches)
LISTED_GROUPS = 200
#: groups one message may name: their ids are checked by one query (one IN list)
CHOSEN_GROUPS = 1000
REPORT_PAGE = 50
LIST_PAGE = 20


def group_choices(school_ids: list[int]) -> list[tuple[int, str]]:
    """The groups of the author's schools, classes first (a region administrator's page
    offers hers by `region_group_choices`)."""
    query = select(Group.id, Group.name, Group.kind).order_by(Group.kind, Group.name)
    if school_ids:
        query = query.where(Group.school_id.in_(school_ids))
    return [(row.id, row.name) for row in db.session.execute(query.limit(2000))]


def region_group_choices(chosen: list[int], search: str) -> tuple[list[tuple[int, str]], bool]:
    """An administrator's groups, out of the whole region's (thousands): those she chose,
    found by one query on their ids wherever they rank (an id no group has is left out, so
    refused as a choice), then at most LISTED_GROUPS others, classes first, those whose name
    starts with `search` when she searched; each named with its school (every school has
    its « 4A »). And whether more groups than those listed would match."""
    ids = sorted({i for i in chosen if valid_id(i)})[:CHOSEN_GROUPS]
    named = (select(Group.id, Group.name, School.name.label("school"))
             .join(School, School.id == Group.school_id)
             .order_by(Group.kind, Group.search_name, School.name, Group.id))
    picked = list(db.session.execute(named.where(Group.id.in_(ids)))) if ids else []
    others = named.where(Group.id.not_in(ids)) if ids else named
    if search.strip():
        key = name_key(search)
        others = others.where(prefix_condition(Group.search_name, key) if key else false())
    listed = list(db.session.execute(others.limit(LISTED_GROUPS + 1)))
    return ([(row.id, f"{row.name} ({row.school})") for row in picked + listed[:LISTED_GROUPS]],
            len(listed) > LISTED_GROUPS)


def audience_of(form: WriteForm, school_ids: list[int]) -> Audience:
    return Audience(school_ids=tuple(school_ids), group_ids=tuple(form.groupes.data or ()),
                    parents_of_group_ids=tuple(form.parents_de.data or ()),
                    profiles=tuple(Profile(p) for p in form.profils.data or ()),
                    roles=tuple(Role(r) for r in form.roles.data or ()),
                    inactive_days=form.inactifs.data,
                    never_logged_in=bool(form.jamais_connectes.data),
                    excluded_ids=tuple(form.exclus.data or ()))


def describe(audience: Audience, names: dict[int, str]) -> str:
    """The audience in words, for the author's lists and reports: with her filters and how
    many people she left out, which its recipients do not read (`to_label`)."""
    parts = _chosen(audience, names)
    if audience.roles:
        parts.append(", ".join(gettext(r.label) for r in audience.roles))
    if audience.inactive_days:
        parts.append(gettext("inactifs depuis plus de %(n)d jours", n=audience.inactive_days))
    if audience.never_logged_in:
        parts.append(gettext("jamais connectés"))
    if audience.excluded_ids:
        parts.append(ngettext("%(num)d personne exclue", "%(num)d personnes exclues",
                              len(audience.excluded_ids)))
    if parts:
        return " · ".join(parts)
    return gettext("Tous les membres de vos établissements") if audience.school_ids \
        else gettext("Tous les membres de la région")


def to_label(audience: Audience, names: dict[int, str]) -> str:
    """The audience as its recipients read it, in the To: of the message: the groups and
    profiles chosen, else the schools by their names — never the author's roles, inactivity
    and never-logged-in filters, nor how many she left out (a class's parents read that two
    families were left out, and that they were « inactifs »)."""
    parts = _chosen(audience, names)
    if parts:
        return " · ".join(parts)
    if not audience.school_ids:
        return gettext("Tous les membres de la région")
    schools = list(db.session.scalars(select(School.name).where(
        School.id.in_(audience.school_ids)).order_by(School.name)))
    return gettext("Tous les membres de %(space)s", space=", ".join(schools)) if schools \
        else gettext("Tous les membres de vos établissements")


def _chosen(audience: Audience, names: dict[int, str]) -> list[str]:
    """The groups and profiles chosen, in words."""
    parts = []
    if audience.group_ids:
        parts.append(", ".join(names.get(g, "?") for g in audience.group_ids))
    if audience.parents_of_group_ids:
        parts.append(gettext("Parents des élèves de %(groups)s", groups=", ".join(
            names.get(g, "?") for g in audience.parents_of_group_ids)))
    if audience.profiles:
        parts.append(", ".join(str(PROFILES[p]) for p in audience.profiles))
    return parts


def _signature_choices(form: WriteForm, editing: bool) -> dict[int, str]:
    """The author's signatures, the default one chosen on a new message (a draft's text
    already ends with the signature chosen when it was saved)."""
    signatures = communications.signatures_of(current_user)
    form.signature.choices = [choice(0, gettext("Aucune"))] + [choice(s.id, s.name)
                                                                for s in signatures]
    if request.method == "GET" and not editing and signatures and signatures[0].is_default:
        form.signature.data = signatures[0].id
    return {s.id: s.body for s in signatures}


def _text(form: WriteForm, signatures: dict[int, str]) -> str:
    body = (form.texte.data or "").strip()
    signature = signatures.get(form.signature.data or 0)
    return f"{body}\n\n-- \n{signature}" if signature else body


def _send_at(form: WriteForm) -> datetime | None:
    if form.quand.data != "programme":
        return None
    if form.date.data is None or form.heure.data is None:
        form.date.errors = list(form.date.errors) + [
            gettext("Choisissez la date et l'heure de l'envoi.")]
        raise ValueError
    return to_utc(datetime.combine(form.date.data, form.heure.data))


def _files() -> list[tuple[str, str, bytes]]:
    """The uploads, their names and types made safe as the compose form's are (a line break
    in a name could not be written in the message's header when it is due)."""
    return [(u.filename, u.content_type, u.data) for u in (
        compose.upload(f.filename, f.mimetype, f.read())
        for f in request.files.getlist("fichiers") if f and f.filename)]


@bp.route("/ecrire", methods=["GET", "POST"])
@bp.route(f"/ecrire/{ID.format('communication_id')}", methods=["GET", "POST"])
def write(communication_id: int | None = None):
    writer()
    editing = own_message(communication_id) if communication_id else None
    if editing is not None and not editing.draft:
        if request.method != "POST":
            abort(404)
        return redirect(url_for(".message", communication_id=_sent_already(editing).id),
                        code=303)
    school_ids = communications.schools_of(current_user)
    if request.method == "POST":
        form = WriteForm()
    elif editing is not None:
        form = _draft_form(editing)
    else:
        form = WriteForm(formdata=None, cle=uuid.uuid4().hex)
    if request.method == "POST" and editing is None:
        first = communications.by_key(current_user, form.cle.data)
        if first is not None and first.draft and "envoyer" in request.form:
            editing = first         # its draft saved, then back to the form and « Envoyer »
        elif first is not None:     # sent twice (a double click): the first one stands
            flash(gettext("Ce message est déjà enregistré : le voici."), "info")
            return redirect(url_for(".message", communication_id=first.id), code=303)
    if school_ids:
        groups, more_groups = group_choices(school_ids), False
    else:                           # an administrator: the whole region
        groups, more_groups = region_group_choices(
            [*(form.groupes.data or ()), *(form.parents_de.data or ())],
            form.groupes_nom.data or "")
    form.groupes.choices = form.parents_de.choices = [choice(g, name) for g, name in groups]
    signatures = _signature_choices(form, editing is not None)
    counted = people = shown = None
    valid = form.validate_on_submit() if request.method == "POST" else False
    saving = "brouillon" in request.form or "envoyer" in request.form
    # « Chercher » a group by its name (an administrator) lists groups: nobody is counted,
    # which would read the whole region before any group is chosen
    searching = "chercher_groupes" in request.form
    if request.method == "POST" and not searching and not _audience_errors(form):
        audience = audience_of(form, school_ids)
        if saving and valid:
            done = _save(form, audience, groups, signatures, editing,
                         draft="brouillon" in request.form)
            if done is not None:
                return redirect(url_for(".message", communication_id=done.id), code=303)
        now = utcnow()
        counted = count(audience, now, but=current_user.id)
        people = communications.first_recipients(
            Audience(**{**audience.__dict__, "excluded_ids": ()}), SHOWN_PEOPLE, now,
            but=current_user.id)
        form.exclus.choices = [choice(p.id, p.full_name) for p in people]
        # « Envoyer » then says she counted this audience (whatever its count by then)
        form.compte_vu.data = communications.audience_digest(audience)
        previewed = [p for p in people if p.id not in audience.excluded_ids]
        form.apercu_pour.choices = [choice(p.id, p.full_name) for p in previewed]
        ids = [p.id for p in previewed]
        chosen = form.apercu_pour.data if form.apercu_pour.data in ids else \
            (ids[0] if ids else None)
        if chosen and communications.pickable_recipient(audience, chosen, now):
            form.apercu_pour.data = chosen
            shown = merge.preview(_text(form, signatures), portal_url(), chosen)
    listed = {p.id for p in people or ()}
    return render_template("communications/write.html", form=form, counted=counted,
                           people=people, shown=shown, editing=editing,
                           group_search=not school_ids, more_groups=more_groups,
                           listed_groups=LISTED_GROUPS,
                           unlisted=[i for i in form.exclus.data or () if i not in listed],
                           fields=merge.SHOWN, files_of=communications.files_of,
                           size_text=size_text), \
        400 if saving or (request.method == "POST" and not searching and counted is None) \
        else 200


def _draft_form(editing: Communication) -> WriteForm:
    """A draft's form as it was saved, with its date and time of sending (Paris) when it has
    one: a message put back to the drafts reopens scheduled, not "Maintenant"."""
    saved = editing.chosen
    when = local_time(editing.send_at) if editing.send_at else None
    return WriteForm(formdata=None, objet=editing.subject, texte=editing.body,
                     groupes=list(saved.group_ids), parents_de=list(saved.parents_of_group_ids),
                     profils=[p.value for p in saved.profiles],
                     roles=[r.value for r in saved.roles], inactifs=saved.inactive_days,
                     jamais_connectes=saved.never_logged_in, exclus=list(saved.excluded_ids),
                     quand="programme" if when else "maintenant",
                     date=when.date() if when else None,
                     heure=when.time().replace(second=0, microsecond=0) if when else None)


def _audience_errors(form: WriteForm) -> bool:
    """A filter's value the form refused (an unknown profile or role, a group not offered)
    would make a wrong audience or none: no count, no save, the form again. So do
    exclusions past communications.EXCLUDED_MAX, or of ids no account may have."""
    if not form.exclus.errors:
        try:
            communications.check_exclusions(form.exclus.data or ())
        except CommunicationError as error:
            form.exclus.errors = [problem_text(error)]
            form.form_errors.append(problem_text(error))
    return any(field.errors for field in (form.groupes, form.parents_de, form.profils,
                                          form.roles, form.inactifs, form.exclus))


def _save(form: WriteForm, audience: Audience, groups, signatures, editing, *,
          draft: bool) -> Communication | None:
    try:
        send_at = _send_at(form)
    except ValueError:
        return None
    names = dict(groups)
    plan = Draft(name=form.objet.data, subject=form.objet.data, body=_text(form, signatures),
                 audience=audience, audience_label=describe(audience, names),
                 to_label=to_label(audience, names),
                 kind=Kind.MESSAGE, repeat=Repeat.ONCE, send_at=send_at, draft=draft)
    try:
        if not draft:
            communications.check_count_seen(audience, form.compte_vu.data or None,
                                            utcnow(), but=current_user.id)
        if editing is None:
            saved = communications.create(current_user, plan, portal_url=portal_url(),
                                          files=_files(), idempotency_key=form.cle.data or None)
        else:
            communications.update(current_user, editing, plan, files=_files(),
                                  removed_file_ids=request.form.getlist("retirer_fichier",
                                                                        type=int))
            saved = editing
    except CommunicationError as error:
        db.session.rollback()
        if error.problem == Problem.NOT_A_DRAFT:
            return _sent_already(editing)       # its page, as for a form posted after
        form.form_errors.append(problem_text(error))
        return None
    db.session.commit()
    if draft:
        flash(gettext("Brouillon enregistré."), "success")
    elif send_at:
        flash(gettext("Message programmé pour le %(when)s.",
                      when=day_at_time(send_at)), "success")
    else:
        flash(gettext("Le message part : suivez son envoi ci-dessous."), "success")
    return saved


def _sent_already(message: Communication) -> Communication:
    """A form of a draft sent or scheduled meanwhile (a second click on « Envoyer », another
    tab) changes nothing: the author is told so and sent to the message's page."""
    flash(gettext(PROBLEMS[Problem.NOT_A_DRAFT]), "info")
    return message


@bp.route("/")
def index():
    """The author's messages, LIST_PAGE at a time: someone who writes several times a week
    would otherwise get a page that grows for years."""
    writer()
    try:
        page = paginate(communications.messages_query(current_user), asked_page(), LIST_PAGE,
                        id_column=Communication.id, cap=UNCAPPED)
    except PageOutOfRange:
        abort(404)
    return render_template("communications/index.html", page=page, state=state_of,
                           spaces=communications.spaces_of(current_user))


def state_of(communication: Communication) -> str:
    if communication.draft and not communication.active:   # put back by the scheduler
        return gettext("L'envoi a échoué : rouvrez le brouillon et réessayez.")
    if communication.draft:
        return gettext("Brouillon")
    if communication.next_run_at is not None:
        return gettext("Programmé pour le %(when)s", when=day_at_time(communication.next_run_at))
    if not communication.active:
        return gettext("Désactivé")
    return gettext("Envoyé")


@bp.route(f"/messages/{ID.format('communication_id')}")
def message(communication_id: int):
    writer()
    shown = own_message(communication_id)
    return _history(shown, "communications/message.html", csv_endpoint=".message_csv")


@bp.route(f"/messages/{ID.format('communication_id')}/envois/{ID.format('run_id')}.csv")
def message_csv(communication_id: int, run_id: int):
    writer()
    return history_csv(own_message(communication_id), run_id)


def history_csv(shown: Communication, run_id: int):
    """Every recipient of one occurrence with their outcome, however many (the page lists
    them RESULTS_CAP at most)."""
    found = communications.run_of(shown, run_id)
    if found is None or found[1] is None:
        abort(404)
    return fanout_pages.report_csv(found[1], f"envoi-{found[0].id}.csv")


def _history(shown: Communication, template: str, *, csv_endpoint: str, **extra):
    """A communication with each of its occurrences and, for one (the newest, or the one
    asked for, even older than the list shows), every recipient with their outcome."""
    runs = communications.runs_of(shown)
    asked = request.args.get("envoi", type=int)
    current = runs[0] if runs else None
    if asked is not None:
        current = next((sent for sent in runs if sent.run.id == asked), None) or \
            communications.sent_of(shown, asked) or abort(404)
    page = None
    if current is not None and current.job is not None:
        try:
            page = paginate(fanout.recipients_query(current.job), asked_page(), REPORT_PAGE)
        except PageOutOfRange:
            abort(404)
    csv_url = url_for(csv_endpoint, communication_id=shown.id, run_id=current.run.id) \
        if current is not None and current.job is not None else None
    return render_template(template, communication=shown, runs=runs, current=current,
                           page=page, csv_url=csv_url, fate=labels.fate,
                           reason=labels.refusal, state=state_of, local_time=local_time,
                           files=communications.files_of(shown), button=ButtonForm(), **extra)


CANCEL_OUTCOMES = {
    Cancel.CANCELLED: (N_("L'envoi est annulé : le message est dans vos brouillons."),
                       "success"),
    Cancel.TOO_LATE: (N_("Trop tard : l'envoi est déjà parti, il ne peut plus être annulé."),
                      "warning"),
    Cancel.ALREADY_DRAFT: (N_("L'envoi était déjà annulé : le message est dans vos "
                              "brouillons."), "success"),
}


@bp.route(f"/messages/{ID.format('communication_id')}/annuler", methods=["POST"])
def cancel(communication_id: int):
    """A scheduled message goes back to the drafts, unless its sending has begun."""
    writer()
    shown = own_message(communication_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    outcome = communications.cancel_sending(shown)
    db.session.commit()
    words, category = CANCEL_OUTCOMES[outcome]
    flash(gettext(words), category)
    return redirect(url_for(".message", communication_id=shown.id), code=303)


# --- signatures --------------------------------------------------------------------------------

@bp.route("/signatures", methods=["GET", "POST"])
def signatures():
    writer()
    form = SignatureForm()
    if form.validate_on_submit():
        try:
            communications.add_signature(current_user, form.nom.data, form.texte.data,
                                         default=form.par_defaut.data)
        except CommunicationError as error:
            form.form_errors.append(problem_text(error))
        else:
            db.session.commit()
            flash(gettext("Signature enregistrée."), "success")
            return redirect(url_for(".signatures"), code=303)
    return render_template("communications/signatures.html", form=form, button=ButtonForm(),
                           signatures=communications.signatures_of(current_user)), \
        400 if form.errors else 200


@bp.route(f"/signatures/{ID.format('signature_id')}/<any(defaut, supprimer):action>",
          methods=["POST"])
def signature_action(signature_id: int, action: str):
    writer()
    # Read after the lock: deleted meanwhile (another tab, a double click), it is not found.
    signature = communications.locked_signature(current_user, signature_id) or abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if action == "defaut":
        communications.make_default(signature)
    else:
        communications.delete_signature(signature)
    db.session.commit()
    return redirect(url_for(".signatures"), code=303)

