"""The floor of a directory search page (issue 16): Flask, one psycopg connection per worker
and one indexed prefix query on Préau's own `account` table, rendered by a three-cell
template; nothing else (no login, no perimeter, no ORM). bench/directory_http.sh serves it
with gunicorn beside Préau and loads both with the same wrk script.

It is the team's bare floor page (which generated its own 500,000 names) pointed at the
same rows Préau searches, so that both sides read the same data.
Run: PREAU_FLOOR_DSN=postgresql://… gunicorn -w 2 bench.directory_floor:app
"""
from __future__ import annotations

import os
import re
import unicodedata

import psycopg
from flask import Flask, render_template_string, request

app = Flask(__name__)
PAGE = ("<!doctype html><html lang=fr><title>Annuaire</title><table>{% for r in rows %}<tr>"
        "<td>{{r[2]}}</td><td>{{r[1]}}</td><td>{{r[3]}}</td></tr>{% endfor %}</table>")
_connection = None


def connection():
    global _connection
    if _connection is None:
        _connection = psycopg.connect(os.environ["PREAU_FLOOR_DSN"], autocommit=True)
    return _connection


def fold(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@app.get("/annuaire/")
def search():
    key = fold(request.args.get("nom", "")) or "a"
    upper = key[:-1] + chr(ord(key[-1]) + 1)
    rows = connection().execute(
        "SELECT id, first_name, last_name, profile FROM account"
        " WHERE search_name >= %s AND search_name < %s ORDER BY search_name LIMIT 20",
        (key, upper)).fetchall()
    return render_template_string(PAGE, rows=rows)
