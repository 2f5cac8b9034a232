"""Compose through HTTP and the real routing: the 50-recipient limit (groups counted by their
members), refusals with the person's name, Bcc kept private, per-recipient results, copies,
replies and forwards, drafts, bad input, and someone else's ids answering 404."""
from __future__ import annotations

import io
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember
from directory.rights import writable
from mailgate import store, worker
from mailgate.models import FolderKind, Mailbox, MailboxItem, MailMessage, OutboundEntry
from portal.carnet import book
from tests.conftest import csrf_token, post_form

from .carnet_helpers import client_of, page
from .messagerie_helpers import (
    account,
    compose_post,
    deliver,
    flashes,
    item_id,
    items,
    person,
    result_rows,
)


def class_4a(app) -> tuple[int, list[int]]:
    """The id of class 4A and its members other than Claire Bernard."""
    with app.app_context():
        group = db.session.scalar(select(Group).where(Group.name == "4A"))
        claire = account("claire.bernard").id
        members = db.session.scalars(select(GroupMember.account_id).where(
            GroupMember.group_id == group.id, GroupMember.account_id != claire)).all()
        return group.id, sorted(members)


def students(app, count: int, *, outside: set[int] = frozenset()) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(
            select(Account.id).where(Account.profile == Profile.STUDENT,
                                     Account.id.not_in(outside), Account.suspended.is_(False))
            .order_by(Account.id).limit(count)))


def messages_by(app, login: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.author_id == account(login).id))


def errors(response) -> str:
    return page(response).find("div", class_="form-errors").text


def test_teacher_writes_to_a_class_and_sees_each_recipients_fate(app, teacher):
    group, members = class_4a(app)
    response = compose_post(teacher, {
        "to": f"g:{group}", "cc": [f"p:{person(app, 'joseph.fabre')}",
                                   f"p:{person(app, 'paul.durand')}"],
        "subject": "Sortie au musée", "body": "Départ à 8 h.", "copy": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/messagerie/envoye"
    rows = result_rows(teacher)
    assert len(rows) == len(members) + 2
    by_name = {row[0]: row[2] for row in rows}
    assert by_name["Zoé Le Gall"] == "Remis dans sa messagerie"
    assert by_name["Joseph Fabre"] == "Transféré à son adresse de redirection"
    assert by_name["Paul Durand"].startswith("Non remis : Paul Durand n'a pas d'adresse de "
                                             "redirection")
    assert "joseph@example.org" not in teacher.get("/messagerie/envoye").get_data(as_text=True)
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.INBOX)] == ["Sortie au musée"]
    assert [s for _, s, _ in items(app, "claire.bernard", FolderKind.OUTBOX)] == \
        ["Sortie au musée"]
    with app.app_context():
        # Claire is told by a message too (SPEC §3): forwarded to her redirect address.
        report = db.session.scalar(select(MailMessage).join(
            OutboundEntry, OutboundEntry.message_id == MailMessage.id).where(
            OutboundEntry.account_id == account("claire.bernard").id))
        assert "Paul Durand" in report.text_body


def test_fifty_recipients_are_sent_and_fifty_one_refused(app, teacher):
    ids = students(app, 51)
    before = messages_by(app, "claire.bernard")
    response = compose_post(teacher, {"to": [f"p:{i}" for i in ids], "subject": "Trop"})
    assert response.status_code == 400
    assert "au plus 50 destinataires (51 indiqués" in errors(response)
    assert messages_by(app, "claire.bernard") == before

    response = compose_post(teacher, {"to": [f"p:{i}" for i in ids[:50]], "subject": "Juste"})
    assert response.status_code == 303
    assert len(result_rows(teacher)) == 50
    assert messages_by(app, "claire.bernard") == before + 1


def test_a_group_counts_for_its_members(app, teacher):
    group, members = class_4a(app)
    extra = students(app, 51 - len(members), outside=set(members))
    page_with_group = page(teacher.get(f"/messagerie/ecrire?ajout=to:g:{group}"))
    chip = page_with_group.find("button", class_="chip-group")
    assert chip.text.startswith(f"4A (0310024H) ({len(members)})")
    assert page_with_group.find("p", id="recipient-count").text == \
        f"{len(members)} destinataires sur 50 au plus"

    response = compose_post(teacher, {"to": f"g:{group}",
                                      "bcc": [f"p:{i}" for i in extra], "subject": "Classe"})
    assert response.status_code == 400
    assert "Un message peut avoir au plus 50 destinataires (51 indiqués ; un groupe compte " \
        "pour ses membres)" in errors(response)
    # A person both in the group and named alone counts once.
    response = compose_post(teacher, {"to": f"g:{group}", "cc": f"p:{members[0]}",
                                      "bcc": [f"p:{i}" for i in extra[:-1]],
                                      "subject": "Classe"})
    assert response.status_code == 303
    assert len(result_rows(teacher)) == 50


