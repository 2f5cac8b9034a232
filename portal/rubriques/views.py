"""The rubrics' blueprint with every page registered on it (portal/__init__.py takes `bp`
from here, as from the other services' view modules)."""
from . import article_views, feeds, mailing_views, rubric_views
from .blueprint import bp

__all__ = ["bp", "article_views", "feeds", "mailing_views", "rubric_views"]
