"""Flask extensions, created unbound and attached in create_app."""
from flask import g
from flask_babel import Babel, Domain
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from werkzeug.utils import cached_property


class RequestDomain(Domain):
    """Flask-Babel's domain, whose translations are found once per request and locale.

    Flask-Babel finds them again at every gettext call (the locale read from the request
    context, turned into its identifier, then a dictionary lookup): about 70 times per search
    page, 1 ms of its CPU. Here the request keeps the translations beside the locale they were
    found for; `force_locale` and `refresh` replace the locale object, which finds them anew."""

    def get_translations(self):
        if not g:       # outside an app context: Flask-Babel's null translations
            return super().get_translations()
        kept = g.get("preau_translations")
        locale = getattr(g.get("_flask_babel"), "babel_locale", None)
        if kept is not None and locale is not None and kept[0] is locale:
            return kept[1]
        translations = super().get_translations()
        g.preau_translations = (g._flask_babel.babel_locale, translations)
        return translations


class RequestBabel(Babel):
    @cached_property
    def domain_instance(self):
        return RequestDomain(domain=self.domain)

    def init_app(self, app, *args, **kwargs):
        """Flask-Babel's, then the templates' `_()` and `ngettext()` ask this domain for its
        translations directly: Flask-Babel's own callables looked the domain up again from
        the request context at each call (a search page makes about 30)."""
        super().init_app(app, *args, **kwargs)

        def translations():
            return self.domain_instance.get_translations()

        app.jinja_env.install_gettext_callables(
            gettext=lambda s: translations().ugettext(s),
            ngettext=lambda s, p, n: translations().ungettext(s, p, n),
            pgettext=lambda c, s: translations().upgettext(c, s),
            npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
            newstyle=True)


login_manager = LoginManager()
csrf = CSRFProtect()
babel = RequestBabel()
migrate = Migrate()