def test_an_address_book_group_counts_for_its_members(app, teacher):
    _group, members = class_4a(app)
    with app.app_context():
        contacts = book.create_group(account("claire.bernard"), "Délégués")
        for member in members[:3]:
            book.add_member(account("claire.bernard"), contacts, member)
        db.session.commit()
        contacts_id = contacts.id
    doc = page(teacher.get(f"/messagerie/ecrire?ajout=cc:c:{contacts_id}"))
    assert doc.find("button", class_="chip-group").text.startswith("Délégués (3)")
    response = compose_post(teacher, {"cc": f"c:{contacts_id}", "subject": "Délégués"})
    assert response.status_code == 303
    assert len(result_rows(teacher)) == 3


def test_a_forbidden_recipient_is_refused_with_its_name(app, student):
    with app.app_context():
        zoe = account("zoe.le-gall")
        candidates = students(app, 200)
        verdicts = writable(zoe, candidates)
        stranger = next(v for v in verdicts.values() if not v.allowed)
        name = db.session.get(Account, stranger.account_id).full_name
    before = messages_by(app, "zoe.le-gall")
    response = compose_post(student, {"to": [f"p:{stranger.account_id}",
                                             f"p:{person(app, 'lucas.martin')}"],
                                      "subject": "Salut"})
    assert response.status_code == 400
    assert f"{name} n'est ni dans vos classes ni dans vos groupes" in errors(response)
    assert "Le message n'est pas envoyé" in errors(response)
    assert messages_by(app, "zoe.le-gall") == before
    assert items(app, "lucas.martin", FolderKind.INBOX) == []


