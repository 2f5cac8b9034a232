"""Rubric agendas through HTTP: an agenda per rubric, read by who reads the rubric and written
by its managers; shown in "Mon agenda", on the home page and on the rubric's page; someone
else's rubric agenda is not found."""
from __future__ import annotations

from sqlalchemy import select

from agenda.models import Agenda, Event
from directory.db import db
from tests.conftest import post_form

from .annuaire_helpers import group_id
from .rubriques_helpers import client_of, four_a_rubric, four_b, html
from .test_agenda_pages import coach

FORM = {"title": "Réunion parents-professeurs", "start_date": "2026-03-19",
        "start_time": "18:00", "end_date": "2026-03-19", "end_time": "20:00",
        "place": "Salle polyvalente", "summary": "", "repeat": "none", "follow_up": "off",
        "publish": "x"}


def new_rubric_event(client, rubric_id: int, **fields):
    return post_form(client, f"/agenda/rubrique/{rubric_id}/nouveau",
                     {**FORM, "agenda": f"r{rubric_id}", **fields})


def event_id_of(response) -> int:
    assert response.status_code == 302, html(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_manager_adds_an_event_to_the_rubric_agenda_its_readers_see_it(app):
    rubric_id = four_a_rubric(app)
    claire = client_of(app, "claire.bernard")
    form = html(claire.get(f"/agenda/rubrique/{rubric_id}/nouveau"))
    assert f'value="r{rubric_id}" selected' in form or f'selected value="r{rubric_id}"' in form
    event_id = event_id_of(new_rubric_event(claire, rubric_id))
    with app.app_context():
        agenda = db.session.get(Event, event_id).agenda
        assert agenda.rubric_id == rubric_id and agenda.group_id is None
    month = html(claire.get(f"/agenda/rubrique/{rubric_id}/?mois=2026-03"))
    assert "Agenda de la rubrique 4A" in month and "Réunion parents-professeurs" in month
    for reader in ("zoe.le-gall", "joseph.fabre"):     # a pupil of 4A, a parent of 4A
        client = client_of(app, reader)
        assert client.get(f"/agenda/evenement/{event_id}").status_code == 200
        assert "Réunion parents-professeurs" in html(client.get("/agenda/?mois=2026-03"))
        page = html(client.get(f"/rubriques/{rubric_id}"))
        assert "Agenda de la rubrique" in page
        assert f'href="/agenda/rubrique/{rubric_id}/"' in page


def test_the_rubric_page_lists_the_next_events_and_home_shows_them(app):
    rubric_id = four_a_rubric(app)
    claire = client_of(app, "claire.bernard")
    zoe = client_of(app, "zoe.le-gall")
    soon = event_id_of(new_rubric_event(claire, rubric_id, title="Photo de classe",
                                        start_date=_in_days(3), end_date=_in_days(3)))
    page = html(zoe.get(f"/rubriques/{rubric_id}"))
    assert f'href="/agenda/evenement/{soon}"' in page
    assert "Photo de classe" in html(zoe.get("/"))
    assert "Nouvel évènement" not in page            # Zoé reads, she does not manage
    assert "Nouvel évènement" in html(claire.get(f"/rubriques/{rubric_id}"))


def test_outsiders_and_readers_cannot_write_and_strangers_get_404(app):
    rubric_id = four_a_rubric(app)
    claire = client_of(app, "claire.bernard")
    event_id = event_id_of(new_rubric_event(claire, rubric_id, title="Sortie secrète"))
    zoe = client_of(app, "zoe.le-gall")
    response = new_rubric_event(zoe, rubric_id, title="Fête")
    assert response.status_code == 403                    # she writes in no agenda
    assert zoe.get(f"/agenda/evenement/{event_id}/modifier").status_code == 404
    other_rubric, other_parent = four_b(app)
    stranger = client_of(app, other_parent)
    assert stranger.get(f"/agenda/rubrique/{rubric_id}/").status_code == 404
    assert stranger.get(f"/agenda/rubrique/{rubric_id}/agenda.ics").status_code == 404
    assert stranger.get(f"/agenda/evenement/{event_id}").status_code == 404
    assert "Sortie secrète" not in html(stranger.get("/agenda/?mois=2026-03"))
    # Claire does not manage the 4B rubric: its key in a forged form is refused
    response = post_form(claire, "/agenda/nouveau", {**FORM, "agenda": f"r{other_rubric}"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Agenda).where(Agenda.rubric_id == other_rubric)) is None


def test_the_group_agenda_still_answers_by_group_id(app):
    claire = client_of(app, "claire.bernard")
    gid = group_id(app, "4A")
    response = post_form(claire, f"/agenda/groupe/{gid}/nouveau",
                         {**FORM, "agenda": gid, "title": "Cours"})
    event_id = event_id_of(response)
    page = html(claire.get(f"/agenda/evenement/{event_id}"))
    assert f'href="/agenda/groupe/{gid}/"' in page


def test_a_resource_is_booked_for_a_rubric_agenda_event_and_on_its_edit(app):
    """A rubric agenda has no group: the resource is checked against the rubric's school."""
    rubric_id = four_a_rubric(app)
    car, hall = coach(app), coach(app, "Salle polyvalente")
    claire = client_of(app, "claire.bernard")
    event_id = event_id_of(new_rubric_event(claire, rubric_id, resources=[car]))
    response = post_form(claire, f"/agenda/evenement/{event_id}/modifier",
                         {**FORM, "agenda": f"r{rubric_id}", "resources": [car, hall]})
    assert response.status_code == 302, html(response)
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert sorted(r.id for r in event.resources) == sorted([car, hall])
        assert event.agenda.group_id is None


def _in_days(days: int) -> str:
    from datetime import timedelta

    from directory.clock import utcnow

    return f"{utcnow() + timedelta(days=days):%Y-%m-%d}"
