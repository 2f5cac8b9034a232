"""The `agenda` blueprint and what its pages share."""
from __future__ import annotations

from flask import Blueprint

from agenda import models  # noqa: F401  (the tables, for create_app's metadata)

bp = Blueprint("agenda", __name__, url_prefix="/agenda")
