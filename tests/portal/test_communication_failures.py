"""« Écrire à plusieurs » and the automated communications' pages, as a review of the
automated communications found them: a message whose sending raised comes back to its author
as a failed draft (it was shown « Envoyé »); the page is for those who hold « Accès au service
d'envoi étendu », and an author without a school reaches nobody (it was the whole region);
long attachment names and types are kept within their columns (a 500 on PostgreSQL); a
subject of up to 200 characters is accepted; « Envoyer » after the back button sends the
draft that « Enregistrer le brouillon » made; a double click makes one signature and one
trial."""
from __future__ import annotations

import re
from io import BytesIO

from sqlalchemy import delete, func, select

from directory.db import db
from directory.enums import Role
from directory.models import Account, AccountSchool, RoleOverride
from mailgate.automations import scheduler
from mailgate.automations.models import (
    Communication,
    CommunicationFile,
    CommunicationRun,
    Signature,
)
from mailgate.automations.outgoing import mail_of

from ..conftest import csrf_token, page_text
from .annuaire_helpers import account, group_id
from .test_communication_review import (
    client_of,
    db_ids,
    jobs_of,
    made_by_paul,
    next_round,
    post_page,
)
from .test_communications import Submitted

FAILED = "L'envoi a échoué : rouvrez le brouillon et réessayez."


def made_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/messages/(\d+)$", response.headers["Location"])[1])


def stored(app, communication_id: int) -> Communication:
    with app.app_context():
        found = db.session.get(Communication, communication_id)
        db.session.expunge(found)
        return found


# --- a sending that fails ----------------------------------------------------------------------

def test_a_message_whose_sending_fails_comes_back_to_its_author(teacher, app, monkeypatch):
    fields = {"groupes": str(group_id(app, "4A")), "objet": "Sortie", "texte": "Lundi"}
    made = made_id(post_page(teacher, "/communications/ecrire", {**fields, "envoyer": "1"}))

    def broken(*_args, **_kwargs):
        raise ValueError("an attachment that cannot be written")

    monkeypatch.setattr(scheduler, "mail_of", broken)
    assert next_round(app, made) == 0
    monkeypatch.undo()

    assert jobs_of(app, made) == []
    message = page_text(teacher.get(f"/communications/messages/{made}"))
    assert f"État {FAILED}" in message
    assert "Rouvrir le brouillon" in message
    assert FAILED in page_text(teacher.get("/communications/"))
    saved = stored(app, made)
    assert saved.draft and saved.next_run_at is None

    url = f"/communications/ecrire/{made}"
    assert "Lundi" in teacher.get(url).get_data(as_text=True)
    assert made_id(post_page(teacher, url, {**fields, "envoyer": "1"})) == made
    assert next_round(app, made) == 1
    assert len(jobs_of(app, made)) == 1
    assert "Envoyé" in page_text(teacher.get(f"/communications/messages/{made}"))


# --- who writes to many, and to whom ----------------------------------------------------------

def test_writing_to_many_follows_the_extended_send_role(teacher, app):
    claire, joseph = account(app, "claire.bernard"), account(app, "joseph.fabre")
    parent = client_of(app, "joseph.fabre")
    assert teacher.get("/communications/ecrire").status_code == 200
    assert parent.get("/communications/ecrire").status_code == 403
    with app.app_context():
        db.session.add_all([
            RoleOverride(account_id=claire.id, role=Role.SEND_EXTENDED, granted=False),
            RoleOverride(account_id=joseph.id, role=Role.SEND_EXTENDED, granted=True)])
        db.session.commit()

    assert teacher.get("/communications/ecrire").status_code == 403
    assert teacher.get("/communications/").status_code == 403
    assert "Écrire à plusieurs" not in page_text(teacher.get("/"))
    assert parent.get("/communications/ecrire").status_code == 200


def test_staff_without_the_extended_send_role_manage_no_school(staff, app):
    made = made_by_paul(staff, app)
    paul = account(app, "paul.durand")
    with app.app_context():
        db.session.add(RoleOverride(account_id=paul.id, role=Role.SEND_EXTENDED, granted=False))
        db.session.commit()
    other = client_of(app, "paul.durand")
    assert other.get(f"/communications/automatisees/{made}").status_code == 404