def test_an_english_reader_is_told_the_refusal_in_english(app, student):
    """The rights engine gives a code; the page words it in the reader's language (the
    SMTP reply to the same refusal stays French: tests/mailgate/test_smtp_replies.py)."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        stranger = next(v for v in writable(zoe, students(app, 200)).values() if not v.allowed)
        name = db.session.get(Account, stranger.account_id).full_name
    post_form(student, "/langue/en", {"next": "/"}, page="/")
    response = compose_post(student, {"to": f"p:{stranger.account_id}", "subject": "Hi"})
    assert response.status_code == 400
    assert f"{name} is neither in your classes nor in your groups" in errors(response)
    assert "n'est ni dans vos classes" not in errors(response)


def test_bcc_is_not_visible_to_other_recipients(app, teacher):
    response = compose_post(teacher, {
        "to": f"p:{person(app, 'zoe.le-gall')}", "cc": f"p:{person(app, 'joseph.fabre')}",
        "bcc": f"p:{person(app, 'lucas.martin')}", "subject": "Confidentiel"})
    assert response.status_code == 303
    assert "Lucas Martin" in [row[0] for row in result_rows(teacher)]
    assert [s for _, s, _ in items(app, "lucas.martin", FolderKind.INBOX)] == ["Confidentiel"]
    with app.app_context():
        message = db.session.scalar(select(MailMessage).where(
            MailMessage.subject == "Confidentiel"))
        stored = message_from_bytes(message.source, policy=policy.default)
        forwarded = message_from_bytes(store.message_bytes(message), policy=policy.default)
        for copy in (stored, forwarded):
            assert copy["Bcc"] is None
            assert "lucas" not in bytes(copy).decode("utf-8", "replace").lower()
        assert "zoe.le-gall@ent.test" in stored["To"] and "joseph.fabre@ent.test" in stored["Cc"]
        assert message.bcc_display == "Lucas Martin <lucas.martin@ent.test>"
    zoe = client_of(app, "zoe.le-gall")
    zoe_page = zoe.get(f"/messagerie/message/{item_id(app, 'zoe.le-gall', 'Confidentiel')}")
    assert "Lucas" not in zoe_page.get_data(as_text=True)
    own = teacher.get(f"/messagerie/message/"
                      f"{item_id(app, 'claire.bernard', 'Confidentiel', FolderKind.OUTBOX)}")
    assert "Copie cachée Lucas Martin <lucas.martin@ent.test>" in \
        page(own).find("dl", class_="mail-headers").text


def test_reply_reply_all_and_forward(app, logged_in):
    deliver(app, "claire.bernard", ["zoe.le-gall", "lucas.martin"], "Exposé",
            "Préparez l'exposé.", files=(("plan.pdf", "application/pdf", b"%PDF plan"),))
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Exposé")

    reply = page(zoe.get(f"/messagerie/ecrire?repondre={item}"))
    chips = [(b.attrs["value"], b.text) for b in reply.find_all("button", class_="chip")]
    assert chips == [(f"to:p:{person(app, 'claire.bernard')}", "Claire Bernard × : retirer")]
    assert reply.find("input", id="subject").attrs["value"] == "Re : Exposé"
    assert "> Préparez l'exposé." in reply.find("textarea").text
    everyone = page(zoe.get(f"/messagerie/ecrire?repondre_tous={item}"))
    assert sorted(b.attrs["value"] for b in everyone.find_all("button", class_="chip")) == \
        sorted([f"to:p:{person(app, 'claire.bernard')}", f"cc:p:{person(app, 'lucas.martin')}"])

    response = compose_post(zoe, {"to": f"p:{person(app, 'claire.bernard')}",
                                  "cc": f"p:{person(app, 'lucas.martin')}",
                                  "reponse_a": str(item), "subject": "Re : Exposé",
                                  "body": "Bien reçu."},
                            page_url=f"/messagerie/ecrire?repondre_tous={item}")
    assert response.status_code == 303
    with app.app_context():
        original = db.session.scalar(select(MailMessage).where(MailMessage.subject == "Exposé"))
        answer = db.session.scalar(select(MailMessage).where(
            MailMessage.subject == "Re : Exposé"))
        assert answer.in_reply_to == original.message_id_header
        assert db.session.get(MailboxItem, item).is_answered

    forward = page(zoe.get(f"/messagerie/ecrire?transferer={item}"))
    assert forward.find("input", id="subject").attrs["value"] == "TR : Exposé"
    kept = forward.find("fieldset", class_="kept-files")
    assert "plan.pdf" in kept.text
    attachment = kept.find("input").attrs["value"]
    response = compose_post(zoe, {"to": f"p:{person(app, 'lucas.martin')}",
                                  "source": str(item), "garder": attachment,
                                  "subject": "TR : Exposé", "body": "Pour toi."})
    assert response.status_code == 303
    lucas = client_of(app, "lucas.martin")
    received = item_id(app, "lucas.martin", "TR : Exposé")
    forwarded = page(lucas.get(f"/messagerie/message/{received}"))
    link = forwarded.find("section", class_="attachments").find("a")
    assert link.text == "plan.pdf"
    assert lucas.get(link.attrs["href"]).data == b"%PDF plan"


def test_a_full_mailbox_is_reported_to_the_sender(app, teacher):
    zoe = person(app, "zoe.le-gall")
    with app.app_context():
        store.system_folders([zoe], FolderKind.INBOX)
        db.session.execute(update(Mailbox).where(Mailbox.account_id == zoe)
                           .values(used_bytes=45 * 1024 * 1024))
        db.session.commit()
    response = compose_post(teacher, {"to": [f"p:{zoe}", f"p:{person(app, 'lucas.martin')}"],
                                      "subject": "Rappel"})
    assert response.status_code == 303
    rows = {row[0]: row[2] for row in result_rows(teacher)}
    assert rows["Zoé Le Gall"] == "Non remis : La boîte aux lettres de Zoé Le Gall est pleine"
    assert rows["Lucas Martin"] == "Remis dans sa messagerie"
    assert items(app, "zoe.le-gall", FolderKind.INBOX) == []


def test_attachments_over_the_limit_are_refused(app, teacher):
    before = messages_by(app, "claire.bernard")
    big = io.BytesIO(b"x" * (16 * 1024 * 1024))
    response = compose_post(teacher, {"to": f"p:{person(app, 'zoe.le-gall')}",
                                      "subject": "Trop lourd"},
                            files=[(big, "video.mp4", "video/mp4")])
    assert response.status_code == 400
    assert "Les pièces jointes font 16 Mo : 15 Mo au plus par message." in errors(response)
    assert "Joignez de nouveau vos fichiers" in errors(response)
    assert messages_by(app, "claire.bernard") == before


def test_copies_for_students_and_for_others(app, logged_in):
    lucas = person(app, "lucas.martin")
    zoe = client_of(app, "zoe.le-gall")
    compose_post(zoe, {"to": f"p:{lucas}", "subject": "Sans copie", "copy": ""})
    compose_post(zoe, {"to": f"p:{lucas}", "subject": "Avec copie", "copy": "y"})
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.SENT)] == ["Avec copie"]

    teacher = logged_in("claire.bernard")
    compose_post(teacher, {"to": f"p:{lucas}", "subject": "Copie pour moi", "copy": "y"})
    with app.app_context():
        own = db.session.scalars(select(OutboundEntry.address).where(
            OutboundEntry.account_id == account("claire.bernard").id)).all()
    assert own == ["claire.bernard@example.net"]
    assert [s for _, s, _ in items(app, "claire.bernard", FolderKind.OUTBOX)] == \
        ["Copie pour moi"]


def copy_notice(client) -> str | None:
    notices = page(client.get("/messagerie/envoye")).find_all("p", class_="copy-notice")
    return notices[0].text if notices else None


def test_the_result_page_names_the_copy_only_when_one_was_kept(app, logged_in):
    """The page used to read `summary.copy` — dict.copy, always true — and announce a copy in
    « Boîte d'envoi » whatever was ticked."""
    lucas = person(app, "lucas.martin")
    zoe = client_of(app, "zoe.le-gall")
    compose_post(zoe, {"to": f"p:{lucas}", "subject": "Sans copie", "copy": ""})
    assert copy_notice(zoe) is None
    compose_post(zoe, {"to": f"p:{lucas}", "subject": "Avec copie", "copy": "y"})
    assert copy_notice(zoe) == "Une copie est enregistrée dans « Messages envoyés »."
    teacher = logged_in("claire.bernard")     # her box asks for a copy at her own address;
    compose_post(teacher, {"to": f"p:{lucas}", "subject": "Sans copie", "copy": ""})
    assert copy_notice(teacher) == "Une copie est enregistrée dans « Boîte d'envoi »."


