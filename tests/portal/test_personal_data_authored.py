"""RGPD archive, what the member wrote themselves: the Bcc they chose for their own messages
(the stored copy never holds it: routing keeps it apart for its author), never shown in the
archive of anyone else holding the same message; the articles they wrote, the events they
created and the files they uploaded to articles."""
from __future__ import annotations

import io
import json
import zipfile
from email import message_from_bytes, policy

from sqlalchemy import select

from directory.db import db
from directory.models import Account
from mailgate import routing
from mailgate.models import FolderKind
from portal import personal_data
from tests.conftest import csrf_token, login, page_text, post_form
from tests.query_count import counting

from .annuaire_helpers import group_id, html, messages
from .messagerie_helpers import account, compose_post, item_id, message, person
from .rubriques_helpers import four_a_rubric, publish

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
EVENT = {"start_date": "2026-03-12", "start_time": "09:00", "end_date": "2026-03-12",
         "end_time": "12:00", "repeat": "none", "follow_up": "off", "publish": "x"}


def client_of(app, login_name: str):
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client


def archive_of(client) -> zipfile.ZipFile:
    response = client.get("/preferences/mes-donnees.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def archived(archive: zipfile.ZipFile, subject: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the archive's .eml files whose subject is `subject`."""
    found = [(name, archive.read(name)) for name in archive.namelist() if name.endswith(".eml")]
    return [(name, data) for name, data in found
            if message_from_bytes(data, policy=policy.default)["Subject"] == subject]


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_the_bcc_a_teacher_chose_is_in_her_archive_and_in_nobody_elses(app, teacher,
                                                                      monkeypatch):
    """Claire writes to Zoé with Lucas in Bcc, from the messagerie: her copy in the archive
    names Lucas in a Bcc field of one line; Zoé's and Lucas's copies of the same message do
    not. A draft keeps its Bcc too. The Bcc is read with the batch (no query per message:
    three more such messages cost no more statements, her whole box being one batch)."""
    monkeypatch.setattr(personal_data, "BATCH", 100_000)
    lucas = person(app, "lucas.martin")
    sent = compose_post(teacher, {"to": f"p:{person(app, 'zoe.le-gall')}", "bcc": f"p:{lucas}",
                                  "subject": "Confidentiel", "body": "Entre nous."})
    assert sent.status_code == 303
    drafted = compose_post(teacher, {"action": "brouillon", "bcc": f"p:{lucas}",
                                     "subject": "À finir", "body": "Premier jet"})
    assert drafted.status_code == 303
    item_id(app, "claire.bernard", "À finir", FolderKind.DRAFTS)
    with counting(app) as first:
        archive = archive_of(teacher)

    [(name, data)] = archived(archive, "Confidentiel")
    assert name.startswith("messages/outbox/")      # « Boîte d'envoi », her own copy
    bcc = [line for line in header_lines(data) if line.lower().startswith(b"bcc:")]
    assert bcc == [b"Bcc: Lucas Martin <lucas.martin@ent.test>"]
    read = message_from_bytes(data, policy=policy.default)
    assert read["Bcc"].addresses[0].addr_spec == "lucas.martin@ent.test"
    assert read.get_body(("plain",)).get_content().strip() == "Entre nous."
    [(_, draft)] = archived(archive, "À finir")
    assert message_from_bytes(draft, policy=policy.default)["Bcc"] == \
        "Lucas Martin <lucas.martin@ent.test>"

    for login_name in ("zoe.le-gall", "lucas.martin"):
        [(_, theirs)] = archived(archive_of(client_of(app, login_name)), "Confidentiel")
        assert message_from_bytes(theirs, policy=policy.default)["Bcc"] is None
        # no Bcc field (the three letters may stand in a random Message-ID), nor Lucas
        assert not any(line.lower().startswith(b"bcc:") for line in header_lines(theirs))
        assert b"lucas" not in theirs.lower()

    for n in range(3):
        assert compose_post(teacher, {"to": f"p:{person(app, 'zoe.le-gall')}",
                                      "bcc": f"p:{lucas}", "subject": f"Encore {n}"}
                            ).status_code == 303
    with counting(app) as second:
        archive = archive_of(teacher)
    for n in range(3):
        [(_, data)] = archived(archive, f"Encore {n}")
        assert message_from_bytes(data, policy=policy.default)["Bcc"] == \
            "Lucas Martin <lucas.martin@ent.test>"
    assert len(second) == len(first), (len(first), len(second))


def test_the_bcc_of_a_pupils_message_through_the_gateway_is_hers_alone(app):
    """Zoé's message to her teacher, routed as the SMTP gateway routes it, with Lucas in Bcc
    under a name holding a comma and an accent: her sent copy names Lucas in a Bcc field of
    one line that reads back whole; Lucas's own copy of the message carries no Bcc."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        written = message("zoe.le-gall", ["claire.bernard"], "Exposé commun", "Chut !",
                          headers={"Bcc": '"Martin, Lùcas" <lucas.martin@ent.test>'})
        result = routing.route(zoe, [account("claire.bernard").id, account("lucas.martin").id],
                               written)
        db.session.commit()
        assert all(r.accepted for r in result.recipients), result

    [(name, mine)] = archived(archive_of(client_of(app, "zoe.le-gall")), "Exposé commun")
    assert name.startswith("messages/sent/"), name
    [field] = [line for line in header_lines(mine) if line.lower().startswith(b"bcc:")]
    assert field.isascii() and b"\r" not in field and b"\n" not in field
    [hidden] = message_from_bytes(mine, policy=policy.default)["Bcc"].addresses
    assert (hidden.display_name, hidden.addr_spec) == ("Martin, Lùcas", "lucas.martin@ent.test")
    [(name, theirs)] = archived(archive_of(client_of(app, "lucas.martin")), "Exposé commun")
    assert name.startswith("messages/inbox/"), name
    assert message_from_bytes(theirs, policy=policy.default)["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in header_lines(theirs))
    assert b"lucas" not in theirs.lower()


def test_a_bare_bcc_address_before_a_named_one_is_kept(app):
    """A Bcc written by a mail program mixes bare and named entries: a bare address before a
    « Name <address> » is its own entry, not the start of that name (it was dropped)."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        written = message("zoe.le-gall", ["claire.bernard"], "Deux en copie cachée", "Chut !",
                          headers={"Bcc": "lucas.martin@ent.test, Paul Durand "
                                          "<paul.durand@ent.test>"})
        routing.route(zoe, [account("claire.bernard").id, account("lucas.martin").id,
                            account("paul.durand").id], written)
        db.session.commit()

    [(_, mine)] = archived(archive_of(client_of(app, "zoe.le-gall")), "Deux en copie cachée")
    hidden = message_from_bytes(mine, policy=policy.default)["Bcc"].addresses
    assert [(a.display_name, a.addr_spec) for a in hidden] == [
        ("", "lucas.martin@ent.test"), ("Paul Durand", "paul.durand@ent.test")]


