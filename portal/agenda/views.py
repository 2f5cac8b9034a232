"""The agenda area: importing each page module registers its routes on the blueprint."""
from . import (  # noqa: F401
    answer_views,
    calendar_views,
    event_views,
    ical_views,
    notice_views,
    resource_views,
)
from .blueprint import bp, install  # noqa: F401
