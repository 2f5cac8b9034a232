"""RGPD: a member downloads their own data from Préférences — profile, messages, address
book — and nobody else's."""
from __future__ import annotations

import io
import json
import zipfile

from .annuaire_helpers import html
from .messagerie_helpers import deliver


def test_member_downloads_a_zip_of_their_own_data(app, student):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Sortie au parc", "Rendez-vous à 9 h.")
    page = html(student.get("/preferences/"))
    link = next(a for a in page.all("a") if a.text == "Télécharger mes données")
    response = student.get(link.attrs["href"])
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert "profil.json" in names and "carnet.vcf" in names
    profile = json.loads(archive.read("profil.json"))
    assert (profile["identifiant"], profile["classes"]) == ("zoe.le-gall", ["4A"])
    assert profile["adresse_universelle"] == "zoe.le-gall@ent.test"
    assert "Joseph Fabre (joseph.fabre)" in profile["parents"]
    messages = [archive.read(name) for name in names if name.endswith(".eml")]
    assert any(b"Subject: Sortie au parc" in m and b"Rendez-vous" in m for m in messages)


def test_the_messages_come_with_their_attachments(app, student):
    """The stored source keeps its attachments apart: the .eml puts them back."""
    import email
    from email import policy

    pdf = b"%PDF-1.4 la liste des fournitures"
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Fournitures", "Ci-joint.",
            files=(("fournitures.pdf", "application/pdf", pdf),))
    archive = zipfile.ZipFile(io.BytesIO(student.get("/preferences/mes-donnees.zip").data))
    found = [email.message_from_bytes(archive.read(name), policy=policy.default)
             for name in archive.namelist() if name.endswith(".eml")]
    (message,) = [m for m in found if m["Subject"] == "Fournitures"]
    (attached,) = list(message.iter_attachments())
    assert attached.get_filename() == "fournitures.pdf" and attached.get_content() == pdf


def test_anonymous_gets_the_login_page(client):
    assert client.get("/preferences/mes-donnees.zip").status_code == 302
