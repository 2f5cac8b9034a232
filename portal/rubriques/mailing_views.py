""""Envoyer un message à une population" from an article's toolbox: the form, the preview
of who will get it and how (counted in SQL, mailgate/fanout_preview.py), the background job
(mailgate/fanout.py) with its progress bar, its report (CSV too), the confirmations of
reading, the reminder, and the signed link that confirms without logging in."""
from __future__ import annotations

import hashlib
import uuid

from flask import abort, flash, render_template, request, url_for
from flask_babel import force_locale, gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from directory.db import db
from directory.models import Account
from directory.rubrics import members_of_populations
from mailgate import fanout, personalise
from mailgate.fanout_models import FanoutJob
from mailgate.fanout_preview import preview

from .. import fanout_pages
from ..directory_forms import choice
from ..directory_pages import paginate
from ..public_links import public_url_for
from . import articles, labels
from .blueprint import ID, article_to_manage, back, bp
from .forms import ConfirmForm, PageForm, ReminderForm, SendForm
from .models import Article

REPORT_PAGE = fanout_pages.REPORT_PAGE
# The preview's hidden field: the digest of the selection it counted (`_selection`).
COUNTED = "decompte"
# The language of what the families receive, whatever the language of the author's pages:
# every mail Préau writes is French (agenda/notices.py). Within `force_locale(MAIL_LOCALE)`
# go the lines the author cannot edit and the audience (the To header of every copy, and
# FanoutJob.audience, which her French co-managers read on the article's mailings).
MAIL_LOCALE = "fr"


def _populations(form: SendForm, shown: Article) -> None:
    """The form's choices, in the author's language (the page's)."""
    form.populations.choices = [choice(p.id, labels.population_label(p))
                                for p in shown.rubric.populations]


def _audience(shown: Article, population_ids: list[int]) -> str:
    """The chosen populations as the recipients read them: in French."""
    with force_locale(MAIL_LOCALE):
        named = {p.id: labels.population_label(p) for p in shown.rubric.populations}
    return ", ".join(named[p] for p in population_ids)


def _mail(shown: Article, text: str, audience: str, acknowledge: bool, *, reminder=False):
    """The message: the author's text, then the lines she cannot edit, in French
    (MAIL_LOCALE)."""
    with force_locale(MAIL_LOCALE):
        lines = [text.strip(), "", gettext("Lire l'article : %(url)s",
                                           url=public_url_for(".article", article_id=shown.id))]
        if acknowledge:
            lines += ["", gettext("Merci de confirmer votre lecture en un clic :"),
                      personalise.LINK]
        subject = gettext("Rappel : %(title)s", title=shown.title) if reminder else shown.title
    return fanout.message(current_user, subject=subject, text="\n".join(lines) + "\n",
                          audience=audience)


def _link_template() -> str:
    return public_url_for(".acknowledge_link", token="TOKEN").replace("TOKEN",
                                                                             "{token}")


@bp.route(f"/articles/{ID.format('article_id')}/envoyer", methods=["GET", "POST"])
def send(article_id: int):
    shown = article_to_manage(article_id)
    if not articles.is_published(shown):
        flash(gettext("Publiez l'article avant de l'envoyer : ses destinataires ne pourraient "
                      "pas le lire."), "error")
        return back(url_for(".article", article_id=shown.id))
    form = SendForm() if request.method == "POST" else SendForm(
        formdata=None, cle=uuid.uuid4().hex, texte=gettext(
            "Un nouvel article a été publié dans la rubrique « %(rubric)s » : « %(title)s ».",
            rubric=shown.rubric.name, title=shown.title))
    _populations(form, shown)
    seen = counted = None
    changed = False
    if form.validate_on_submit():
        audience = _audience(shown, form.populations.data)
        mail = _mail(shown, form.texte.data, audience, form.confirmation.data)
        recipients = members_of_populations(form.populations.data)
        counted = _digest(_selection(form))
        # The button « Envoyer à N personnes » sends what was counted: a selection changed
        # since is counted again rather than sent to people the author never saw counted.
        sending = "envoyer" in request.form
        changed = sending and request.form.get(COUNTED, counted) != counted
        if sending and not changed:
            job = fanout.submit(current_user, mail, recipients, origin=shown.origin,
                                idempotency_key=_sending_key(form), audience=audience,
                                acknowledge=form.confirmation.data,
                                link_template=_link_template())
            db.session.commit()
            return back(url_for(".mailing", job_id=job.id))
        seen = preview(current_user, recipients, len(mail.as_bytes()))
    return render_template("rubriques/send.html", article=shown, form=form, seen=seen,
                           counted=counted, counted_field=COUNTED, selection_changed=changed,
                           author=current_user, refusal=labels.refusal), \
        400 if form.errors else 200


