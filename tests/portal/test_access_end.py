"""The end of an account's access: an administrator sets its last day on the account's page;
the day after, the outbound worker suspends it (no login, its sessions refused, mail to it
refused) and the memberships whose end has passed are removed."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agenda.times import day_start, local_date
from directory.accounts import end_ended_access
from directory.clock import travel_to, utcnow
from directory.db import db
from directory.models import Account, GroupMember
from mailgate import routing, worker
from tests.conftest import login, post_form

from .annuaire_helpers import html, messages
from .test_admin_accounts import account


def edit(admin, target: Account, **changes):
    """Post the account's edit form as the page fills it, with `changes`."""
    fields = {"prenom": target.first_name, "nom": target.last_name,
              "profil": target.profile.value, "classe": "", "redirection": "",
              "enfants": "", "fin_acces": ""}
    fields.update(changes)
    return post_form(admin, f"/administration/comptes/{target.id}", fields,
                     page=f"/administration/comptes/{target.id}")


def today():
    return local_date(utcnow())


def test_the_account_is_suspended_the_day_after_its_last_day(admin, app):
    zoe = account(app, "zoe.le-gall")
    last = today() + timedelta(days=2)
    saved = edit(admin, zoe, fin_acces=last.isoformat())
    assert saved.status_code == 303
    page = html(admin.get(f"/administration/comptes/{zoe.id}"))
    assert "Compte de Zoé Le Gall enregistré." in messages(page)
    assert page.one("dd", id="fin-acces").text == last.strftime("%d/%m/%Y")
    ends = account(app, "zoe.le-gall").access_ends_at
    assert ends == day_start(last + timedelta(days=1))

    pupil = app.test_client()
    assert login(pupil, "zoe.le-gall").status_code == 302
    with app.app_context():
        assert end_ended_access(ends - timedelta(seconds=1)) == 0
    assert pupil.get("/messagerie/").status_code == 200

    with travel_to(ends + timedelta(seconds=30)), app.app_context():
        worker.drain()
        assert db.session.scalar(select(Account.suspended).where(Account.id == zoe.id))
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        (decision,) = routing.check(claire, [zoe.id])
        assert decision.result.refusal == routing.Refusal.SUSPENDED
    with travel_to(ends + timedelta(seconds=30)):
        assert pupil.get("/messagerie/").status_code == 302      # her session no longer works
        refused = login(app.test_client(), "zoe.le-gall")
    assert f"L'accès de ce compte a pris fin le {last:%d/%m/%Y}. Adressez-vous à " \
        "l'administrateur de votre établissement." in html(refused).text
    page = html(admin.get(f"/administration/comptes/{zoe.id}"))
    assert "suspendu" in page.one("dd", id="etat").text


def test_a_last_day_already_past_is_refused_and_nothing_is_changed(admin, app):
    zoe = account(app, "zoe.le-gall")
    refused = edit(admin, zoe, prenom="Zoëlle", fin_acces=(today() - timedelta(days=1))
                   .isoformat())
    assert refused.status_code == 400
    assert "Le dernier jour d'accès ne peut pas être déjà passé" in html(refused).text
    after = account(app, "zoe.le-gall")
    assert (after.first_name, after.access_ends_at) == ("Zoé", None)


@pytest.mark.parametrize("typed", ["31/02/2027", "demain", "2027-02-31"])
def test_an_unreadable_date_is_refused_under_its_field(admin, app, typed):
    zoe = account(app, "zoe.le-gall")
    refused = edit(admin, zoe, prenom="Zoëlle", fin_acces=typed)
    assert refused.status_code == 400
    assert html(refused).one("ul", id="fin_acces-errors").text.strip()
    assert account(app, "zoe.le-gall").first_name == "Zoé"


def test_an_administrator_does_not_limit_their_own_access(admin, app):
    me = account(app, "admin")
    refused = edit(admin, me, fin_acces="2099-06-30")
    assert refused.status_code == 400
    assert "Vous ne pouvez pas limiter votre propre accès." in html(refused).text
    assert account(app, "admin").access_ends_at is None


def test_a_day_in_the_year_9999_means_no_end(admin, app):
    zoe = account(app, "zoe.le-gall")
    assert edit(admin, zoe, fin_acces="2099-06-30").status_code == 303
    assert edit(admin, zoe, fin_acces="9999-12-31").status_code == 303
    assert account(app, "zoe.le-gall").access_ends_at is None


def test_today_is_a_valid_last_day_and_an_empty_field_removes_the_end(admin, app):
    zoe = account(app, "zoe.le-gall")
    assert edit(admin, zoe, fin_acces=today().isoformat()).status_code == 303
    assert account(app, "zoe.le-gall").access_ends_at == day_start(today() + timedelta(days=1))
    assert edit(admin, zoe, fin_acces="").status_code == 303
    assert account(app, "zoe.le-gall").access_ends_at is None
    page = html(admin.get(f"/administration/comptes/{zoe.id}"))
    assert page.one("dd", id="fin-acces").text == "aucun : accès sans fin"


def test_reactivating_an_ended_account_removes_its_end(admin, app):
    zoe = account(app, "zoe.le-gall")
    with app.app_context():
        db.session.get(Account, zoe.id).access_ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert end_ended_access() == 1
    # The page shows the past last day; saving it again with other changes is no new end.
    kept = html(admin.get(f"/administration/comptes/{zoe.id}")).one(
        "input", id="fin_acces").attrs["value"]
    assert kept == local_date(utcnow() - timedelta(hours=1)).isoformat()
    assert edit(admin, zoe, prenom="Zoëlle", fin_acces=kept).status_code == 303
    assert account(app, "zoe.le-gall").first_name == "Zoëlle"
    post_form(admin, f"/administration/comptes/{zoe.id}/suspension", {"suspendre": "0"},
              page=f"/administration/comptes/{zoe.id}")
    after = account(app, "zoe.le-gall")
    assert (after.suspended, after.access_ends_at) == (False, None)
    with app.app_context():
        assert end_ended_access() == 0
    assert login(app.test_client(), "zoe.le-gall").status_code == 302


def test_memberships_end_on_their_day_and_only_those_never_a_managers(app):
    with app.app_context():
        members = db.session.scalars(select(GroupMember).where(
            GroupMember.is_manager.is_(False)).limit(2)).all()
        manager = db.session.scalars(select(GroupMember).where(
            GroupMember.is_manager.is_(True)).limit(1)).one()
        assert len(members) == 2
        now = utcnow()
        members[0].access_ends_at = manager.access_ends_at = now - timedelta(minutes=1)
        members[1].access_ends_at = now + timedelta(days=1)
        ended, coming = ((m.group_id, m.account_id) for m in members)
        kept = (manager.group_id, manager.account_id)
        db.session.commit()
        assert end_ended_access(now) == 1
        assert db.session.get(GroupMember, kept) is not None
        left = set(db.session.execute(select(GroupMember.group_id, GroupMember.account_id)
                                      .where(GroupMember.access_ends_at.isnot(None))))
        assert ended not in left and coming in left
        assert db.session.get(GroupMember, ended) is None
        assert end_ended_access(now) == 0


def test_a_day_in_the_year_1_is_a_past_day(admin, app):
    zoe = account(app, "zoe.le-gall")
    assert edit(admin, zoe, fin_acces="0001-01-01").status_code == 400
    assert account(app, "zoe.le-gall").access_ends_at is None
