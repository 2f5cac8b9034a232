"""A NUL character (U+0000) in anything a form sends is refused with a clear message and
changes nothing — never a 500, which is what PostgreSQL's refusal to store it gave
(issue 10, item 8)."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from directory.db import db
from mailgate.models import MailFolder, MailMessage
from tests.conftest import csrf_token, login, post_form

from .test_auth import attempts, page_text

REFUSED = "Le formulaire contient un caractère invisible interdit (caractère nul)."


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def refused(response) -> bool:
    return response.status_code == 400 and REFUSED in page_text(response)


def test_login(app, client):
    assert refused(login(client, "zoe.le-gall\x00", "Mauvais\x00mot"))
    assert attempts(app) == 0


@pytest.mark.parametrize("url", ["/messagerie/recherche?q=sortie%00", "/annuaire/?q=mar%00tin",
                                 "/carnet/?q=a%00"])
def test_searches(student, url):
    assert refused(student.get(url))


def test_folder_name(app, student):
    student.get("/messagerie/dossiers")         # the first visit creates the system folders
    before = count(app, MailFolder)
    assert refused(post_form(student, "/messagerie/dossiers", {"name": "Sorties\x00"}))
    assert count(app, MailFolder) == before


def test_subject_and_attachment_name(app, teacher):
    before = count(app, MailMessage)
    page = teacher.get("/messagerie/ecrire").get_data(as_text=True)
    for data in ({"subject": "Sortie\x00"}, {"subject": "Sortie", "body": "Bon\x00jour"},
                 {"subject": "Sortie", "files": (io.BytesIO(b"x"), "plan\x00.pdf")}):
        response = teacher.post("/messagerie/ecrire", content_type="multipart/form-data",
                                data={"csrf_token": csrf_token(page), "action": "envoyer",
                                      "to": "lucas.martin", **data})
        assert refused(response), data
    assert count(app, MailMessage) == before


def test_vcard_import(teacher):
    token = csrf_token(teacher.get("/carnet/importer").get_data(as_text=True))
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jean Dupont\r\nEND:VCARD\r\n"
    for data, name in ((card.encode("utf-16"), "contacts.vcf"),
                       (card.replace("Jean", "Je\x00an").encode(), "contacts.vcf"),
                       (card.encode(), "contacts\x00.vcf")):
        response = teacher.post("/carnet/importer", content_type="multipart/form-data", data={
            "csrf_token": token, "target": "categories", "new_name": "Importés",
            "file": (io.BytesIO(data), name)})
        assert response.status_code == 400
        text = page_text(response)
        assert REFUSED in text or "enregistrez le fichier en UTF-8" in text, text
