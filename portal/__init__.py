"""The Préau portal: the Flask application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, session
from flask_babel import get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from directory.clock import DEFAULT_ZONE, zone_named
from directory.db import configure_engine, db
from directory.heap import settle
from directory.passwords import POLICY
from mailgate import settings as mail_settings

from . import choice_html, config, reads_only, security
from .directory_pages import page_link
from .extensions import babel, csrf, login_manager, migrate
from .i18n import N_, day_at_time, said
from .people_rows import add_chip, people_rows, picker_add_cell, picker_rows
from .retry import Portal

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("fr", "en")


def select_locale() -> str:
    """French unless the person chose English (the users are French schools). Outside a
    request (the CLI, business functions called in an app context) there is no one to ask:
    French."""
    if not has_request_context():
        return "fr"
    chosen = session.get("lang")
    return chosen if chosen in LOCALES else "fr"


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto only from as many proxies as PREAU_TRUSTED_PROXIES says:
    trusting them by default would let anyone pick their client address and escape the
    login throttle."""
    hops = int(app.config["PREAU"].get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def create_app(test_config: dict | None = None) -> Flask:
    folder = Path(test_config["INSTANCE_PATH"]) if test_config and "INSTANCE_PATH" in test_config \
        else config.instance_path()
    app = Portal(__name__, instance_path=str(folder), template_folder=str(ROOT / "templates"))
    app.config.update(config.load(folder))
    if test_config:
        app.config.update(test_config)
    trust_proxies(app)
    zone_named(app.config["PREAU"].get("TIMEZONE") or DEFAULT_ZONE)    # a typo stops here
    mail_settings.read(app)         # so does one in the mail settings (SMARTHOST, QUOTA_MB…)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    reads_only.install(app)     # first: before any hook reads the signed-in account
    security.install(app)
    choice_html.install(app)
    app.jinja_env.globals["people_rows"] = people_rows
    app.jinja_env.globals["page_link"] = page_link
    app.jinja_env.globals["picker_rows"] = picker_rows
    app.jinja_env.globals["picker_add_cell"] = picker_add_cell
    app.jinja_env.globals["add_chip"] = add_chip
    app.jinja_env.globals["day_at_time"] = day_at_time

    from . import adhoc, admin, annuaire, auth, errors, groupes, home, password_reset, preferences
    from .agenda import views as agenda
    from .carnet import views as carnet
    from .communications import views as communications
    from .messagerie import views as messagerie
    from .rubriques import views as rubriques

    for module in (auth, password_reset, home, preferences, annuaire, groupes, adhoc, admin,
                   carnet, messagerie, agenda, rubriques, communications):
        app.register_blueprint(module.bp)
    errors.install(app)
    auth.install(app)
    agenda.install(app)
    app.context_processor(lambda: {"nav_items": lambda: navigation(app),
                                   "get_locale": get_locale,
                                   "password_policy": lambda: said(POLICY)})
    return app


def worker_app() -> Flask:
    """The app of a long-running web process (`preau web`, `gunicorn wsgi:app`): made, then the
    process's heap settled (directory/heap.py). Under gunicorn each worker makes its own,
    after the fork; with `--preload` the master makes it and the workers inherit it."""
    app = create_app()
    settle()
    return app


# Services in the order of the navigation bar; a service appears once its blueprint exists.
# The labels are translated by navigation() (N_ only marks them).
SERVICES = (
    ("messagerie.index", N_("Messagerie")),
    ("annuaire.index", N_("Annuaire")),
    ("groupes.index", N_("Groupes")),
    ("carnet.index", N_("Carnet d'adresses")),
    ("rubriques.index", N_("Rubriques")),
    ("agenda.index", N_("Agenda")),
    ("communications.index", N_("Écrire à plusieurs")),
    ("preferences.index", N_("Préférences")),
    ("admin.index", N_("Administration")),
)


def navigation(app: Flask) -> tuple[tuple[str, str], ...]:
    """The services of the navigation bar for the signed-in person, in the reader's language.
    Built once per app, language and `_access` (a handful of combinations) and kept: built at
    every page it cost 0.09–0.11 ms of CPU, 9 services each asking the signed-in account
    again."""
    from flask_babel import get_translations
    from flask_login import current_user

    access = _access(current_user._get_current_object())
    key = (str(get_locale()), access)
    kept = app.extensions.setdefault("preau_navigation", {})
    services = kept.get(key)
    if services is None:
        translations = get_translations()
        services = kept[key] = tuple(
            (endpoint, translations.gettext(label)) for endpoint, label in SERVICES
            if endpoint in app.view_functions and _offered(endpoint, access))
    return services


def _access(user) -> tuple[bool, bool, bool, bool]:
    """What `_offered` reads of a person: signed in, an administrator (of the region or of a
    school), manages groups, may write to many."""
    from directory.groups import can_manage_groups
    from mailgate.automations.communications import may_write_to_many

    if not user.is_authenticated:
        return (False, False, False, False)
    return (True, bool(user.is_admin or user.is_school_admin), can_manage_groups(user),
            may_write_to_many(user))


def _offered(endpoint: str, access: tuple[bool, bool, bool, bool]) -> bool:
    """Administration for administrators (of the region or of a school); Groupes for those
    who manage groups (others reach the group search from the Annuaire); Écrire à plusieurs
    for those who may write to many; every other service for everyone."""
    signed_in, administers, manages_groups, writes_to_many = access
    if not signed_in:
        return endpoint not in ("admin.index", "groupes.index", "communications.index")
    if endpoint == "admin.index":
        return administers
    if endpoint == "groupes.index":
        return manages_groups
    if endpoint == "communications.index":
        return writes_to_many
    return True