def test_drafts_keep_groups_text_and_files_until_sent(app, teacher):
    group, members = class_4a(app)
    response = compose_post(teacher, {"action": "brouillon", "to": f"g:{group}",
                                      "subject": "À finir", "body": "Premier jet",
                                      "receipt": "y"},
                            files=[(io.BytesIO(b"contenu du fichier"), "notes.txt", "text/plain")])
    assert response.status_code == 303
    draft = item_id(app, "claire.bernard", "À finir", FolderKind.DRAFTS)
    assert response.headers["Location"] == f"/messagerie/ecrire?brouillon={draft}"
    assert "Le brouillon est enregistré dans « Brouillons »." in flashes(
        teacher.get(response.headers["Location"]))
    assert teacher.get(f"/messagerie/message/{draft}").headers["Location"] == \
        f"/messagerie/ecrire?brouillon={draft}"

    doc = page(teacher.get(f"/messagerie/ecrire?brouillon={draft}"))
    assert [b.attrs["value"] for b in doc.find_all("button", class_="chip")] == \
        [f"to:g:{group}"]
    assert doc.find("input", id="subject").attrs["value"] == "À finir"
    assert doc.find("textarea").text == "Premier jet"
    assert "checked" in doc.find("input", id="receipt").attrs
    kept = doc.find("fieldset", class_="kept-files").find("input")
    response = compose_post(teacher, {"to": f"g:{group}", "brouillon": str(draft),
                                      "source": str(draft), "garder": kept.attrs["value"],
                                      "subject": "Fini", "body": "Texte final"})
    assert response.status_code == 303
    assert items(app, "claire.bernard", FolderKind.DRAFTS) == []
    zoe = client_of(app, "zoe.le-gall")
    doc = page(zoe.get(f"/messagerie/message/{item_id(app, 'zoe.le-gall', 'Fini')}"))
    link = doc.find("section", class_="attachments").find("a")
    assert zoe.get(link.attrs["href"]).data == b"contenu du fichier"
    assert len(result_rows(teacher)) == len(members)


def test_the_picker_works_without_javascript(app, student):
    lucas = person(app, "lucas.martin")
    response = compose_post(student, {"action": "destinataires", "subject": "Devoirs",
                                      "body": "Tu as fini ?", "champ": "cc"})
    assert response.status_code == 303
    draft = item_id(app, "zoe.le-gall", "Devoirs", FolderKind.DRAFTS)
    assert response.headers["Location"] == f"/messagerie/destinataires?brouillon={draft}&champ=cc"

    picker = page(student.get(f"/messagerie/destinataires?brouillon={draft}&champ=cc&nom=martin"))
    rows = {r.find_all("td")[0].text: r for r in picker.find("table", class_="picker-people")
            .find("tbody").find_all("tr")}
    assert "Éric Martin n'est ni dans vos classes ni dans vos groupes" in \
        rows["Martin Éric"].find("span", class_="refusal").text   # the engine's reason
    add = rows["Martin Lucas"].find("a", class_="add-chip")
    assert add.attrs["data-token"] == f"p:{lucas}"
    after = page(student.get(add.attrs["href"]))
    assert "Copie · Lucas Martin" in after.find("div", class_="picked").text

    group = after.find("table", class_="picker-groups").find("a", class_="add-chip")
    after = page(student.get(group.attrs["href"]))
    back = next(a for a in after.find_all("a") if a.text == "Revenir au message")
    compose = page(student.get(back.attrs["href"]))
    values = [b.attrs["value"] for b in compose.find_all("button", class_="chip")]
    assert values[0] == f"cc:p:{lucas}" and values[1].startswith("cc:g:")
    assert compose.find("input", id="subject").attrs["value"] == "Devoirs"


def test_the_picker_escapes_what_it_lists(app, student):
    """Its rows are written in Python (portal/people_rows.py), not by Jinja's autoescape."""
    lucas = person(app, "lucas.martin")
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == lucas)
                           .values(first_name='<b>Lu</b> & "cas"'))
        uai = db.session.scalar(select(Group).where(Group.name == "4A")).school.uai
        db.session.commit()
    doc = page(student.get("/messagerie/destinataires?nom=martin"))
    row = next(r for r in doc.find("table", class_="picker-people").find("tbody").find_all("tr")
               if "Lu" in r.find_all("td")[0].text)
    assert row.find_all("td")[0].text == 'Martin <b>Lu</b> & "cas"' and row.find_all("b") == []
    add = row.find("a", class_="add-chip")
    assert add.attrs["data-label"] == '<b>Lu</b> & "cas" Martin' and add.find_all("b") == []
    assert add.attrs["data-ids"] == str(lucas)
    groups = doc.find("table", class_="picker-groups").find_all("a", class_="add-chip")
    assert "4A (" + uai + ")" in [a.attrs["data-label"] for a in groups]


def test_a_chip_is_removed_without_javascript(app, student):
    lucas, claire = person(app, "lucas.martin"), person(app, "claire.bernard")
    response = compose_post(student, {"to": [f"p:{lucas}", f"p:{claire}"],
                                      "retirer": f"to:p:{lucas}", "subject": "Choix"})
    assert response.status_code == 303
    doc = page(student.get(response.headers["Location"]))
    assert [b.attrs["value"] for b in doc.find_all("button", class_="chip")] == \
        [f"to:p:{claire}"]


