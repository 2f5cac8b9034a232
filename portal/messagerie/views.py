"""The Messagerie's blueprint with every page registered on it (portal/__init__.py takes
`bp` from here, as from the other services' view modules)."""
from . import compose_views, folder_views, picker_views, reading_views
from .blueprint import bp

__all__ = ["bp", "compose_views", "folder_views", "picker_views", "reading_views"]