def test_an_author_without_a_school_reaches_nobody(teacher, app):
    claire = account(app, "claire.bernard")
    with app.app_context():
        db.session.execute(delete(AccountSchool).where(AccountSchool.account_id == claire.id))
        db.session.commit()

    page = post_page(teacher, "/communications/ecrire",
                     {"objet": "Tous", "texte": "Bonjour {prénom}", "compter": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert "0 destinataire" in page_text(page)
    assert 'name="exclus"' not in html and 'name="groupes" value=' not in html
    assert not re.search(r'<select[^>]*name="groupes"[^>]*>\s*<option', html)

    made = made_id(post_page(teacher, "/communications/ecrire",
                             {"objet": "Tous", "texte": "Bonjour", "envoyer": "1"}))
    next_round(app, made)
    assert [total for _, total, _ in jobs_of(app, made)] == [0]


# --- long names, long subjects ----------------------------------------------------------------

def test_long_attachment_names_and_types_fit_their_columns(teacher, app):
    long_name = "compte-rendu " + "a" * 230 + ".pdf"
    long_type = "application/" + "x" * 120
    response = post_page(teacher, "/communications/ecrire", {
        "groupes": str(group_id(app, "4A")), "objet": "Programme", "texte": "Ci-joint",
        "envoyer": "1",
        "fichiers": [(BytesIO(b"%PDF-1.4 long"), long_name, "application/pdf"),
                     (BytesIO(b"data"), "notes.bin", long_type)]},
        content_type="multipart/form-data")
    made = made_id(response)

    with app.app_context():
        files = db.session.execute(
            select(CommunicationFile.filename, CommunicationFile.content_type)
            .where(CommunicationFile.communication_id == made)
            .order_by(CommunicationFile.id)).all()
        [(name, kind), (other, other_kind)] = files
        assert len(name) == 200 and name.startswith("compte-rendu aaa") \
            and name.endswith("a.pdf")
        assert kind == "application/pdf"
        assert (other, other_kind) == ("notes.bin", "application/octet-stream")
        mail = mail_of(db.session.get(Communication, made), account(app, "claire.bernard"))
        assert [a.get_filename() for a in mail.iter_attachments()] == [name, "notes.bin"]
    assert next_round(app, made) == 1


def test_a_subject_of_150_characters_is_sent_whole(teacher, app):
    subject = "Réunion " + "é" * 142
    made = made_id(post_page(teacher, "/communications/ecrire", {
        "groupes": str(group_id(app, "4A")), "objet": subject, "texte": "Lundi",
        "envoyer": "1"}))

    saved = stored(app, made)
    assert saved.subject == subject and len(saved.name) == 120
    assert next_round(app, made) == 1
    with app.app_context():
        assert mail_of(db.session.get(Communication, made),
                       account(app, "claire.bernard"))["Subject"] == subject


# --- a form posted again ----------------------------------------------------------------------

def test_send_after_the_back_button_sends_the_draft_as_edited(teacher, app):
    page = teacher.get("/communications/ecrire").get_data(as_text=True)
    data = {**Submitted.of(page), "groupes": str(group_id(app, "4A")), "objet": "Sortie"}

    def post(text: str, button: str):
        return teacher.post("/communications/ecrire", content_type="multipart/form-data",
                            data={**data, "texte": text, button: "1",
                                  "fichiers": [(BytesIO(b"%PDF-1.4 plan"), "plan.pdf")]})

    made = made_id(post("Version 1", "brouillon"))
    assert stored(app, made).draft
    assert made_id(post("Version 2", "envoyer")) == made

    saved = stored(app, made)
    assert not saved.draft and saved.body == "Version 2"
    assert db_ids(app, "claire.bernard") == [made]
    assert "Le message part" in page_text(teacher.get(f"/communications/messages/{made}"))
    assert next_round(app, made) == 1
    with app.app_context():
        assert db.session.scalars(select(CommunicationFile.filename).where(
            CommunicationFile.communication_id == made)).all() == ["plan.pdf"]


def test_a_signature_saved_twice_is_made_once(teacher, app):
    page = teacher.get("/communications/signatures").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "nom": "Classique",
            "texte": "Claire Bernard\nProfesseure de français"}
    first = teacher.post("/communications/signatures", data=data)
    second = teacher.post("/communications/signatures", data=data)

    assert first.status_code == second.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Signature.name).where(
            Signature.account_id == account(app, "claire.bernard").id)).all() == ["Classique"]


def test_a_double_click_on_trial_sends_one_and_reactivating_an_active_one_says_so(staff, app):
    made = made_by_paul(staff, app)
    url = f"/communications/automatisees/{made}"
    token = csrf_token(staff.get(url).get_data(as_text=True))
    for _ in range(2):
        assert staff.post(f"{url}/essai", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(
            CommunicationRun.communication_id == made, CommunicationRun.trial)) == 1
        window = db.session.get(Communication, made).window_start

    response = staff.post(f"{url}/reactiver", data={"csrf_token": token})
    assert "était déjà active" in page_text(staff.get(response.headers["Location"]))
    assert stored(app, made).window_start == window


def test_nobody_else_is_named_in_these_tests(app):
    """The demo accounts the tests above change are back as they were (the rollback)."""
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RoleOverride).join(
            Account, Account.id == RoleOverride.account_id).where(
            Account.login.in_(("claire.bernard", "joseph.fabre", "paul.durand")))) == 0