def _selection(form: SendForm) -> list[str]:
    """Who gets the message and whether they are asked to confirm reading it."""
    return [",".join(map(str, sorted(form.populations.data))), str(bool(form.confirmation.data))]


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _sending_key(form: SendForm) -> str:
    """The form's one-time key with what it sends: a double click finds the first mailing,
    the same form sent again to other people or with another text (after « Précédent »)
    is a mailing of its own."""
    return _digest([form.cle.data, *_selection(form), form.texte.data])


def _job(job_id: int) -> tuple[FanoutJob, Article]:
    """A mailing of an article the viewer manages; any other is not found (404), a reader
    of the article included: its id tells nothing of the mailing."""
    job = db.session.get(FanoutJob, job_id) or abort(404)
    kind, _, number = job.origin.partition(":")
    if kind != "article" or not number.isdecimal():
        abort(404)
    return job, articles.managed_article(current_user, int(number)) or abort(404)


@bp.route(f"/envois/{ID.format('job_id')}")
def mailing(job_id: int):
    job, shown = _job(job_id)
    form = PageForm(formdata=request.args)
    context = fanout_pages.report(job, form.number() if form.validate() else 1)
    confirmed = None
    if job.acknowledge and context["progress"].finished:
        confirmed = paginate(fanout.confirmed_query(job), 1, REPORT_PAGE, id_column=Account.id)
    return render_template("rubriques/mailing.html", **context, article=shown,
                           confirmed=confirmed, reminder=ReminderForm(
                               formdata=None, cle=uuid.uuid4().hex),
                           acknowledged=fanout.acknowledged_count(job))


@bp.route(f"/envois/{ID.format('job_id')}/etat")
def mailing_state(job_id: int):
    job, _ = _job(job_id)
    return fanout_pages.state(job)


@bp.route(f"/envois/{ID.format('job_id')}/rapport.csv")
def mailing_csv(job_id: int):
    job, _ = _job(job_id)
    return fanout_pages.report_csv(job, f"envoi-{job.id}.csv")


@bp.route(f"/envois/{ID.format('job_id')}/rappel", methods=["POST"])
def remind(job_id: int):
    job, shown = _job(job_id)
    form = ReminderForm()
    # The page offers the button once the mailing is finished: a reminder sent before
    # would miss the recipients still pending.
    if not job.acknowledge or job.reminder_of or job.finished_at is None \
            or not form.validate_on_submit():
        abort(400)
    if not articles.is_published(shown):
        flash(gettext("L'article n'est plus publié : publiez-le avant de relancer ses "
                      "destinataires, qui ne pourraient pas le lire."), "error")
        return back(url_for(".mailing", job_id=job.id))
    with force_locale(MAIL_LOCALE):
        text = gettext("Vous n'avez pas encore confirmé la lecture de l'article "
                       "« %(title)s ».", title=shown.title)
        mail = _mail(shown, text, job.audience, True, reminder=True)
    reminder = fanout.remind(job, current_user, mail, idempotency_key=form.cle.data)
    db.session.commit()
    flash(ngettext("Le rappel part vers %(num)d personne.",
                   "Le rappel part vers %(num)d personnes.", reminder.total), "success")
    return back(url_for(".mailing", job_id=reminder.id))


@bp.route("/lecture/<string(maxlength=200):token>", methods=["GET", "POST"])
def acknowledge_link(token: str):
    """The message's link. It opens a page with one button rather than confirming on GET:
    mail scanners open every link of a message, and would confirm for the parent."""
    found = personalise.read_token(token)
    job = db.session.get(FanoutJob, found[0]) if found else None
    if job is None or not job.acknowledge:
        abort(404)
    title = _title_of(job)
    form = ConfirmForm()
    if form.validate_on_submit():
        if fanout.acknowledge_by_token(token) is None:
            abort(404)
        db.session.commit()
        return render_template("rubriques/acknowledged.html", title=title, done=True)
    return render_template("rubriques/acknowledged.html", title=title, done=False, form=form)


def _title_of(job: FanoutJob) -> str:
    kind, _, number = job.origin.partition(":")
    if kind == "article" and number.isdecimal():
        found = db.session.scalar(select(Article.title).where(Article.id == int(number)))
        if found:
            return found
    return job.audience

