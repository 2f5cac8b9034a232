"""The account import's pages after a third review (/tmp/review_import.md): applied batch by
batch as JavaScript does (one « /lot » request per batch), the kept file is read once per
process, not once per batch; the preview names the encoding as people know it, and a UTF-8
file with one Windows byte is refused with a sentence that says so."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from portal.admin import imports
from tests.conftest import csrf_token
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html
from .test_admin_accounts import upload
from .test_import_read_once import counted_calls

ROWS = 3 * imports.WEB_BATCH


def test_applying_batch_by_batch_reads_the_file_once(admin, app, monkeypatch):
    monkeypatch.setattr(imports, "_applications", type(imports._applications)())
    rows = [[f"Lot{n:04d}", "Élève", "Élève", "4A", "", ""] for n in range(ROWS)]
    response = upload(admin, app, excel_fr(rows))
    assert response.status_code == 303
    page = admin.get(response.headers["Location"])
    form = html(page).one("form", id="apply-import")
    token = csrf_token(page.get_data(as_text=True))
    reads = counted_calls(monkeypatch, imports, "read_account_file")

    states = [admin.post(form.attrs["data-batch-url"], data={"csrf_token": token},
                         headers={"X-CSRFToken": token, "Accept": "application/json"}).get_json()
              for _ in range(3)]

    assert [(s["done"], s["finished"]) for s in states] == \
        [(imports.WEB_BATCH, False), (2 * imports.WEB_BATCH, False), (ROWS, True)]
    assert len(reads) == 1
    assert imports._applications == {}      # let go once applied
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            Account.login.like("0310024h.e.lot%"))) == ROWS


def test_the_preview_names_the_encoding_as_people_know_it(admin, app):
    response = upload(admin, app, excel_fr([["Noël", "Hélène", "Élève", "4A", "", ""]]))
    text = html(admin.get(response.headers["Location"])).text
    assert "Fichier lu en Windows-1252" in text and "cp1252" not in text


def test_a_utf8_file_with_one_windows_byte_is_refused_with_why(admin, app):
    data = ("Nom;Prénom;Profil;Classe\r\nLe Gall;Zoé;Élève;4A\r\n".encode()
            + "Dupont;Hélène;Élève;4A\r\n".encode("cp1252"))
    response = upload(admin, app, data)
    assert response.status_code == 400
    assert "Ce fichier mélange deux encodages : il est en UTF-8, sauf à la ligne 3." in \
        html(response).text


def test_an_upload_being_applied_is_not_purged_under_its_administrator(admin, app):
    """The purge deleted every upload two days old, one being applied too: its next batch
    answered 404 halfway, the first batches' accounts made and no result page."""
    from mailgate import worker

    rows = [[f"Purge{n:04d}", "Élève", "Élève", "4A", "", ""]
            for n in range(2 * imports.WEB_BATCH)]
    response = upload(admin, app, excel_fr(rows))
    page = admin.get(response.headers["Location"])
    form = html(page).one("form", id="apply-import")
    token = csrf_token(page.get_data(as_text=True))

    def batch():
        return admin.post(form.attrs["data-batch-url"], data={"csrf_token": token},
                          headers={"X-CSRFToken": token, "Accept": "application/json"})

    assert batch().get_json()["done"] == imports.WEB_BATCH
    with app.app_context():
        worker._purge(utcnow() + timedelta(days=2, minutes=1))
    last = batch()
    assert last.status_code == 200
    assert (last.get_json()["done"], last.get_json()["finished"]) == (2 * imports.WEB_BATCH,
                                                                      True)
