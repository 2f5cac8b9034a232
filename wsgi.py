"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""
from portal import worker_app

app = worker_app()
