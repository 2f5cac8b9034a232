"""An account that also belongs to a school its administrator does not administer (a teacher
of two schools) is not hers alone: she neither ends its access, nor suspends or reactivates
it (alone or in a selection), nor gives it a password; the region administrator does all of
it (directory.account_admin.shared_beyond_reach). And « Créer le compte »: the form's key
finds the account it created only for the same person."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agenda.times import local_date
from directory import account_admin as rules
from directory.account_admin import Refusal
from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from tests.conftest import csrf_token, login, post_form

from .annuaire_helpers import html, messages, school_id
from .test_admin_review_fixes import _share_claire, account


@pytest.fixture
def paul(app, logged_in):
    """Paul Durand, administrator of his one school's accounts."""
    with app.app_context():
        db.session.scalar(select(Account).where(Account.login == "paul.durand")
                          ).is_school_admin = True
        db.session.commit()
    return logged_in("paul.durand")


@pytest.fixture
def region(app):
    """The region administrator, on a client of her own."""
    client = app.test_client()
    login(client, "admin")
    return client


def _said(response) -> str:
    return " ".join(messages(html(response)))


def _edit(client, target: Account, **changes):
    fields = {"prenom": target.first_name, "nom": target.last_name,
              "profil": target.profile.value, "classe": "",
              "redirection": target.redirect_address or "", "enfants": "", "fin_acces": ""}
    return post_form(client, f"/administration/comptes/{target.id}", {**fields, **changes})


def _suspend(client, account_id: int, suspend: bool):
    url = f"/administration/comptes/{account_id}"
    return post_form(client, f"{url}/suspension", {"suspendre": "1" if suspend else "0"},
                     page=url, follow_redirects=True)


def _bulk(client, ids: list[int], action: str):
    return post_form(client, "/administration/comptes/actions", {"ids": ids, "action": action},
                     page="/administration/comptes/", follow_redirects=True)


def test_a_school_admin_sets_no_last_day_of_access_on_a_shared_account(paul, region, app):
    claire_id, _ = _share_claire(app)
    claire = account(app, "claire.bernard")
    tomorrow = (local_date(utcnow()) + timedelta(days=1)).isoformat()
    refused = _edit(paul, claire, fin_acces=tomorrow)
    assert refused.status_code == 400
    assert "ni son dernier jour d'accès" in _said(refused)
    assert account(app, "claire.bernard").access_ends_at is None
    assert _edit(paul, claire).status_code == 303         # the same day again: no new end
    assert _edit(region, claire, fin_acces=tomorrow).status_code == 303
    assert account(app, "claire.bernard").access_ends_at is not None
    assert _edit(paul, claire, fin_acces=tomorrow).status_code == 303
    assert _edit(paul, claire, fin_acces="").status_code == 400     # nor removes it
    assert account(app, "claire.bernard").access_ends_at is not None


def test_a_school_admin_neither_suspends_nor_reactivates_a_shared_account(paul, region, app):
    claire_id, _ = _share_claire(app)
    page = html(paul.get(f"/administration/comptes/{claire_id}"))
    assert not page.all("input", name="suspendre")
    refused = _suspend(paul, claire_id, True)
    assert "seul un administrateur de tous ses établissements peut le suspendre ou le " \
           "réactiver" in _said(refused)
    assert not account(app, "claire.bernard").suspended
    _suspend(region, claire_id, True)
    with app.app_context():     # the other school ended her access: it stays ended
        db.session.get(Account, claire_id).access_ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    _suspend(paul, claire_id, False)
    kept = account(app, "claire.bernard")
    assert kept.suspended and kept.access_ends_at is not None
    _suspend(region, claire_id, False)
    back = account(app, "claire.bernard")
    assert (back.suspended, back.access_ends_at) == (False, None)


def test_a_selection_leaves_out_the_shared_accounts_and_says_how_many(paul, region, app):
    claire_id, _ = _share_claire(app)
    zoe_id = account(app, "zoe.le-gall").id
    suspended = _bulk(paul, [claire_id, zoe_id], "suspendre")
    assert "1 compte suspendu. 1 compte appartient aussi à un établissement que vous " \
           "n'administrez pas : il n'est pas suspendu." in _said(suspended)
    assert account(app, "zoe.le-gall").suspended
    assert not account(app, "claire.bernard").suspended
    _bulk(region, [claire_id], "suspendre")
    reactivated = _bulk(paul, [claire_id, zoe_id], "reactiver")
    assert "il n'est pas réactivé" in _said(reactivated)
    assert not account(app, "zoe.le-gall").suspended
    assert account(app, "claire.bernard").suspended
    only_shared = _bulk(paul, [claire_id], "reactiver")
    assert "il n'est pas réactivé" in _said(only_shared)
    assert account(app, "claire.bernard").suspended
    _bulk(region, [claire_id], "reactiver")
    assert not account(app, "claire.bernard").suspended


def test_resetting_passwords_refuses_a_shared_account_to_a_school_admin_only(
        paul, region, app):
    """The rule is the business function's, whatever page calls it."""
    claire_id, _ = _share_claire(app)
    with app.app_context():
        school_admin = db.session.scalar(select(Account).where(Account.login == "paul.durand"))
        claire = db.session.get(Account, claire_id)
        before = claire.password_hash
        reset = rules.reset_passwords(school_admin, [claire], "Pirate-2026!")
        assert (reset.new, reset.refused) == ([], [Refusal.SHARED])
        assert claire.password_hash == before
        db.session.rollback()
    url = f"/administration/comptes/{claire_id}"
    typed = post_form(region, f"{url}/mot-de-passe",
                      {"mode": "saisir", "mot_de_passe": "Nouveau-2026!"}, page=url,
                      follow_redirects=True)
    assert "Mot de passe de Claire Bernard changé" in _said(typed)
    assert account(app, "claire.bernard").password_hash != before


# « Créer le compte » ----------------------------------------------------------------------

def test_the_new_account_form_sent_back_for_someone_else_creates_their_account(admin, app):
    """After « Précédent » the browser sends the same key with other names: a new person.
    Sent twice with the same names (a double click): the first account."""
    shown = admin.get("/administration/comptes/nouveau")
    data = {"csrf_token": csrf_token(shown.get_data(as_text=True)),
            "cle": html(shown).one("input", name="cle").attrs["value"],
            "etablissement": str(school_id(app, "0310024H")), "prenom": "Victor",
            "nom": "Blondel", "profil": "teacher", "redirection": "", "envoi": "saisir",
            "mot_de_passe": "Bonjour-2026"}
    assert admin.post("/administration/comptes/nouveau", data=data).status_code == 303
    other = admin.post("/administration/comptes/nouveau",
                       data={**data, "prenom": "Vanessa", "nom": "Morel"},
                       follow_redirects=True)
    assert "Compte créé : identifiant 0310024h.v.morel." in " ".join(messages(html(other)))
    again = admin.post("/administration/comptes/nouveau",
                       data={**data, "prenom": "Vanessa", "nom": "Morel"},
                       follow_redirects=True)
    assert "Ce formulaire a déjà créé le compte 0310024h.v.morel : le voici." in \
        messages(html(again))
    assert account(app, "0310024h.v.blondel") is not None
    assert account(app, "0310024h.v.morel2") is None