def test_the_annuaire_envelope_opens_compose_with_the_person(app, student):
    lucas = person(app, "lucas.martin")
    doc = page(student.get(f"/messagerie/ecrire?destinataire={lucas}"))
    assert [b.attrs["value"] for b in doc.find_all("button", class_="chip")] == [f"to:p:{lucas}"]
    with app.app_context():
        stranger = next(v for v in writable(account("zoe.le-gall"), students(app, 200)).values()
                        if not v.allowed)
    refused = student.get(f"/messagerie/ecrire?destinataire={stranger.account_id}")
    assert not page(refused).find_all("button", class_="chip")
    assert "n'est ni dans vos classes ni dans vos groupes" in page(refused).find(
        "p", class_="flash").text


def test_an_id_outside_ones_directory_names_nobody(app, student):
    """`?destinataire=214` told Zoé the name of a pupil of another school: counting ids gave
    every name of the region. Outside one's perimeter, and for an unknown id, the same
    sentence without a name."""
    with app.app_context():
        stranger = db.session.scalar(
            select(Account).where(Account.profile == Profile.STUDENT)
            .order_by(Account.id.desc()))
        name = stranger.last_name
        stranger_id = stranger.id
        last = db.session.scalar(select(func.max(Account.id)))
    for account_id in (stranger_id, last + 1000):
        response = student.get(f"/messagerie/ecrire?destinataire={account_id}")
        assert response.status_code == 200
        flash = page(response).find("p", class_="flash").text
        assert flash == "Destinataire inconnu."
        assert name not in response.get_data(as_text=True)


def test_outbox_of_a_teacher_and_the_note_about_redirect_addresses(app, logged_in):
    teacher = logged_in("claire.bernard")
    compose_post(teacher, {"to": f"p:{person(app, 'zoe.le-gall')}", "subject": "Envoyé"})
    doc = page(teacher.get("/messagerie/"))
    assert doc.find("h1").text == "Boîte d'envoi"
    note = doc.find("div", class_="outbox-note")
    assert "transférés à votre adresse de redirection" in note.text
    assert note.find("a").attrs["href"] == "/preferences/"
    assert "example.net" not in doc.text
    assert "Envoyé" in page(teacher.get("/messagerie/recherche?q=envoy")).text
    assert not doc.find_all("div", class_="quota")

    staff = client_of(app, "paul.durand")
    warning = page(staff.get("/messagerie/")).find("div", class_="outbox-note")
    assert "Vous n'avez pas d'adresse de redirection vérifiée" in warning.text


@pytest.mark.parametrize("data, status, message", [
    ({"to": "x:1"}, 400, "Un destinataire du formulaire est invalide."),
    ({"to": "p:abc"}, 400, "Un destinataire du formulaire est invalide."),
    ({"to": "p:2147483000"}, 400, "Un des destinataires n'existe pas."),
    ({}, 400, "Ajoutez au moins un destinataire."),
    ({"subject": "x" * 251}, 400, "L'objet dépasse 250 caractères."),
    ({"action": "publier"}, 400, "La requête n'a pas pu être traitée."),
])
def test_bad_input_is_refused_and_sends_nothing(app, student, data, status, message):
    lucas = person(app, "lucas.martin")
    before = messages_by(app, "zoe.le-gall")
    payload = {"to": f"p:{lucas}", "subject": "Test", **data}
    if not data:
        payload.pop("to")
    response = compose_post(student, payload)
    assert response.status_code == status
    assert message in page(response).text
    assert messages_by(app, "zoe.le-gall") == before


def test_someone_elses_ids_in_compose_answer_404(app, logged_in):
    deliver(app, "claire.bernard", ["lucas.martin"], "À Lucas",
            files=(("secret.txt", "text/plain", b"secret"),))
    lucas_item = item_id(app, "lucas.martin", "À Lucas")
    with app.app_context():
        contacts = book.create_group(account("claire.bernard"), "Mes collègues")
        db.session.commit()
        contacts_id = contacts.id
    zoe = logged_in("zoe.le-gall")
    lucas = f"p:{person(app, 'lucas.martin')}"
    for data in ({"to": f"c:{contacts_id}"}, {"to": lucas, "reponse_a": str(lucas_item)},
                 {"to": lucas, "source": str(lucas_item), "garder": "1"},
                 {"to": lucas, "brouillon": str(lucas_item)}):
        assert compose_post(zoe, {"subject": "X", **data}).status_code == 404, data
    assert zoe.get(f"/messagerie/destinataires?onglet=carnet&carnet={contacts_id}") \
        .status_code == 404
    assert zoe.get(f"/messagerie/ecrire?ajout=to:c:{contacts_id}").status_code == 404
    assert items(app, "lucas.martin", FolderKind.INBOX) == [(lucas_item, "À Lucas", False)]


