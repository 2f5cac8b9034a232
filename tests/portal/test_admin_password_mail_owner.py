"""A password an administrator has mailed is queued as its account's (mailgate/system_mail.py
`send_many`'s account_ids): deleting the account before the worker sends it forgets the
entry, and the message only it was to send, password included (SPEC §8, RGPD)."""
from __future__ import annotations

from sqlalchemy import select

from directory.db import db
from mailgate.models import MailMessage, OutboundEntry
from tests.conftest import post_form

from .test_admin_accounts import account

CLAIRE = "claire.bernard@example.net"


def _entries_to(app, address: str) -> list[tuple[int | None, int | None]]:
    with app.app_context():
        return list(db.session.execute(
            select(OutboundEntry.account_id, OutboundEntry.message_id)
            .where(OutboundEntry.address == address)).tuples())


def test_a_new_password_mailed_is_the_accounts_and_leaves_with_it(admin, app):
    claire = account(app, "claire.bernard")
    post_form(admin, f"/administration/comptes/{claire.id}/mot-de-passe",
              {"mode": "envoyer", "confirme": "1"}, page=f"/administration/comptes/{claire.id}")
    entries = _entries_to(app, CLAIRE)
    assert [owner for owner, _message in entries] == [claire.id]
    message_id = entries[0][1]
    post_form(admin, f"/administration/comptes/{claire.id}/suppression", {},
              page=f"/administration/comptes/{claire.id}/suppression")
    assert account(app, "claire.bernard") is None
    assert _entries_to(app, CLAIRE) == []
    with app.app_context():
        assert db.session.get(MailMessage, message_id) is None


def test_an_account_created_by_hand_has_its_password_mail(admin, app):
    from .annuaire_helpers import school_id

    response = post_form(admin, "/administration/comptes/nouveau", {
        "etablissement": str(school_id(app, "0310024H")), "prenom": "Inès", "nom": "Roux",
        "profil": "teacher", "redirection": "ines.roux@example.org", "envoi": "envoyer"},
        page="/administration/comptes/nouveau")
    assert response.status_code == 303
    ines = int(response.headers["Location"].rsplit("/", 1)[1])
    assert [owner for owner, _message in _entries_to(app, "ines.roux@example.org")] == [ines]


def test_the_passwords_an_import_mails_are_their_accounts(app):
    from directory.account_file import read_account_file
    from directory.account_import import apply_import
    from directory.accounts import school_by_uai
    from directory.models import Account
    from portal.admin.imports import mail_generated_passwords

    rows = ("Nom;Prénom;Profil;Courriel\r\n"
            "Roux;Inès;Enseignant;ines.roux@example.org\r\n"
            "Vidal;Hugo;Enseignant;hugo.vidal@example.org\r\n")
    with app.test_request_context():
        apply_import(school_by_uai("0310024H"), read_account_file(rows.encode()),
                     before_commit=mail_generated_passwords)
        created = dict(db.session.execute(select(Account.redirect_address, Account.id).where(
            Account.redirect_address.in_(["ines.roux@example.org",
                                          "hugo.vidal@example.org"]))).tuples().all())
    assert len(created) == 2
    for address, account_id in created.items():
        assert [owner for owner, _message in _entries_to(app, address)] == [account_id]


def test_a_password_mailed_by_an_administrator_does_not_hold_up_a_reset_link(admin, app):
    """The administrator is the mail's author: « Mot de passe oublié » right after still
    mails its link (a reset link is system mail of the account without an author, one per
    twenty minutes: system_mail.mailed_since). Mailed with no author, the password held the
    link back for twenty minutes — and the mail with the password may be in the spam."""
    from .test_password_reset_review import JOSEPH, ask_from, links_mailed

    joseph = account(app, "joseph.fabre")
    before = links_mailed(app)
    post_form(admin, f"/administration/comptes/{joseph.id}/mot-de-passe",
              {"mode": "envoyer", "confirme": "1"}, page=f"/administration/comptes/{joseph.id}")
    assert links_mailed(app) == before + 1
    assert ask_from(app, "198.51.100.9")[0] == 200
    assert links_mailed(app) == before + 2
    assert [owner for owner, _message in _entries_to(app, JOSEPH)][-2:] == [joseph.id] * 2
