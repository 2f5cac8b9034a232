"""The review of the redirect address's verification (findings 1, 3 and 5): verification
mails are bounded per account, counted from the queue (portal/preferences.py); an
administrator's or an import's address makes the member's pending link useless; a
verification mail's entry is its account's, forgotten with it, and never taken for a password
reset link (nor a reset link for one). Through the pages, with the real database and the
capture smarthost (<instance>/mail-out/)."""
from __future__ import annotations

import io
from collections import Counter

import pytest
from sqlalchemy import func, select

from directory.db import db
from directory.models import Account
from mailgate.models import MailMessage, OutboundEntry
from tests.conftest import (
    DEMO_PASSWORD,
    csrf_token,
    fresh_database,
    live_demo_app,
    login,
    page_text,
    post_form,
)
from tests.directory.account_files import excel_fr

from .annuaire_helpers import html, school_id
from .messagerie_helpers import person
from .test_carnet_races import at_once, browser_twice
from .test_preferences import confirm, link_path, mails_to, redirect_state, request_address

VERIFY = "Préau : vérifiez votre adresse de redirection"
RESET = "Préau : mot de passe oublié"
USED = ("Ce lien de vérification a déjà été utilisé ou remplacé par une demande plus "
        "récente.")


def subjects_to(app, address: str) -> list[str]:
    return [message["Subject"] for message in mails_to(app, address)]


def link_to(app, address: str) -> str:
    """The path of the one verification link mailed to `address`."""
    (message,) = [m for m in mails_to(app, address) if m["Subject"] == VERIFY]
    return link_path(message)


def member(app, login_name: str):
    """A browser of its own, logged in as `login_name`."""
    client = app.test_client()
    assert login(client, login_name).status_code == 302
    return client


# Finding 1: no more than one link per address in 20 minutes, five per account in a day -----

def test_verification_mails_are_bounded_per_address_and_per_account(app, staff):
    victim = "rv1.victime@example.org"
    for _ in range(10):     # a script sending the form again and again
        assert request_address(staff, victim).status_code == 302
    assert subjects_to(app, victim) == [VERIFY]
    assert ("Un lien de vérification a déjà été envoyé à rv1.victime@example.org il y a moins "
            "de 20 minutes : cherchez-le dans cette boîte aux lettres") in page_text(
        staff.get("/preferences/"))

    # Five links a day for the account, whatever their addresses: the sixth is refused and
    # nothing changes.
    for n in (2, 3, 4, 5):
        assert request_address(staff, f"rv1.{n}@example.org").status_code == 302
        assert subjects_to(app, f"rv1.{n}@example.org") == [VERIFY]
    refused = request_address(staff, "rv1.6@example.org")
    assert refused.status_code == 400
    assert ("Trop de liens de vérification demandés : au plus 5 en 24 heures. Réessayez dans "
            "24 heures.") in page_text(refused)
    assert redirect_state(app, "paul.durand") == (None, False, "rv1.5@example.org")
    assert subjects_to(app, "rv1.6@example.org") == []
    assert "En attente de vérification : rv1.5@example.org." in page_text(
        staff.get("/preferences/"))

    # The first address again, less than 20 minutes after its link: nothing mailed, and the
    # link in its mailbox is the one that works again.
    assert request_address(staff, victim).status_code == 302
    assert redirect_state(app, "paul.durand") == (None, False, victim)
    assert subjects_to(app, victim) == [VERIFY]
    assert confirm(staff, link_to(app, victim)).status_code == 302
    assert redirect_state(app, "paul.durand") == (victim, True, None)


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database whose commits both requests see (the name steps the rollback aside)."""
    return fresh_database(tmp_path_factory, "redirectlimit")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "redirectlimit", users=100)


def test_the_same_request_sent_twice_at_once_mails_one_link(live_app):
    """A double click: the second request is held until the first one's mail is written,
    then counts it and mails nothing. They take turns on the account's row: its lock
    (`lock_account`), taken first, and already the pending address written before counting."""
    address = "rv1.deux-fois@example.com"
    with live_app.app_context():
        joseph = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        joseph.pending_redirect_address = address
        db.session.commit()
    first, second = browser_twice(live_app, "joseph.fabre")
    data = {"csrf_token": csrf_token(first.get("/preferences/").get_data(as_text=True)),
            "address": address, "password": DEMO_PASSWORD}
    answers = at_once(live_app, "outbound_entry", lambda: first.post("/preferences/", data=data),
                      lambda: second.post("/preferences/", data=data), wait=2.0)
    assert [answer.status_code for answer in answers] == [302, 302]
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEntry).where(
            OutboundEntry.address == address)) == 1


# Finding 3: an administrator's or an import's address voids the pending link -----------------

def _edit_fields(page) -> dict:
    """The account form's fields as the page fills them."""
    form = next(f for f in page.all("form") if f.all("input", name="prenom"))
    fields = {}
    for field in form.all("input"):
        name = field.attrs.get("name")
        if name and (field.attrs.get("type") != "checkbox" or "checked" in field.attrs):
            fields[name] = field.attrs.get("value", "y")
    for field in form.all("select"):
        chosen = [o for o in field.all("option") if "selected" in o.attrs]
        fields[field.attrs["name"]] = chosen[0].attrs["value"] if chosen else ""
    for field in form.all("textarea"):
        fields[field.attrs["name"]] = field.text
    return fields


