"""The student mailbox through HTTP: folders, list, sort, pages, search, every folder action,
the quota sentence and refusal, and someone else's ids answering 404."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from directory.db import db
from mailgate.models import FolderKind, Mailbox, MailFolder
from tests.conftest import csrf_token, post_form

from .carnet_helpers import client_of, page, submit, table_rows
from .messagerie_helpers import (
    account,
    deliver,
    flashes,
    folder_id,
    item_id,
    items,
    selection,
    used_bytes,
)


def subjects(doc) -> list[str]:
    return [row[2].replace(" (non lu)", "").split(" ↩")[0]
            for row in table_rows(doc, "mail-list")]


def test_the_navigation_leads_to_the_inbox(app, student):
    links = {a.text: a.attrs["href"] for a in page(student.get("/")).find("nav").find_all("a")}
    assert links["Messagerie"] == "/messagerie/"
    doc = page(student.get("/messagerie/"))
    assert doc.find("h1").text == "Boîte de réception"
    folders = [a.text for a in doc.find("ul", class_="folders").find_all("a")]
    assert [f.split(" ")[0] for f in folders] == ["Boîte", "Messages", "Brouillons", "Corbeille"]


def test_inbox_lists_subject_sender_date_size_and_unread(app, student):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Devoirs de français",
            files=(("consignes.pdf", "application/pdf", b"%PDF-1.4 " * 300),))
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Match samedi")
    doc = page(student.get("/messagerie/"))
    rows = table_rows(doc, "mail-list")
    assert [r[1] for r in rows] == ["Lucas Martin", "Claire Bernard"]
    assert rows[0][2] == "Match samedi (non lu)"
    assert doc.find("img", class_="attachment-mark").attrs["alt"] == "Pièce(s) jointe(s)"
    assert rows[0][3].count(":") == 1            # today: the time
    assert rows[1][4].endswith(" Ko") and int(rows[1][4].split()[0]) >= 3
    assert doc.find("tr", class_="unread").find("strong").text == "Match samedi"


def test_sort_by_sender_and_subject(app, student):
    for author, subject in (("lucas.martin", "B sujet"), ("claire.bernard", "C sujet"),
                            ("lucas.martin", "A sujet")):
        deliver(app, author, ["zoe.le-gall"], subject)
    assert subjects(page(student.get("/messagerie/"))) == ["A sujet", "C sujet", "B sujet"]
    assert subjects(page(student.get("/messagerie/?tri=objet&ordre=asc"))) == \
        ["A sujet", "B sujet", "C sujet"]
    by_sender = table_rows(page(student.get("/messagerie/?tri=expediteur&ordre=asc")),
                           "mail-list")
    assert [r[1] for r in by_sender] == ["Claire Bernard", "Lucas Martin", "Lucas Martin"]
    assert student.get("/messagerie/?tri=taille").status_code == 400


def test_pagination_by_fifty(app, student):
    for n in range(52):
        deliver(app, "lucas.martin", ["zoe.le-gall"], f"Message {n:02d}")
    first = page(student.get("/messagerie/"))
    assert len(table_rows(first, "mail-list")) == 50
    assert "Page 1 sur 2" in first.text
    second = page(student.get("/messagerie/?page=2"))
    assert subjects(second) == ["Message 01", "Message 00"]
    assert student.get("/messagerie/?page=3").status_code == 404


def test_search_in_subject_sender_and_text(app, student):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Sortie au musée", "Rendez-vous à 8h.")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Jeu", "Tu viens au Musée demain ?")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Autre chose", "Rien à voir.")
    found = page(student.get("/messagerie/recherche?q=musée"))
    assert sorted(subjects(found)) == ["Jeu", "Sortie au musée"]
    assert "2 messages contiennent « musée »" in found.text
    assert subjects(page(student.get("/messagerie/recherche?q=bernard"))) == ["Sortie au musée"]
    for literal in ("8%h", "8.h", "(8h", "8_h", "à 8\\"):    # characters, not patterns
        assert "Aucun message ne contient" in page(
            student.get("/messagerie/recherche", query_string={"q": literal})).text, literal
    assert subjects(page(student.get("/messagerie/recherche?q=à 8h."))) == ["Sortie au musée"]
    assert student.get("/messagerie/recherche?q=").status_code == 400


def test_search_ignores_accents_case_and_line_breaks(app, student):
    deliver(app, "claire.bernard", ["zoe.le-gall"], "ÉLÈVES : Œuvre au théâtre",
            "Rendez-vous à la\nBibliothèque,   entrée   B.")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Lot A1", "Rien à voir.")
    for text in ("eleves", "Élèves", "oeuvre", "THEATRE", "théatre", "bibliotheque",
                 "la bibliotheque, entree b", "Claire BERNARD"):
        assert subjects(page(student.get("/messagerie/recherche", query_string={
            "q": text}))) == ["ÉLÈVES : Œuvre au théâtre"], text
    # Fewer than three letters in a row: no trigram for the index, found all the same.
    assert subjects(page(student.get("/messagerie/recherche?q=a1"))) == ["Lot A1"]
    assert student.get("/messagerie/recherche", query_string={"q": "\u0301"}).status_code \
        == 400                                    # an accent alone folds to nothing


def test_search_finds_the_words_together_not_only_each_of_them(app, student):
    """On PostgreSQL the index finds the messages holding each word (search_words); the
    whole text must still contain them in that order."""
    deliver(app, "claire.bernard", ["zoe.le-gall"], "Programme",
            "Le musée lundi est fermé. Sortie au parc mardi.")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Rappel",
            "Sortie au musée lundi ; sortie au musée mardi.")
    assert subjects(page(student.get("/messagerie/recherche?q=sortie au musée"))) == ["Rappel"]
    assert sorted(subjects(page(student.get("/messagerie/recherche?q=musée lundi")))) == [
        "Programme", "Rappel"]


def test_search_never_finds_other_peoples_messages(app, logged_in):
    deliver(app, "claire.bernard", ["lucas.martin"], "Secret de Lucas")
    client = logged_in("zoe.le-gall")
    assert "Aucun message" in page(client.get("/messagerie/recherche?q=secret")).text


def test_mark_read_and_unread(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Coucou")
    item = item_id(app, "zoe.le-gall", "Coucou")
    response = selection(student, [item], "lu")
    assert response.status_code == 303
    assert items(app, "zoe.le-gall", FolderKind.INBOX)[0][2] is True
    assert "1 message marqué comme lu." in flashes(student.get("/messagerie/"))
    selection(student, [item], "non-lu")
    assert items(app, "zoe.le-gall", FolderKind.INBOX)[0][2] is False


def test_folders_create_file_rename_and_delete_moving_to_inbox(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "À ranger")
    response = post_form(student, "/messagerie/dossiers", {"name": "  Sorties   scolaires "})
    assert response.status_code == 303
    folder = folder_id(app, "zoe.le-gall", FolderKind.USER, "Sorties scolaires")
    item = item_id(app, "zoe.le-gall", "À ranger")
    response = selection(student, [item], "deplacer", destination=str(folder))
    assert response.status_code == 303
    assert [s for _, s, _ in items(app, "zoe.le-gall", folder="Sorties scolaires")] == \
        ["À ranger"]
    assert items(app, "zoe.le-gall", FolderKind.INBOX) == []
    assert subjects(page(student.get(f"/messagerie/dossier/{folder}"))) == ["À ranger"]

    response = post_form(student, f"/messagerie/dossier/{folder}/renommer", {"name": "Sorties"})
    assert response.status_code == 303
    assert folder_id(app, "zoe.le-gall", FolderKind.USER, "Sorties") == folder

    confirmation = page(student.get(f"/messagerie/dossier/{folder}/supprimer"))
    assert "Ce dossier contient encore 1 message." in confirmation.text
    refused = post_form(student, f"/messagerie/dossier/{folder}/supprimer", {})
    assert refused.status_code == 400
    assert "contient encore 1 message" in page(refused).find("ul", class_="errors").text
    assert folder_id(app, "zoe.le-gall", FolderKind.USER, "Sorties") == folder

    response = post_form(student, f"/messagerie/dossier/{folder}/supprimer", {"deplacer": "y"})
    assert response.status_code == 303
    assert folder_id(app, "zoe.le-gall", FolderKind.USER, "Sorties") is None
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.INBOX)] == ["À ranger"]


def test_an_empty_folder_is_deleted_at_once(app, student):
    post_form(student, "/messagerie/dossiers", {"name": "Vide"})
    folder = folder_id(app, "zoe.le-gall", FolderKind.USER, "Vide")
    assert post_form(student, f"/messagerie/dossier/{folder}/supprimer", {}).status_code == 303
    assert folder_id(app, "zoe.le-gall", FolderKind.USER, "Vide") is None


@pytest.mark.parametrize("name, error", [
    ("", "Donnez un nom au dossier."),
    ("x" * 121, "dépasse 120 caractères"),
    ("corbeille", "est le nom d'un dossier du système"),
    ("PERSO", "Vous avez déjà un dossier « Perso »"),
])
def test_a_bad_folder_name_is_refused_and_changes_nothing(app, student, name, error):
    post_form(student, "/messagerie/dossiers", {"name": "Perso"})
    response = post_form(student, "/messagerie/dossiers", {"name": name})
    assert response.status_code == 400
    assert error in page(response).find("ul", class_="errors").text
    with app.app_context():
        names = db.session.scalars(select(MailFolder.name).where(
            MailFolder.account_id == account("zoe.le-gall").id,
            MailFolder.kind == FolderKind.USER)).all()
    assert names == ["Perso"]


def test_system_folders_cannot_be_renamed_or_deleted(app, student):
    student.get("/messagerie/")
    inbox = folder_id(app, "zoe.le-gall", FolderKind.INBOX)
    assert student.get(f"/messagerie/dossier/{inbox}/renommer").status_code == 404
    assert student.get(f"/messagerie/dossier/{inbox}/supprimer").status_code == 404


def test_delete_goes_to_the_trash_then_for_good_after_confirmation(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "À jeter",
            files=(("photo.png", "image/png", b"\x89PNG" + b"x" * 5000),))
    item = item_id(app, "zoe.le-gall", "À jeter")
    used = used_bytes(app, "zoe.le-gall")
    assert used > 5000
    selection(student, [item], "supprimer")
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.TRASH)] == ["À jeter"]
    assert used_bytes(app, "zoe.le-gall") == used      # still held: still counted

    trash = folder_id(app, "zoe.le-gall", FolderKind.TRASH)
    asked = selection(student, [item], "supprimer", retour=f"/messagerie/dossier/{trash}")
    assert asked.status_code == 200
    assert "Supprimer définitivement ?" in page(asked).find("h1").text
    assert items(app, "zoe.le-gall", FolderKind.TRASH) != []

    form = page(asked).find("section", class_="narrow").find("form")
    done = submit(student, form)
    assert done.status_code == 303 and done.headers["Location"] == f"/messagerie/dossier/{trash}"
    assert items(app, "zoe.le-gall") == []
    assert used_bytes(app, "zoe.le-gall") == 0


def test_empty_the_trash_with_confirmation(app, student):
    for n in range(3):
        deliver(app, "lucas.martin", ["zoe.le-gall"], f"Vieux {n}")
    ids = [i for i, _, _ in items(app, "zoe.le-gall", FolderKind.INBOX)]
    selection(student, ids[:2], "supprimer")
    confirmation = page(student.get("/messagerie/corbeille/vider"))
    assert "Les 2 messages de la Corbeille seront supprimés définitivement." in confirmation.text
    response = post_form(student, "/messagerie/corbeille/vider", {})
    assert response.status_code == 303
    assert items(app, "zoe.le-gall", FolderKind.TRASH) == []
    assert [s for _, s, _ in items(app, "zoe.le-gall")] == ["Vieux 0"]


def test_no_selection_or_no_destination_is_a_clear_error(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Reste là")
    item = item_id(app, "zoe.le-gall", "Reste là")
    selection(student, [], "lu")
    assert "Sélectionnez au moins un message." in flashes(student.get("/messagerie/"))
    selection(student, [item], "deplacer")
    assert "Choisissez le dossier où déplacer les messages." in flashes(student.get("/messagerie/"))
    assert items(app, "zoe.le-gall", FolderKind.INBOX)[0][1:] == ("Reste là", False)
    drafts = folder_id(app, "zoe.le-gall", FolderKind.DRAFTS)
    selection(student, [item], "deplacer", destination=str(drafts))
    assert "On ne range pas de message dans « Brouillons »." in \
        flashes(student.get("/messagerie/"))
    assert selection(student, [item], "effacer").status_code == 400


def test_someone_elses_message_and_folder_ids_answer_404(app, logged_in):
    deliver(app, "claire.bernard", ["lucas.martin"], "Pour Lucas")
    lucas_item = item_id(app, "lucas.martin", "Pour Lucas")
    lucas_client = client_of(app, "lucas.martin")
    post_form(lucas_client, "/messagerie/dossiers", {"name": "Privé"})
    lucas_folder = folder_id(app, "lucas.martin", FolderKind.USER, "Privé")
    lucas_inbox = folder_id(app, "lucas.martin", FolderKind.INBOX)

    zoe = logged_in("zoe.le-gall")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Pour Zoé")
    zoe_item = item_id(app, "zoe.le-gall", "Pour Zoé")
    for url in (f"/messagerie/message/{lucas_item}", f"/messagerie/message/{lucas_item}/contenu",
                f"/messagerie/dossier/{lucas_inbox}", f"/messagerie/dossier/{lucas_folder}",
                f"/messagerie/dossier/{lucas_folder}/renommer",
                f"/messagerie/dossier/{lucas_folder}/supprimer",
                f"/messagerie/ecrire?repondre={lucas_item}",
                f"/messagerie/ecrire?transferer={lucas_item}",
                f"/messagerie/ecrire?brouillon={lucas_item}"):
        assert zoe.get(url).status_code == 404, url
    for ids, action, extra in (([lucas_item], "supprimer", {}), ([lucas_item, zoe_item], "lu", {}),
                               ([zoe_item], "deplacer", {"destination": str(lucas_folder)})):
        assert selection(zoe, ids, action, **extra).status_code == 404
    assert post_form(zoe, f"/messagerie/dossier/{lucas_folder}/renommer", {"name": "X"},
                     page="/messagerie/dossiers").status_code == 404
    assert items(app, "lucas.martin", FolderKind.INBOX) == [(lucas_item, "Pour Lucas", False)]
    assert items(app, "zoe.le-gall")[0][2] is False
    assert folder_id(app, "lucas.martin", FolderKind.USER, "Privé") == lucas_folder


def test_quota_sentence_and_bar(app, student):
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Petit", "x" * 20_000)
    doc = page(student.get("/messagerie/"))
    used = used_bytes(app, "zoe.le-gall")
    expected_kb = -(-used // 1024)
    assert doc.find("p", id="quota-text").text == (
        f"Vous utilisez actuellement {expected_kb} Ko (1%) de votre espace de 45 Mo")
    meter = doc.find("meter")
    assert meter.attrs["value"] == str(used) and meter.attrs["max"] == str(45 * 1024 * 1024)


def test_a_full_mailbox_is_said_and_refuses_mail(app, student, logged_in):
    with app.app_context():
        zoe = account("zoe.le-gall")
        student.get("/messagerie/")
        db.session.execute(update(Mailbox).where(Mailbox.account_id == zoe.id)
                           .values(used_bytes=45 * 1024 * 1024))
        db.session.commit()
    doc = page(student.get("/messagerie/"))
    assert "Vous utilisez actuellement 45 Mo (100%) de votre espace de 45 Mo" in doc.text
    assert "Votre espace est plein" in doc.find("p", class_="quota-warning").text
    # A draft does not fit either: refused with the reason, nothing stored.
    response = post_form(student, "/messagerie/ecrire", {"action": "brouillon",
                                                         "subject": "Brouillon"})
    assert response.status_code == 400
    assert "Votre espace de stockage est plein" in page(response).find(
        "div", class_="form-errors").text
    assert items(app, "zoe.le-gall", FolderKind.DRAFTS) == []
    csrf_token(response.get_data(as_text=True))


def test_the_confirmation_counts_only_what_the_corbeille_holds(app, student):
    """Ticked in several folders (a search), only those of the Corbeille go for good."""
    for n in range(3):
        deliver(app, "lucas.martin", ["zoe.le-gall"], f"Mêlé {n}")
    ids = [i for i, _, _ in items(app, "zoe.le-gall", FolderKind.INBOX)]
    selection(student, ids[:1], "supprimer")
    asked = selection(student, ids, "supprimer")
    said = page(asked).find("section", class_="narrow").text
    assert "Le message sélectionné dans la Corbeille sera supprimé définitivement." in said
    assert "Les 2 autres messages sélectionnés iront dans la Corbeille." in said
