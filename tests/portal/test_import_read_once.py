"""Applying an import without JavaScript (« Appliquer », every batch in one request): the
kept file is read, ordered and searched for duplicates once, not once per 200-row batch
(which made a school's 50,000-row file cost the square of its size), and a duplicate is still
found in another batch than its first occurrence."""
from __future__ import annotations

from sqlalchemy import func, select

from directory import import_plan
from directory.db import db
from directory.models import Account
from portal.admin import imports
from tests.conftest import csrf_token
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html
from .test_admin_accounts import upload

ROWS = 3 * imports.WEB_BATCH


def counted_calls(monkeypatch, module, name: str) -> list:
    """Each call of `module.name`, still made."""
    calls, real = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_applying_a_file_of_three_batches_reads_it_once(admin, app, monkeypatch):
    rows = [[f"Lot{n:04d}", "Élève", "Élève", "4A", "", ""] for n in range(ROWS)]
    rows[-1] = rows[0][:]           # the last batch names the first row's pupil again
    response = upload(admin, app, excel_fr(rows))
    assert response.status_code == 303
    preview_url = response.headers["Location"]
    preview = html(admin.get(preview_url))
    form = preview.one("form", id="apply-import")
    token = csrf_token(admin.get(preview_url).get_data(as_text=True))
    reads = counted_calls(monkeypatch, imports, "read_account_file")
    people = counted_calls(monkeypatch, import_plan, "person")

    result = html(admin.post(form.attrs["action"], data={"csrf_token": token},
                             follow_redirects=True))

    assert result.one("p", class_="import-summary").text == \
        f"{ROWS - 1} créés, 0 modifiés, 1 ligne en erreur non importée."
    assert len(reads) == 1
    assert len(people) == ROWS      # each row's identity worked out once, not once a batch
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            Account.login.like("0310024h.e.lot%"))) == ROWS - 1