def test_acceptance_class_mail_read_and_answered_reaches_the_teachers_mailbox(app, logged_in):
    """Issue 6's acceptance 2: Claire writes to 4A with a file, Zoé reads and answers, the
    answer leaves as an .eml for Claire's redirect address with From Zoé's universal one."""
    group, _members = class_4a(app)
    teacher = logged_in("claire.bernard")
    response = compose_post(teacher, {"to": f"g:{group}", "subject": "Lecture",
                                      "body": "Lisez le chapitre 3."},
                            files=[(io.BytesIO(b"chapitre 3"), "chapitre.txt", "text/plain")])
    assert response.status_code == 303
    zoe = client_of(app, "zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Lecture")
    assert "chapitre.txt" in page(zoe.get(f"/messagerie/message/{item}")).text
    response = compose_post(zoe, {"to": f"p:{person(app, 'claire.bernard')}",
                                  "reponse_a": str(item), "subject": "Re : Lecture",
                                  "body": "C'est lu."},
                            page_url=f"/messagerie/ecrire?repondre={item}")
    assert response.status_code == 303
    with app.app_context():
        worker.drain()
        reply = db.session.scalar(select(MailMessage).where(MailMessage.subject == "Re : Lecture"))
        entry = db.session.scalar(select(OutboundEntry).where(
            OutboundEntry.message_id == reply.id))
        assert (entry.address, entry.state.value) == ("claire.bernard@example.net", "sent")
    sent = [message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in (Path(app.instance_path) / "mail-out").glob("*.eml")]
    replies = [m for m in sent if m["Subject"] == "Re : Lecture"]
    assert len(replies) == 1
    assert replies[0]["From"].addresses[0].addr_spec == "zoe.le-gall@ent.test"
    assert "C'est lu." in replies[0].get_body(("plain",)).get_content()


def test_picker_shows_a_groups_list_and_the_address_book(app, teacher):
    group, members = class_4a(app)
    doc = page(teacher.get(f"/messagerie/destinataires?champ=bcc&groupe={group}"))
    assert doc.find("p", class_="result-count").text == f"{len(members) + 1} résultats"
    add_list = next(a for a in doc.find_all("a", class_="add-chip")
                    if a.text.startswith("Ajouter la liste ("))
    assert add_list.text == f"Ajouter la liste ({len(members)} personnes)"
    assert add_list.attrs["data-token"] == f"g:{group}"
    assert sorted(int(i) for i in add_list.attrs["data-ids"].split()) == members
    assert f"ajout=bcc:g:{group}" in add_list.attrs["href"]

    with app.app_context():
        contacts = book.create_group(account("claire.bernard"), "Parents délégués")
        book.add_member(account("claire.bernard"), contacts, person(app, "joseph.fabre"))
        db.session.commit()
        contacts_id = contacts.id
    tab = page(teacher.get("/messagerie/destinataires?onglet=carnet"))
    row = tab.find("table", class_="picker-groups").find("tbody").find("tr")
    assert [cell.text for cell in row.find_all("td")][:3] == ["Parents délégués", "1", "1"]
    listing = page(teacher.get(f"/messagerie/destinataires?onglet=carnet&carnet={contacts_id}"))
    people = listing.find("table", class_="picker-people")
    assert "Fabre Joseph" in people.text
    assert people.find("a", class_="add-chip").attrs["data-token"] == \
        f"p:{person(app, 'joseph.fabre')}"


def test_an_address_book_member_one_may_not_write_to_is_told_why_in_the_picker(app, student):
    """The members of an address-book group get the same last cell as the search's rows: the
    link where writing is allowed, else the rights engine's reason."""
    with app.app_context():
        zoe = account("zoe.le-gall")
        contacts = book.create_group(zoe, "Mes contacts")
        for login in ("lucas.martin", "eric.martin"):
            book.add_member(zoe, contacts, person(app, login))
        db.session.commit()
        contacts_id = contacts.id
    listing = page(student.get(f"/messagerie/destinataires?onglet=carnet&carnet={contacts_id}"))
    rows = {r.find_all("td")[0].text: r for r in listing.find("table", class_="picker-people")
            .find("tbody").find_all("tr")}
    assert rows["Martin Lucas"].find("a", class_="add-chip").attrs["data-token"] == \
        f"p:{person(app, 'lucas.martin')}"
    assert rows["Martin Éric"].find_all("a") == []
    assert "Éric Martin n'est ni dans vos classes ni dans vos groupes" in \
        rows["Martin Éric"].find("span", class_="refusal").text


# --- a typed name or address ------------------------------------------------------------

def suggested(client, text: str) -> list[str]:
    response = client.get("/messagerie/suggestions", query_string={"q": text})
    assert response.status_code == 200
    return [s["text"] for s in response.get_json()]


def test_typing_a_name_or_an_address_suggests_people_one_may_write_to(app, logged_in):
    zoe = client_of(app, "zoe.le-gall")
    assert "Lucas Martin <lucas.martin@ent.test>" in suggested(zoe, "luc")
    assert suggested(zoe, "lucas.mar") == ["Lucas Martin <lucas.martin@ent.test>"]
    assert suggested(zoe, "Lucas.MAR") == ["Lucas Martin <lucas.martin@ent.test>"]
    assert suggested(zoe, "@ent") == []
    assert suggested(zoe, "lucas.martin@ent") == ["Lucas Martin <lucas.martin@ent.test>"]
    assert suggested(zoe, "lucas.martin@example.org") == []
    assert suggested(zoe, "l") == []
    with app.app_context():
        stranger = db.session.scalar(
            select(Account).where(Account.profile == Profile.STUDENT)
            .order_by(Account.id.desc()))       # a pupil of the last school, not Zoé's
        address = stranger.address
    assert suggested(zoe, address) == []