def _upload(client, rubric_id: int, data: bytes, name: str) -> dict:
    token = csrf_token(client.get(f"/rubriques/{rubric_id}/articles/nouveau")
                       .get_data(as_text=True))
    response = client.post(f"/rubriques/{rubric_id}/fichiers", data={
        "csrf_token": token, "fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _created(response) -> int:
    assert response.status_code == 302, messages(html(response))
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_articles_events_and_files_a_teacher_wrote_are_in_her_archive(app, teacher):
    rubric = four_a_rubric(app)
    four_a = group_id(app, "4A")
    with app.app_context():
        school = db.session.scalar(select(Account).where(
            Account.login == "zoe.le-gall")).schools[0].name
    poster = _upload(teacher, rubric, PNG, "affiche.png")
    left = _upload(teacher, rubric, b"brouillon de programme", "programme.txt")
    article = publish(teacher, rubric, "Sortie au Capitole", body=(
        f'<p>Rendez-vous à 9 h devant le collège.</p><p><img src="{poster["url"]}"></p>'))
    assert "Sortie au Capitole" in page_text(teacher.get(f"/rubriques/articles/{article}"))
    in_group = _created(post_form(teacher, f"/agenda/groupe/{four_a}/nouveau", {
        **EVENT, "title": "Sortie au musée", "agenda": four_a, "place": "Musée des Augustins",
        "summary": "Prévoir un pique-nique."}))
    in_rubric = _created(post_form(teacher, f"/agenda/rubrique/{rubric}/nouveau", {
        **EVENT, "title": "Réunion parents-professeurs", "agenda": f"r{rubric}",
        "start_time": "18:00", "end_time": "20:00", "place": "Salle polyvalente"}))

    archive = archive_of(teacher)

    [written] = json.loads(archive.read("articles.json"))
    assert (written["numero"], written["titre"], written["rubrique"], written["etablissement"],
            written["statut"]) == (article, "Sortie au Capitole", "4A", school, "published")
    assert "Rendez-vous à 9 h devant le collège." in written["texte_html"]
    assert written["publication"].endswith("+00:00") and written["ecrit_le"]
    poster_id, left_id = (int(f["url"].rsplit("/", 1)[1]) for f in (poster, left))
    assert archive.read(f"articles/{article}/{poster_id}-affiche.png") == PNG
    assert archive.read(f"articles/en_attente/{left_id}-programme.txt") == \
        b"brouillon de programme"
    assert [(f["numero"], f["article_numero"], f["article"], f["nom"])
            for f in json.loads(archive.read("fichiers_articles.json"))] == [
        (poster_id, article, "Sortie au Capitole", "affiche.png"),
        (left_id, None, None, "programme.txt")]
    events = {e["numero"]: e for e in json.loads(archive.read("agenda_evenements.json"))}
    assert set(events) == {in_group, in_rubric}
    museum = events[in_group]
    assert (museum["titre"], museum["agenda"], museum["etablissement"], museum["lieu"],
            museum["texte"], museum["debut"], museum["fin"], museum["statut"]) == (
        "Sortie au musée", "4A", school, "Musée des Augustins", "Prévoir un pique-nique.",
        "2026-03-12T08:00:00+00:00", "2026-03-12T11:00:00+00:00", "published")
    meeting = events[in_rubric]
    assert (meeting["titre"], meeting["agenda"], meeting["etablissement"], meeting["debut"]) \
        == ("Réunion parents-professeurs", "4A", school, "2026-03-12T17:00:00+00:00")

    zoe = archive_of(client_of(app, "zoe.le-gall"))
    for name in ("articles.json", "agenda_evenements.json", "fichiers_articles.json"):
        assert json.loads(zoe.read(name)) == []
    assert not [name for name in zoe.namelist() if name.startswith("articles/")]
