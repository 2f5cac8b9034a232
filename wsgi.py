"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""
from directory.heap import settle
from portal import create_app

app = create_app()
settle()    # each worker, once its app is made (see directory/heap.py)
