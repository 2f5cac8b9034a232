"""Ids typed into a URL or a form: « ² » and « ³ » are digits to str.isdigit but not numbers
to int() (a 500 each time), and a number past the 32-bit ids names nothing. Each is simply not
found or refused, like any unknown id (directory.search.id_from)."""
from __future__ import annotations

import pytest

from directory.search import id_from
from tests.conftest import csrf_token

from .annuaire_helpers import group_id


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("2147483647", 2147483647), ("2147483648", None), ("0", None), ("²", None),
    ("٣", None), ("", None), (None, None), ("-1", None), (" 1", None), ("1" * 11, None)])
def test_id_from(text, expected):
    assert id_from(text) == expected


@pytest.mark.parametrize("number", ["²", "%C2%B3", "99999999999", "2147483648"])
def test_a_teacher_s_urls(teacher, number):
    assert teacher.get(f"/annuaire/?pour_groupe={number}").status_code == 404
    assert teacher.get(f"/messagerie/ecrire?destinataire={number}").status_code == 404
    assert teacher.get(f"/messagerie/ecrire?brouillon={number}").status_code == 404


def test_ticked_messages_and_kept_files(student):
    token = csrf_token(student.get("/messagerie/").get_data(as_text=True))
    response = student.post("/messagerie/selection", data={
        "csrf_token": token, "item": "²", "action": "lu"})
    assert response.status_code == 400


def test_an_agenda_named_by_a_superscript(teacher, app):
    gid = group_id(app, "4A")
    url = f"/agenda/groupe/{gid}/nouveau"
    token = csrf_token(teacher.get(url).get_data(as_text=True))
    response = teacher.post(url, data={
        "csrf_token": token, "agenda": "r²", "title": "Sortie", "start_date": "2026-03-12",
        "end_date": "2026-03-12", "start_time": "09:00", "end_time": "10:00", "repeat": "none",
        "publish": "x"})
    assert response.status_code in (400, 404)


def test_the_accounts_filter(admin):
    assert admin.get("/administration/comptes/?etablissement=²").status_code == 400