def _set_by_the_administrator(app, admin, address: str) -> None:
    url = f"/administration/comptes/{person(app, 'joseph.fabre')}"
    fields = _edit_fields(html(admin.get(url)))
    assert fields["redirection"] == "joseph@example.org"
    fields["redirection"] = address
    assert admin.post(url, data=fields).status_code == 303


def _set_by_the_import(app, admin, address: str) -> None:
    page = admin.get("/administration/import").get_data(as_text=True)
    uploaded = admin.post("/administration/import", data={
        "csrf_token": csrf_token(page), "etablissement": str(school_id(app, "0310024H")),
        "fichier": (io.BytesIO(excel_fr([["Fabre", "Joseph", "Parent", "", address, ""]])),
                    "parents.csv")}, content_type="multipart/form-data")
    assert uploaded.status_code == 303
    url = uploaded.headers["Location"]
    (cells,) = [[td.text for td in tr.all("td")] for tr in html(admin.get(url)).one(
        "table", class_="import-preview").one("tbody").all("tr")]
    assert cells[4:6] == ["modification", "joseph.fabre"]
    applied = post_form(admin, url + "/appliquer", {}, page=url, follow_redirects=True)
    assert html(applied).one("p", class_="import-summary").text.startswith("0 créés, 1 modifié")


@pytest.mark.parametrize("set_address", [_set_by_the_administrator, _set_by_the_import],
                         ids=["administrator", "import"])
def test_an_address_set_by_the_school_voids_the_members_pending_link(app, admin,
                                                                     set_address):
    joseph = member(app, "joseph.fabre")
    typed = f"rv3.{set_address.__name__.strip('_')}@example.com"
    assert request_address(joseph, typed).status_code == 302
    path = link_to(app, typed)
    assert redirect_state(app, "joseph.fabre") == ("joseph@example.org", True, typed)

    school_address = f"rv3.ecole.{set_address.__name__.strip('_')}@example.org"
    set_address(app, admin, school_address)
    assert redirect_state(app, "joseph.fabre") == (school_address, True, None)
    text = page_text(joseph.get("/preferences/"))
    assert f"Vos messages sont redirigés vers {school_address} (vérifiée)." in text
    assert "En attente de vérification" not in text

    opened = joseph.get(path)
    assert opened.status_code == 400 and USED in page_text(opened)
    assert "Confirmer l'adresse" not in page_text(opened)
    refused = confirm(joseph, path)
    assert refused.status_code == 400 and USED in page_text(refused)
    assert redirect_state(app, "joseph.fabre") == (school_address, True, None)


# Finding 5: the entry is the account's, and not a password reset's ---------------------------

def test_deleting_the_account_forgets_the_addresses_its_verification_mails_went_to(app, admin):
    joseph = member(app, "joseph.fabre")
    sent, waiting = "rv5.parti@example.com", "rv5.en-attente@example.com"
    assert request_address(joseph, sent).status_code == 302
    assert subjects_to(app, sent) == [VERIFY]               # sent by the worker
    assert request_address(joseph, waiting).status_code == 302     # still queued
    url = f"/administration/comptes/{person(app, 'joseph.fabre')}/suppression"
    assert post_form(admin, url, {}, page=url).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(OutboundEntry.id).where(
            OutboundEntry.address.in_([sent, waiting]))).all() == []
        # nor the message that was still to go there, with his name in it
        assert db.session.scalars(select(MailMessage.id).where(
            MailMessage.to_display.contains(waiting))).all() == []
    assert subjects_to(app, waiting) == []


def _ask_for_a_reset(app, login_name: str) -> None:
    """« Mot de passe oublié » from a browser not logged in; the link is written once the
    answer is closed (portal/password_reset.py)."""
    post_form(app.test_client(), "/mot-de-passe-oublie/", {"login": login_name}).close()


def _new_mails(app, address: str, before: Counter) -> Counter:
    return Counter(subjects_to(app, address)) - before


def test_a_verification_link_is_not_taken_for_a_reset_link(app):
    present = "joseph@example.org"          # Joseph's verified address
    before = Counter(subjects_to(app, present))
    joseph = member(app, "joseph.fabre")
    assert request_address(joseph, present).status_code == 302     # he asks for it again
    assert _new_mails(app, present, before) == Counter({VERIFY: 1})
    _ask_for_a_reset(app, "joseph.fabre")
    assert _new_mails(app, present, before) == Counter({VERIFY: 1, RESET: 1})


def test_a_reset_link_is_not_taken_for_a_verification_link(app):
    present = "claire.bernard@example.net"  # Claire's verified address
    before = Counter(subjects_to(app, present))
    _ask_for_a_reset(app, "claire.bernard")
    assert _new_mails(app, present, before) == Counter({RESET: 1})
    claire = member(app, "claire.bernard")
    assert request_address(claire, present).status_code == 302
    assert f"Un lien de vérification a été envoyé à {present}." in page_text(
        claire.get("/preferences/"))
    assert _new_mails(app, present, before) == Counter({RESET: 1, VERIFY: 1})
