"""« Écrire à plusieurs » and the automated communications, as a third review found them:
« Envoyer » to a whole space asked the count seen to be the live count, which never settles
for an inactivity filter (someone crosses the line every minute in a region); the same
filters said « inactifs » in one place and « inactives » in another; the time's label read
« heure de UTC »."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account, AccountSchool

from .annuaire_helpers import account, group_id, school_id
from .test_communications import Submitted, Text, communications_of, compose
from .test_communications_review2 import _counted, _school_communication

WRITE = "/communications/ecrire"


def _recently_seen(app, how_many: int) -> list[int]:
    """Members of Paul's school, Paul apart, seen (or created) less than 20 days ago."""
    with app.app_context():
        paul = account(app, "paul.durand")
        since = utcnow() - timedelta(days=20)
        return list(db.session.scalars(
            select(Account.id).join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == paul.schools[0].id, Account.id != paul.id,
                   Account.suspended.is_(False),
                   func.coalesce(Account.last_access_at, Account.created_at) > since)
            .order_by(Account.id).limit(how_many)))


def _last_seen(app, account_id: int, days_ago: int) -> None:
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == account_id).values(
            last_access_at=utcnow() - timedelta(days=days_ago)))
        db.session.commit()


# --- 4. « Envoyer » after the count ---------------------------------------------------------

def test_the_audience_counted_is_sent_though_its_count_moved_meanwhile(staff, app):
    """Someone crossed the 30 days between « Compter » and « Envoyer »: the same audience was
    counted, and the message goes (it asked again for every such move, for ever in a
    region)."""
    first, second = _recently_seen(app, 2)
    _last_seen(app, first, 40)
    page = compose(staff, {"objet": "Relance", "texte": "Bonjour", "inactifs": "30",
                           "compter": "1"}).get_data(as_text=True)
    counted = _counted(page)
    assert counted >= 1
    _last_seen(app, second, 40)     # one more inactive person since the count
    response = staff.post(WRITE, data={**Submitted.of(page), "envoyer": "1"})
    assert response.status_code == 303, Text.of(response.get_data(as_text=True))
    [sent] = communications_of(app, "paul.durand")
    assert not sent.draft and sent.chosen.inactive_days == 30


def test_another_audience_than_the_one_counted_shows_its_own_count(staff, app):
    """The filter changed after the count, its number unchanged: she saw the count of
    another audience, so « Envoyer » shows this one's."""
    [first] = _recently_seen(app, 1)
    _last_seen(app, first, 40)
    page = compose(staff, {"objet": "Relance", "texte": "Bonjour", "inactifs": "30",
                           "compter": "1"}).get_data(as_text=True)
    counted = _counted(page)
    changed = {**Submitted.of(page), "inactifs": "35", "envoyer": "1"}
    response = staff.post(WRITE, data=changed)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, Text.of(html)
    assert "Vérifiez les destinataires" in Text.of(html)
    assert _counted(html) == counted        # the 35 days' count, shown with its audience
    assert communications_of(app, "paul.durand") == []
    for seen in ("", "x" * 64, str(counted)):        # none, a forged one, a bare number
        response = staff.post(WRITE, data={**changed, "compte_vu": seen})
        assert response.status_code == 400
    assert communications_of(app, "paul.durand") == []
    response = staff.post(WRITE, data={**Submitted.of(html), "envoyer": "1"})
    assert response.status_code == 303, Text.of(response.get_data(as_text=True))
    [sent] = communications_of(app, "paul.durand")
    assert sent.chosen.inactive_days == 35


def test_the_people_left_out_are_the_same_audience_in_any_order(staff, app):
    """The browser sends the ticked people in the page's order, the others after them."""
    people = _recently_seen(app, 2)
    page = compose(staff, {"objet": "Info", "texte": "Bonjour",
                           "exclus": [str(i) for i in people], "compter": "1"})
    again = Submitted.of(page.get_data(as_text=True))
    assert sorted(again["exclus"]) == sorted(str(i) for i in people)
    again["exclus"] = [str(i) for i in reversed(people)]
    response = staff.post(WRITE, data={**again, "envoyer": "1"})
    assert response.status_code == 303, Text.of(response.get_data(as_text=True))


# --- 10. words ------------------------------------------------------------------------------

def test_the_inactivity_filters_are_worded_alike_for_the_rule_and_the_audience(staff, app):
    _school_communication(staff, app, regle="inactive", jours="30")
    listing = Text.of(staff.get(f"/communications/etablissements/"
                                f"{school_id(app, '0310024H')}").get_data(as_text=True))
    assert "Tous les jours à 08:00 · inactifs depuis 30 jours" in listing
    school = school_id(app, "0310024H")
    form = Text.of(staff.get(f"/communications/etablissements/{school}/nouvelle")
                   .get_data(as_text=True))
    assert "Jamais connectés N jours après la création du compte" in form
    assert "Inactifs depuis N jours" in form
    response = compose(staff, {"groupes": str(group_id(app, "4A")), "objet": "Relance",
                               "texte": "Bonjour", "inactifs": "30", "jamais_connectes": "y",
                               "brouillon": "1"})
    assert response.status_code == 303
    draft = communications_of(app, "paul.durand")[-1]
    assert draft.audience_label == "4A · inactifs depuis plus de 30 jours · jamais connectés"
    for page in (listing, form):
        assert "inactives depuis" not in page.lower() and "connectées" not in page


@pytest.mark.parametrize(("zone", "label"), [
    ("Europe/Paris", "Heure (heure de Paris)"),
    ("Europe/Amsterdam", "Heure (heure d'Amsterdam)"),
    ("America/Argentina/Buenos_Aires", "Heure (heure de Buenos Aires)"),
    ("UTC", "Heure (heure UTC)"),
    ("Etc/UTC", "Heure (heure UTC)"),
    ("Etc/GMT-1", "Heure (fuseau Etc/GMT-1)"),
])
def test_the_time_is_labelled_by_a_city_or_else_by_its_zone(teacher, app, zone, label):
    saved = app.config["PREAU"].get("TIMEZONE")
    app.config["PREAU"]["TIMEZONE"] = zone
    try:
        shown = Text.of(teacher.get(WRITE).get_data(as_text=True))
        automated = Text.of(teacher.get(f"/communications/groupes/{group_id(app, '4A')}/"
                                        "nouvelle").get_data(as_text=True))
    finally:
        app.config["PREAU"]["TIMEZONE"] = saved
    assert label in shown and label in automated
    assert "heure de UTC" not in shown and "heure de GMT" not in shown
