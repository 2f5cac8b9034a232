"""The agenda area: importing each page module registers its routes on the blueprint."""
from . import answer_views, calendar_views, event_views, ical_views, resource_views  # noqa: F401
from .blueprint import bp, install  # noqa: F401
