"""The webmail after the third review: a draft « Supprimer » sent to the Corbeille does not
leave it for another folder either (it became a message nobody could send or edit), and an
HTML message followed by a list's footer is found and quoted by its own words (only the
footer was)."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from directory.errors import InvalidInput
from mailgate import mailbox
from mailgate.models import FolderKind

from .carnet_helpers import page
from .messagerie_helpers import (
    account,
    compose_post,
    deliver,
    flashes,
    folder_id,
    item_id,
    selection,
)
from .test_webmail_review2 import _found, _headed, _route

DRAFT_STAYS = ("On ne déplace pas un brouillon : il ne s'ouvre, pour être terminé et "
               "envoyé, que dans « Brouillons ».")


def _account_id(app, login: str) -> int:
    with app.app_context():
        return account(login).id


# --- 8. a draft in the Corbeille ---------------------------------------------------------------

def test_a_deleted_draft_is_not_moved_out_of_the_corbeille(app, student):
    lucas = _account_id(app, "lucas.martin")
    compose_post(student, {"action": "brouillon", "to": f"p:{lucas}", "subject": "Jeté",
                           "body": "Premier jet"})
    draft = item_id(app, "zoe.le-gall", "Jeté", FolderKind.DRAFTS)
    selection(student, [draft], "supprimer")
    assert item_id(app, "zoe.le-gall", "Jeté", FolderKind.TRASH) == draft

    inbox = folder_id(app, "zoe.le-gall", FolderKind.INBOX)
    selection(student, [draft], "deplacer", destination=str(inbox))
    assert DRAFT_STAYS in flashes(student.get("/messagerie/"))
    assert item_id(app, "zoe.le-gall", "Jeté", FolderKind.TRASH) == draft
    with app.app_context():
        zoe = account("zoe.le-gall")
        with pytest.raises(InvalidInput) as refused:
            mailbox.move(zoe, [draft], mailbox.system_folder(zoe, FolderKind.INBOX))
        assert refused.value.why.code == "draft_not_moved"
    assert item_id(app, "zoe.le-gall", "Jeté", FolderKind.TRASH) == draft


def test_a_deleted_draft_goes_back_to_brouillons_and_opens_there(app, student):
    """From the Corbeille, « Déplacer » offers Brouillons; drafts, and drafts only, go
    there (nothing else left a deleted draft but deleting it for good)."""
    lucas = _account_id(app, "lucas.martin")
    compose_post(student, {"action": "brouillon", "to": f"p:{lucas}", "subject": "Repêché",
                           "body": "Premier jet"})
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Reçu, jeté aussi")
    draft = item_id(app, "zoe.le-gall", "Repêché", FolderKind.DRAFTS)
    received = item_id(app, "zoe.le-gall", "Reçu, jeté aussi")
    selection(student, [draft, received], "supprimer")
    trash = folder_id(app, "zoe.le-gall", FolderKind.TRASH)
    drafts = folder_id(app, "zoe.le-gall", FolderKind.DRAFTS)
    offered = [o.attrs["value"] for o in page(student.get(f"/messagerie/dossier/{trash}")).find(
        "select", id="destination").find_all("option")]
    assert str(drafts) in offered
    selection(student, [draft, received], "deplacer", destination=str(drafts))
    assert "Seuls les brouillons retournent dans « Brouillons »." in flashes(
        student.get("/messagerie/"))
    assert item_id(app, "zoe.le-gall", "Repêché", FolderKind.TRASH) == draft    # nothing moved
    selection(student, [draft], "deplacer", destination=str(drafts))
    assert item_id(app, "zoe.le-gall", "Repêché", FolderKind.DRAFTS) == draft
    assert student.get(f"/messagerie/message/{draft}").status_code in (302, 303)


def test_what_the_corbeille_holds_besides_drafts_still_goes_back(app, student):
    """A message received and one's own message sent (its author's, as a draft's) move."""
    lucas = _account_id(app, "lucas.martin")
    deliver(app, "lucas.martin", ["zoe.le-gall"], "Reçu puis jeté")
    compose_post(student, {"to": f"p:{lucas}", "subject": "Envoyé puis jeté", "body": "Fait."})
    received = item_id(app, "zoe.le-gall", "Reçu puis jeté")
    sent = item_id(app, "zoe.le-gall", "Envoyé puis jeté", FolderKind.SENT)
    selection(student, [received, sent], "supprimer")
    assert item_id(app, "zoe.le-gall", "Envoyé puis jeté", FolderKind.TRASH) == sent

    inbox = folder_id(app, "zoe.le-gall", FolderKind.INBOX)
    selection(student, [received, sent], "deplacer", destination=str(inbox))
    assert "2 messages déplacés dans « Boîte de réception »." in flashes(
        student.get("/messagerie/"))
    assert item_id(app, "zoe.le-gall", "Reçu puis jeté") == received
    assert item_id(app, "zoe.le-gall", "Envoyé puis jeté") == sent


# --- 9. an HTML message and a list's footer --------------------------------------------------

def _html_with_footer(subject: str) -> EmailMessage:
    """multipart/mixed[text/html (the message), text/plain (the list's footer)]."""
    mail = _headed("lucas.martin", subject)
    mail.set_content("<p>Rendez-vous au <b>gymnase</b> samedi &amp; dimanche</p>",
                     subtype="html")
    mail.make_mixed()
    footer = EmailMessage()
    footer.set_content("Vous recevez ce message car vous êtes inscrit à parents-4A.")
    mail.attach(footer)
    return mail


@pytest.mark.parametrize("raw", [False, True], ids=["read-whole", "indexed"])
def test_an_html_message_with_a_lists_footer_is_found_and_quoted_by_its_words(
        app, student, raw):
    _route(app, "lucas.martin", _html_with_footer("Sortie sportive"), raw=raw)
    assert _found(student, "samedi & dimanche") == \
        "1 message contient « samedi & dimanche »"
    item = item_id(app, "zoe.le-gall", "Sortie sportive")
    quote = page(student.get(f"/messagerie/ecrire?repondre={item}")).find("textarea").text
    assert "> Rendez-vous au gymnase samedi & dimanche" in quote
    assert "> Vous recevez ce message car vous êtes inscrit à parents-4A." in quote
    # The page still shows both, the footer under the message.
    frame = page(student.get(f"/messagerie/message/{item}/contenu"))
    assert "gymnase" in frame.text
    assert frame.find("pre").text.strip() == \
        "Vous recevez ce message car vous êtes inscrit à parents-4A."


def test_a_draft_whose_header_passes_what_is_read_first_is_still_told(app, student,
                                                                       monkeypatch):
    """A draft's header longer than the start read at first (a reply's References can make
    it so): its message is read whole, and it is still a draft."""
    monkeypatch.setattr(mailbox, "DRAFT_HEADER_BYTES", 16)
    lucas = _account_id(app, "lucas.martin")
    compose_post(student, {"action": "brouillon", "to": f"p:{lucas}", "subject": "Long",
                           "body": "Premier jet"})
    draft = item_id(app, "zoe.le-gall", "Long", FolderKind.DRAFTS)
    selection(student, [draft], "supprimer")
    with app.app_context():
        zoe = account("zoe.le-gall")
        with pytest.raises(InvalidInput) as refused:
            mailbox.move(zoe, [draft], mailbox.system_folder(zoe, FolderKind.INBOX))
        assert refused.value.why.code == "draft_not_moved"
        assert mailbox.move(zoe, [draft], mailbox.system_folder(zoe, FolderKind.DRAFTS)) == 1