def add_typed(client, text: str, field: str = "to", **extra):
    token = csrf_token(client.get("/messagerie/ecrire").get_data(as_text=True))
    return client.post("/messagerie/ecrire", data={
        "csrf_token": token, "action": "ajouter", "saisie": text, "champ": field,
        "subject": "Exposé", **extra})


def test_a_typed_person_becomes_a_chip_without_javascript(app, logged_in):
    zoe = client_of(app, "zoe.le-gall")
    lucas = person(app, "lucas.martin")
    for text in ("Lucas Martin <lucas.martin@ent.test>", "LUCAS.MARTIN@ent.test",
                 "Martin Lucas"):
        response = add_typed(zoe, text, "cc")
        assert response.status_code == 200, errors(response)
        doc = page(response)
        chips = doc.find("div", id="recipients-cc").find_all("input")
        assert [c.attrs["value"] for c in chips] == [f"p:{lucas}"]
        assert doc.find("input", id="subject").attrs["value"] == "Exposé"


def test_a_typed_stranger_is_an_unknown_recipient_without_a_name(app, logged_in):
    zoe = client_of(app, "zoe.le-gall")
    with app.app_context():
        stranger = db.session.scalar(
            select(Account).where(Account.profile == Profile.STUDENT)
            .order_by(Account.id.desc()))
        address, name = f"{stranger.address}@ent.test", stranger.last_name
    response = add_typed(zoe, address)
    assert response.status_code == 400
    assert errors(response) == f"Destinataire inconnu : {address}."
    assert name not in errors(response)
    assert "Aucune personne" in errors(add_typed(zoe, "Zzzyx"))
    assert "Plusieurs personnes" in errors(add_typed(zoe, "ma"))


def test_a_posted_chip_of_a_stranger_names_nobody(app, student):
    """The chip's label came from any id: posting to=p:<id> showed the name of anyone."""
    with app.app_context():
        stranger = db.session.scalar(
            select(Account).where(Account.profile == Profile.STUDENT)
            .order_by(Account.id.desc()))
        stranger_id, name = stranger.id, stranger.last_name
    response = compose_post(student, {"action": "brouillon", "to": f"p:{stranger_id}",
                                      "subject": "Qui est-ce ?"})
    assert response.status_code == 400
    assert errors(response) == "Un des destinataires n'existe pas."
    assert name not in response.get_data(as_text=True)


@pytest.mark.parametrize("login", ["zoe.le-gall", "joseph.fabre", "claire.bernard"])
def test_the_pickers_own_groups_hold_the_members_the_rule_lets_one_write_to(ctx, login):
    """The picker's own groups come with their members in one statement (picker.own_groups):
    each group's members are those `writable` allows, the viewer excepted, counted and
    listed; a group of the viewer alone is listed, empty; a member suspended and not flushed
    yet is gone (the statement flushes the session first, as an ORM query would)."""
    from directory.rights import sender_rule
    from portal.messagerie.picker import own_groups

    viewer = db.session.scalar(select(Account).where(Account.login == login))
    alone = Group(kind=GroupKind.AD_HOC, name="Zz seule", search_name="zz seule",
                  school_id=viewer.schools[0].id)
    db.session.add(alone)
    db.session.flush()
    db.session.add(GroupMember(group_id=alone.id, account_id=viewer.id))
    # and one with someone each viewer may write to (a parent has no group of his own)
    other = "zoe.le-gall" if login == "claire.bernard" else "claire.bernard"
    shared = Group(kind=GroupKind.AD_HOC, name="Zz avec", search_name="zz avec",
                   school_id=viewer.schools[0].id)
    db.session.add(shared)
    db.session.flush()
    db.session.add_all([GroupMember(group_id=shared.id, account_id=viewer.id),
                        GroupMember(group_id=shared.id, account_id=db.session.scalar(
                            select(Account.id).where(Account.login == other)))])
    db.session.flush()
    rule = sender_rule(viewer)      # read before the suspension: only own_groups may flush it

    listed = own_groups(viewer, rule)
    mine = db.session.scalars(select(GroupMember.group_id)
                              .where(GroupMember.account_id == viewer.id)).all()
    assert sorted(row.group.id for row in listed) == sorted(mine)
    assert {row.group.id: (row.count, row.ids) for row in listed}[alone.id] == (0, ())
    for group, count, members, _too_big in listed:
        everyone = db.session.scalars(select(GroupMember.account_id)
                                      .where(GroupMember.group_id == group.id)).all()
        allowed = {account_id for account_id, verdict in writable(viewer, everyone).items()
                   if verdict.allowed and account_id != viewer.id}
        assert set(members) == allowed and len(members) == len(allowed) == count, group.name

    reachable = [row.ids[0] for row in listed if row.ids]
    assert reachable                # « Zz avec » at least
    db.session.get(Account, reachable[0]).suspended = True     # not flushed
    assert all(reachable[0] not in row.ids for row in own_groups(viewer, rule))


