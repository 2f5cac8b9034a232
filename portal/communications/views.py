"""The communications' blueprint with every page registered on it (portal/__init__.py takes
`bp` from here, as from the other services' view modules)."""
from . import automated_views, write_views
from .blueprint import bp

__all__ = ["bp", "automated_views", "write_views"]
