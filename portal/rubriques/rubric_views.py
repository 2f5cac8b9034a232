"""Rubric pages: "Mes rubriques", a rubric's articles (paged, newest first) with the buttons
of one's private feed (feeds.py), creating a rubric, and its settings (name, populations
with access, managers)."""
from __future__ import annotations

import uuid

from flask import flash, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from agenda import access, schedule
from directory import form_keys
from directory.db import db, write_transaction
from directory.enums import Profile
from directory.rubric_models import Rubric
from directory.rubrics import add_manager as name_manager
from directory.rubrics import add_population as open_to
from directory.rubrics import (
    creatable_spaces,
    create_rubric,
    default_rubrics_missing,
    delete_rubric,
    ensure_default_rubrics,
    managed_rubric_ids,
    named_managers,
    population_choices,
    readable_rubrics,
    remove_manager,
    remove_population,
    update_rubric,
)

from ..directory_forms import choice
from ..directory_pages import UNCAPPED, PageOutOfRange, paginate
from . import articles, feeds
from .blueprint import FAILED, ID, back, bp, readable_rubric, rubric_to_manage, saved
from .forms import ConfirmForm, ManagerForm, NewRubricForm, PageForm, PopulationForm, RubricForm
from .models import Article

PER_PAGE = 10


@bp.route("/")
def index():
    school_ids = [school.id for school in current_user.schools]
    if default_rubrics_missing(school_ids):   # a new school or class: else a read-only page
        ensure_default_rubrics(school_ids)
        db.session.commit()
    rubrics = readable_rubrics(current_user)
    schools, groups = creatable_spaces(current_user)
    return render_template("rubriques/index.html", rubrics=rubrics,
                           managed=managed_rubric_ids(current_user, [r.id for r in rubrics]),
                           may_create=bool(schools or groups))


@bp.route(f"/{ID.format('rubric_id')}")
def rubric(rubric_id: int):
    return _rubric_page(readable_rubric(rubric_id))


def _rubric_page(shown, feed_url: str | None = None):
    """The rubric's page; `feed_url`: the address of the viewer's feed just made, shown this
    once (only its token's digest is kept)."""
    manager = bool(managed_rubric_ids(current_user, [shown.id]))
    form, status, page, no_page = PageForm(formdata=request.args), 200, None, None
    if not form.validate():
        status, no_page = 400, gettext("Cette page n'existe pas.")
    else:
        try:   # every article can be reached: the count is a range of ix_article_rubric_page
            page = paginate(articles.rubric_articles(shown, manager=manager), form.number(),
                            PER_PAGE, id_column=Article.id, cap=UNCAPPED)
        except PageOutOfRange as error:
            status, no_page = 404, gettext(
                "Cette page n'existe pas : la rubrique tient sur %(pages)d page(s).",
                pages=error.pages)
    agenda = access.agenda_of_rubric(current_user, shown.id, create=False)
    return render_template("rubriques/rubric.html", rubric=shown, manager=manager, page=page,
                           no_page=no_page, feed=feeds.active(current_user, shown),
                           feed_url=feed_url,
                           events=schedule.upcoming(current_user, agendas=[agenda])
                           if agenda else [],
                           confirm=ConfirmForm(formdata=None)), status


@bp.route(f"/{ID.format('rubric_id')}/flux", methods=["POST"])
def new_feed(rubric_id: int):
    """Create one's feed address, or replace it (the old one stops working): the answer is
    the rubric's page showing it, since it cannot be shown again."""
    shown = readable_rubric(rubric_id)
    if not ConfirmForm().validate_on_submit():
        return back(url_for(".rubric", rubric_id=shown.id) + "#flux")
    # the account's lock taken before the transaction's first read (SQLite: write_lock)
    url = write_transaction(lambda: feeds.create(current_user, shown))
    flash(gettext("Votre adresse de flux privée est prête : ne la partagez pas."), "success")
    return _rubric_page(shown, feed_url=url)


@bp.route(f"/{ID.format('rubric_id')}/flux/revoquer", methods=["POST"])
def revoke_feed(rubric_id: int):
    shown = readable_rubric(rubric_id)
    if ConfirmForm().validate_on_submit():
        feeds.revoke(current_user, shown)
        db.session.commit()
        flash(gettext("L'adresse de votre flux ne fonctionne plus."), "success")
    return back(url_for(".rubric", rubric_id=shown.id) + "#flux")


def _spaces_form(form: NewRubricForm) -> None:
    schools, groups = creatable_spaces(current_user)
    form.espace.choices = [choice(f"s{s.id}", s.name) for s in schools] + [
        choice(f"g{g.id}", f"{g.name} ({g.school.name})") for g in groups]


@bp.route("/nouvelle", methods=["GET", "POST"])
def create():
    form = NewRubricForm()
    _spaces_form(form)
    if not form.espace.choices:
        return render_template("error.html", code=403, title=gettext("Accès refusé"),
                               text=gettext("Vous ne gérez aucun espace où créer une "
                                            "rubrique.")), 403
    if request.method == "GET":
        form.cle.data = uuid.uuid4().hex    # the form sent twice makes one rubric
    elif form.validate_on_submit():
        created = saved(lambda: _create(form))
        if created is not FAILED:
            flash(gettext("La rubrique « %(name)s » est créée.", name=created.name), "success")
            return back(url_for(".settings", rubric_id=created.id))
    return render_template("rubriques/new.html", form=form), 400 if form.errors else 200


