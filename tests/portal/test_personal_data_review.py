"""RGPD archive, after review: a message written for many is archived as its reader reads it
in the messagerie (their own first name, not `[[preau:prenom]]`), and the archive holds what
the member wrote or answered outside the mail — signatures, communications and their
attachments, agenda answers and comments, article comments — and the redirect address
waiting for its verification."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from email import message_from_bytes, policy

from directory.clock import utcnow
from mailgate.automations import scheduler
from tests.conftest import csrf_token, login, page_text, post_form

from .annuaire_helpers import group_id, html, messages
from .rubriques_helpers import four_a_rubric, publish, route_everything


def archive_of(client) -> zipfile.ZipFile:
    response = client.get("/preferences/mes-donnees.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def archived_messages(archive: zipfile.ZipFile, subject: str) -> list:
    found = [message_from_bytes(archive.read(name), policy=policy.default)
             for name in archive.namelist() if name.endswith(".eml")]
    return [m for m in found if m["Subject"] == subject]


def client_of(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client


def test_a_message_written_for_many_is_archived_with_the_readers_own_values(app, teacher):
    """« Écrire à plusieurs » stores the message once with placeholders; Zoé's archive
    reads « Bonjour Zoé », as her messagerie does, and Claire's sent copy as she reads it."""
    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    response = teacher.post("/communications/ecrire", data={
        "csrf_token": csrf_token(page), "groupes": str(group_id(app, "4A")),
        "objet": "Sortie au parc", "texte": "Bonjour {prénom}, rendez-vous à 9 h.",
        "envoyer": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        assert scheduler.run_due(utcnow() + timedelta(minutes=1)) == 1
    route_everything(app)
    zoe = client_of(app, "zoe.le-gall")
    listing = page_text(zoe.get("/messagerie/"))
    assert "Sortie au parc" in listing

    (message,) = archived_messages(archive_of(zoe), "Sortie au parc")

    text = message.get_body(("plain",)).get_content()
    assert "Bonjour Zoé, rendez-vous à 9 h." in text
    assert "[[preau:" not in message.as_string()


def test_what_a_pupil_answered_and_commented_is_in_her_archive(app, teacher):
    four_a = group_id(app, "4A")
    created = post_form(teacher, f"/agenda/groupe/{four_a}/nouveau", {
        "title": "Sortie au musée", "start_date": "2026-03-12", "start_time": "09:00",
        "end_date": "2026-03-12", "end_time": "12:00", "repeat": "none", "agenda": four_a,
        "ask_confirmation": "y", "follow_up": "open", "publish": "x"})
    assert created.status_code == 302, messages(html(created))
    event = created.headers["Location"].rsplit("/", 1)[1]
    article = publish(teacher, four_a_rubric(app), "Sortie au Capitole", commentaires="open")
    zoe = client_of(app, "zoe.le-gall")
    for url, data in ((f"/agenda/evenement/{event}/reponse",
                       {"answer": "accepted", "comment": "J'apporte mon appareil photo"}),
                      (f"/agenda/evenement/{event}/commentaires", {"text": "Et s'il pleut ?"})):
        answered = post_form(zoe, url, data, page=f"/agenda/evenement/{event}",
                             follow_redirects=True)
        assert answered.status_code == 200
    post_form(teacher, f"/agenda/evenement/{event}/commentaires", {"text": "On y va quand même."},
              page=f"/agenda/evenement/{event}")
    url = f"/rubriques/articles/{article}"
    commented = zoe.post(f"{url}/commentaires", data={
        "csrf_token": csrf_token(zoe.get(url).get_data(as_text=True)),
        "texte": "J'ai hâte !"}, follow_redirects=True)
    assert "Votre commentaire est publié." in page_text(commented)

    archive = archive_of(zoe)

    [answer] = json.loads(archive.read("agenda_reponses.json"))
    assert (answer["evenement"], answer["debut"], answer["reponse"], answer["commentaire"]) \
        == ("Sortie au musée", "2026-03-12T08:00:00+00:00", "accepted",
            "J'apporte mon appareil photo")
    [comment] = json.loads(archive.read("agenda_commentaires.json"))
    assert (comment["evenement"], comment["texte"], comment["etat"]) == (
        "Sortie au musée", "Et s'il pleut ?", "published")
    [on_article] = json.loads(archive.read("commentaires_articles.json"))
    assert (on_article["article"], on_article["texte"], on_article["etat"]) == (
        "Sortie au Capitole", "J'ai hâte !", "published")
    assert json.loads(archive.read("signatures.json")) == []


def test_a_teachers_signatures_and_pending_redirect_address_are_in_her_archive(app, teacher):
    page = teacher.get("/communications/signatures").get_data(as_text=True)
    teacher.post("/communications/signatures", data={
        "csrf_token": csrf_token(page), "nom": "Courte", "texte": "Claire B.",
        "par_defaut": "y"})
    requested = post_form(teacher, "/preferences/", {"address": "claire.neuve@example.org",
                                                     "password": "Preau-demo-2026!"})
    assert requested.status_code == 302
    assert "En attente de vérification : claire.neuve@example.org." in page_text(
        teacher.get("/preferences/"))

    archive = archive_of(teacher)

    assert json.loads(archive.read("signatures.json")) == [
        {"nom": "Courte", "texte": "Claire B.", "par_defaut": True}]
    profile = json.loads(archive.read("profil.json"))
    assert profile["adresse_de_redirection"] == "claire.bernard@example.net"
    assert profile["adresse_de_redirection_en_attente"] == "claire.neuve@example.org"
    assert json.loads(archive.read("agenda_reponses.json")) == []


def test_a_teachers_communications_and_their_attachments_are_in_her_archive(app, teacher):
    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    saved = teacher.post("/communications/ecrire", data={
        "csrf_token": csrf_token(page), "groupes": str(group_id(app, "4A")),
        "objet": "Programme", "texte": "Bonjour {prénom}, ci-joint le programme.",
        "brouillon": "1", "fichiers": [(io.BytesIO(b"%PDF-1.4 programme"), "programme.pdf")]},
        content_type="multipart/form-data")
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert "programme.pdf" in page_text(teacher.get(saved.headers["Location"]))

    archive = archive_of(teacher)

    [written] = json.loads(archive.read("communications.json"))
    assert (written["objet"], written["texte"], written["genre"], written["brouillon"]) == (
        "Programme", "Bonjour {prénom}, ci-joint le programme.", "message", True)
    [attached] = [name for name in archive.namelist()
                  if name.startswith(f"communications/{written['numero']}/")]
    assert attached.endswith("-programme.pdf")
    assert archive.read(attached) == b"%PDF-1.4 programme"
    zoe = archive_of(client_of(app, "zoe.le-gall"))
    assert json.loads(zoe.read("communications.json")) == []
    assert not [name for name in zoe.namelist() if name.startswith("communications/")]
