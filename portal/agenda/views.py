"""Every page of the agenda area is registered on the blueprint by importing its module."""
from . import blueprint

bp = blueprint.bp