def _create(form: NewRubricForm) -> Rubric:
    """The new rubric; « Créer la rubrique » sent again (a double click, two at once) gives
    the rubric its first sending made instead of a second one (directory/form_keys.py)."""
    key = form_keys.key(form.cle.data, sorted(form.data.items())) if form.cle.data else None
    if key is not None:
        first = form_keys.already_made(current_user.id, key, Rubric)
        if first is not None:
            return first
    space = form.espace.data
    created = create_rubric(
        current_user, name=form.name.data, description=form.description.data,
        **({"group_id": int(space[1:])} if space[0] == "g" else {"school_id": int(space[1:])}))
    if key is not None:
        form_keys.made(current_user.id, key, created.id)
    return created


@bp.route(f"/{ID.format('rubric_id')}/parametres", methods=["GET", "POST"])
def settings(rubric_id: int):
    shown = rubric_to_manage(rubric_id)
    form = RubricForm(obj=shown) if request.method == "GET" else RubricForm()
    if form.validate_on_submit():
        if saved(lambda: update_rubric(shown, name=form.name.data,
                                       description=form.description.data)) is not FAILED:
            flash(gettext("La rubrique est enregistrée."), "success")
            return back(url_for(".settings", rubric_id=shown.id))
    return _settings_page(shown, form, 400 if form.errors else 200)


def _settings_page(shown, form, status=200):
    population = PopulationForm(formdata=None)
    _scopes(population, shown)
    return render_template("rubriques/settings.html", rubric=shown, form=form,
                           population=population, manager=ManagerForm(formdata=None),
                           managers=named_managers(shown), confirm=ConfirmForm(formdata=None)), \
        status


def _scopes(form: PopulationForm, shown) -> None:
    school, groups = population_choices(shown)
    form.portee.choices = [choice(f"s{school.id}", school.name)] + [
        choice(f"g{g.id}", g.name) for g in groups]


@bp.route(f"/{ID.format('rubric_id')}/populations", methods=["POST"])
def add_population(rubric_id: int):
    shown = rubric_to_manage(rubric_id)
    form = PopulationForm()
    _scopes(form, shown)
    if not form.validate():
        flash(gettext("Choisissez un profil et l'établissement ou un groupe."), "error")
    else:
        scope = form.portee.data
        if saved(lambda: open_to(shown, profile=Profile(form.profil.data),
                                 **({"group_id": int(scope[1:])} if scope[0] == "g"
                                    else {"school_id": int(scope[1:])}))) is not FAILED:
            flash(gettext("La population a maintenant accès à la rubrique."), "success")
    return back(url_for(".settings", rubric_id=shown.id))


@bp.route(f"/{ID.format('rubric_id')}/populations/{ID.format('population_id')}/retirer",
          methods=["POST"])
def remove_population_view(rubric_id: int, population_id: int):
    shown = rubric_to_manage(rubric_id)
    if ConfirmForm().validate_on_submit():
        if saved(lambda: remove_population(shown, population_id)) is not FAILED:
            flash(gettext("La population n'a plus accès à la rubrique."), "success")
    return back(url_for(".settings", rubric_id=shown.id))


@bp.route(f"/{ID.format('rubric_id')}/gestionnaires", methods=["POST"])
def add_manager(rubric_id: int):
    shown = rubric_to_manage(rubric_id)
    form = ManagerForm()
    if form.validate_on_submit():
        person = saved(lambda: name_manager(shown, form.identifiant.data))
        if person is not FAILED:
            flash(gettext("%(name)s gère maintenant la rubrique.", name=person.full_name),
                  "success")
    else:
        flash(gettext("Saisissez un identifiant."), "error")
    return back(url_for(".settings", rubric_id=shown.id))


@bp.route(f"/{ID.format('rubric_id')}/gestionnaires/{ID.format('account_id')}/retirer",
          methods=["POST"])
def remove_manager_view(rubric_id: int, account_id: int):
    shown = rubric_to_manage(rubric_id)
    if ConfirmForm().validate_on_submit():
        remove_manager(shown, account_id)
        db.session.commit()
        flash(gettext("Le gestionnaire est retiré."), "success")
    return back(url_for(".settings", rubric_id=shown.id))


@bp.route(f"/{ID.format('rubric_id')}/supprimer", methods=["GET", "POST"])
def delete(rubric_id: int):
    shown = rubric_to_manage(rubric_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        if saved(lambda: delete_rubric(shown)) is FAILED:
            return back(url_for(".settings", rubric_id=shown.id))
        flash(gettext("La rubrique est supprimée."), "success")
        return back(url_for(".index"))
    return render_template("rubriques/confirm.html", form=form,
                           title=gettext("Supprimer la rubrique « %(name)s »", name=shown.name),
                           text=gettext("La rubrique, tous ses articles et les évènements de son "
                                        "agenda seront supprimés. Cette action est "
                                        "définitive."),
                           action=url_for(".delete", rubric_id=shown.id),
                           cancel=url_for(".settings", rubric_id=shown.id))