def test_the_pickers_own_group_too_big_for_a_message_is_counted_without_its_ids(app, teacher):
    """A group with more members one may write to than a message may hold (MAX_RECIPIENTS)
    is counted by the database and listed without its ids nor « Ajouter la liste », which
    could only lead to a refusal: the page says why instead. A page of the picker then costs
    one row per group, not one per member."""
    from mailgate.routing import MAX_RECIPIENTS
    from portal.messagerie.picker import own_groups

    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        school_id = claire.schools[0].id
        big = Group(kind=GroupKind.AD_HOC, name="Zz chorale", search_name="zz chorale",
                    school_id=school_id)
        db.session.add(big)
        db.session.flush()
        pupils = db.session.scalars(
            select(Account.id).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == school_id, Account.profile == Profile.STUDENT,
                   Account.suspended.is_(False))).all()
        assert len(pupils) > MAX_RECIPIENTS
        db.session.add_all([GroupMember(group_id=big.id, account_id=i)
                            for i in [claire.id, *pupils]])
        db.session.commit()
        row = next(r for r in own_groups(claire) if r.group.id == big.id)
        assert row.count == len(pupils) and row.ids is None and row.too_big.code == "group_too_big"
        group_id = big.id

    listing = page(teacher.get("/messagerie/destinataires"))
    rows = listing.find("table", class_="picker-groups").find("tbody").find_all("tr")
    cells = next(row.find_all("td") for row in rows
                 if row.find("td").text.startswith("Zz chorale"))
    assert cells[1].text == str(len(pupils))
    assert not cells[2].find_all("a", class_="add-chip")
    assert f"Trop de personnes pour un message ({MAX_RECIPIENTS} au plus)" in cells[2].text
    assert f"groupe={group_id}" in cells[2].find("a").attrs["href"]


def test_the_pickers_writable_members_see_what_the_session_has_not_flushed(ctx):
    """The members of a group one may write to (the picker's address book, a group's chip) are
    read on the driver's cursor: a change the session holds unflushed (a member suspended) is
    flushed first, as an ORM query would."""
    from directory.rights import sender_rule
    from portal.messagerie.recipients import writable_members_by_group

    zoe = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
    four_a = db.session.scalar(select(Group.id).join(GroupMember)
                               .where(GroupMember.account_id == zoe.id, Group.name == "4A"))
    rule = sender_rule(zoe)     # read before: only the members' own read may flush
    members = writable_members_by_group(zoe, GroupMember, [four_a], rule)[four_a]
    classmate = db.session.get(Account, members[0])
    classmate.suspended = True
    assert classmate.id not in writable_members_by_group(zoe, GroupMember, [four_a],
                                                         rule).get(four_a, ())


def test_reply_all_leaves_out_whoever_has_left(app, logged_in):
    """A pupil of the class suspended since: the other pupils' « Répondre à tous » opens
    without her (it was a 500)."""
    deliver(app, "claire.bernard", ["zoe.le-gall", "lucas.martin"], "Sortie")
    with app.app_context():
        db.session.execute(update(Account).where(Account.login == "lucas.martin")
                           .values(suspended=True))
        db.session.commit()
    zoe = logged_in("zoe.le-gall")
    item = item_id(app, "zoe.le-gall", "Sortie")
    response = zoe.get(f"/messagerie/ecrire?repondre_tous={item}")
    assert response.status_code == 200
    assert [b.attrs["value"] for b in page(response).find_all("button", class_="chip")] == \
        [f"to:p:{person(app, 'claire.bernard')}"]


def test_a_chip_added_for_someone_unknown_is_said_not_a_500(app, logged_in):
    from directory.models import AccountSchool, School

    with app.app_context():
        stranger = db.session.scalar(
            select(Account.id).join(AccountSchool, AccountSchool.account_id == Account.id)
            .join(School, School.id == AccountSchool.school_id)
            .where(School.uai == "0310002C").limit(1))
    zoe = logged_in("zoe.le-gall")
    response = zoe.get(f"/messagerie/ecrire?ajout=to:p:{stranger}")
    assert response.status_code == 200
    assert page(response).find_all("button", class_="chip") == []
    assert flashes(response)


@pytest.mark.parametrize("subject", ["Ligne\u2028coupée", "Saut\x0bvertical", "Fin\rde ligne"])
def test_a_line_break_in_the_subject_becomes_a_space(app, logged_in, subject):
    claire = logged_in("claire.bernard")
    response = compose_post(claire, {"to": f"p:{person(app, 'zoe.le-gall')}",
                                     "subject": subject, "body": "Bonjour."})
    assert response.status_code == 303
    folded = " ".join(subject.splitlines())
    assert folded in [s for _, s, _ in items(app, "zoe.le-gall")]
    draft = compose_post(claire, {"to": f"p:{person(app, 'zoe.le-gall')}", "subject": subject,
                                  "body": "Brouillon.", "action": "brouillon"})
    assert draft.status_code in (302, 303)
