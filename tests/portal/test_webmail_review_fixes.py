"""The Messagerie and the address book after the webmail review: « Envoyer » clicked twice
sends once (a fresh message by its form's key, a draft because it is gone), and the second
answer shows the message sent, not an error; « Expéditeur » sorts the folders of what one
wrote by their recipients; the vCard export leaves out whom the owner can no longer find."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from directory.db import db
from directory.errors import NotFound
from directory.models import Account
from mailgate.models import FolderKind, MailMessage
from portal.messagerie import compose, drafts, recipients
from portal.messagerie.compose import Composition

from .carnet_helpers import add_person, create_group, page, table_rows
from .messagerie_helpers import account, flashes, folder_id, item_id, items, person


def compose_form(client, url: str = "/messagerie/ecrire") -> dict[str, str]:
    """The hidden fields of the compose page as the browser would send them back: its CSRF
    token, its one-time key `cle`, and the draft it edits if any."""
    form = page(client.get(url)).find("form", id="compose-form")
    return {node.attrs["name"]: node.attrs.get("value", "") for node in form.find_all("input")
            if node.attrs.get("type") == "hidden" and node.attrs.get("name")
            in ("csrf_token", "cle", "brouillon", "source")}


def send(client, form: dict[str, str], **data):
    return client.post("/messagerie/ecrire", data={**form, "action": "envoyer", "copy": "y",
                                                   **data})


def sent_by(app, login: str, subject: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.author_id == account(login).id, MailMessage.subject == subject))


def subjects_in(app, login: str, kind: FolderKind) -> list[str]:
    return [subject for _, subject, _ in items(app, login, kind)]


# Finding 3: a double click sends once ---------------------------------------------------------

def test_send_clicked_twice_sends_once_and_shows_the_message_sent(app, teacher):
    form = compose_form(teacher)
    assert len(form["cle"]) == 32
    lucas = f"p:{person(app, 'lucas.martin')}"
    first = send(teacher, form, to=lucas, subject="Une seule fois", body="Bonjour.")
    assert first.status_code == 303 and first.headers["Location"] == "/messagerie/envoye"
    second = send(teacher, form, to=lucas, subject="Une seule fois", body="Bonjour.")
    copy = item_id(app, "claire.bernard", "Une seule fois", FolderKind.OUTBOX)
    assert second.status_code == 303
    assert second.headers["Location"] == f"/messagerie/message/{copy}"
    shown = teacher.get(second.headers["Location"])
    assert shown.status_code == 200 and "Une seule fois" in page(shown).text
    assert "Ce message est déjà envoyé : le voici." in flashes(shown)
    assert subjects_in(app, "lucas.martin", FolderKind.INBOX).count("Une seule fois") == 1
    assert subjects_in(app, "claire.bernard", FolderKind.OUTBOX) == ["Une seule fois"]
    assert sent_by(app, "claire.bernard", "Une seule fois") == 1


def test_a_pupil_without_a_copy_is_told_it_went_already(app, student):
    form = compose_form(student)
    lucas = f"p:{person(app, 'lucas.martin')}"
    for _ in range(2):
        answer = send(student, form, to=lucas, subject="Sans copie", copy="")
    assert answer.status_code == 303 and answer.headers["Location"] == "/messagerie/"
    assert "Ce message est déjà envoyé." in flashes(student.get("/messagerie/"))
    assert subjects_in(app, "lucas.martin", FolderKind.INBOX).count("Sans copie") == 1
    assert subjects_in(app, "zoe.le-gall", FolderKind.SENT) == []


def test_the_same_form_sent_again_with_another_text_is_a_new_message(app, teacher):
    """After « Précédent », the form changed then sent is a message of its own."""
    form = compose_form(teacher)
    lucas = f"p:{person(app, 'lucas.martin')}"
    send(teacher, form, to=lucas, subject="Deux versions", body="Première")
    again = send(teacher, form, to=lucas, subject="Deux versions", body="Seconde")
    assert again.headers["Location"] == "/messagerie/envoye"
    assert sent_by(app, "claire.bernard", "Deux versions") == 2


def test_a_draft_sent_twice_from_its_page_is_sent_once(app, teacher):
    lucas = f"p:{person(app, 'lucas.martin')}"
    saved = teacher.post("/messagerie/ecrire", data={
        **compose_form(teacher), "action": "brouillon", "to": lucas, "subject": "Du brouillon"})
    assert saved.status_code == 303
    form = compose_form(teacher, saved.headers["Location"])
    assert form["brouillon"] and form["cle"]
    first = send(teacher, form, to=lucas, subject="Du brouillon")
    second = send(teacher, form, to=lucas, subject="Du brouillon")
    assert first.headers["Location"] == "/messagerie/envoye"
    copy = item_id(app, "claire.bernard", "Du brouillon", FolderKind.OUTBOX)
    assert second.status_code == 303
    assert second.headers["Location"] == f"/messagerie/message/{copy}"
    assert subjects_in(app, "lucas.martin", FolderKind.INBOX).count("Du brouillon") == 1
    assert subjects_in(app, "claire.bernard", FolderKind.DRAFTS) == []


def test_sending_a_draft_already_sent_is_refused_and_sends_nothing(ctx):
    """The second send of one draft (a double click whose second request passed the
    draft's check before the first one committed) finds the draft gone."""
    claire = account("claire.bernard")
    chips = recipients.resolve(claire, [("to", recipients.PERSON, account("lucas.martin").id)])
    draft = drafts.save(claire, Composition(chips=chips, subject="Envoyé deux fois",
                                            body="Texte"))
    db.session.commit()
    comp = drafts.load(claire, draft)
    assert compose.send(claire, comp).result.message_id is not None
    db.session.commit()
    with pytest.raises(NotFound, match="Ce brouillon n'existe pas."):
        compose.send(claire, comp)
    db.session.rollback()
    assert sent_by(ctx, "claire.bernard", "Envoyé deux fois") == 1


# Finding 6: « Expéditeur » in the folders of what one wrote -------------------------------

def test_the_sent_folder_sorts_by_recipient(app, student):
    for login, subject in (("lucas.martin", "Pour Lucas"), ("claire.bernard", "Pour Claire"),
                           ("joseph.fabre", "Pour Joseph")):
        answer = send(student, compose_form(student), to=f"p:{person(app, login)}",
                      subject=subject)
        assert answer.headers["Location"] == "/messagerie/envoye", login
    sent = folder_id(app, "zoe.le-gall", FolderKind.SENT)

    def listed(query: str) -> list[str]:
        doc = page(student.get(f"/messagerie/dossier/{sent}{query}"))
        return [row[2].split(" ↩")[0] for row in table_rows(doc, "mail-list")]

    assert listed("") == ["Pour Joseph", "Pour Claire", "Pour Lucas"]
    assert listed("?tri=expediteur&ordre=asc") == ["Pour Claire", "Pour Joseph", "Pour Lucas"]
    assert listed("?tri=expediteur&ordre=desc") == ["Pour Lucas", "Pour Joseph", "Pour Claire"]
    choices = page(student.get(f"/messagerie/dossier/{sent}")).find("select", id="tri")
    assert [o.text for o in choices.find_all("option")] == ["Date", "Destinataires", "Objet"]
    inbox = page(student.get("/messagerie/")).find("select", id="tri")
    assert [o.text for o in inbox.find_all("option")] == ["Date", "Expéditeur", "Objet"]


# Finding 9: the vCard export and the people one can no longer find ------------------------

def test_the_export_leaves_out_a_member_one_can_no_longer_find(app, teacher):
    group_id = create_group(teacher, "Suivi")
    for address in ("lucas.martin", "zoe.le-gall"):
        add_person(app, teacher, group_id, address)
    before = teacher.get("/carnet/carnet.vcf?version=4.0").get_data(as_text=True)
    assert "lucas.martin@ent.test" in before and "zoe.le-gall@ent.test" in before
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
    for url in ("/carnet/carnet.vcf?version=4.0", f"/carnet/{group_id}/groupe.vcf?version=3.0"):
        cards = teacher.get(url).get_data(as_text=True)
        assert "FN:Zoé Le Gall" in cards and "zoe.le-gall@ent.test" in cards
        assert "lucas.martin" not in cards and "Lucas Martin" not in cards
