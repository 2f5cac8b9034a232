"""Administration (SPEC §8): roles, accounts, CSV import. One blueprint; each module below
holds the views of one page family and registers them on it."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/administration")

from . import accounts, imports, roles  # noqa: E402,F401  (register the views)
