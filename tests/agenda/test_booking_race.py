"""Two teachers book the coach for overlapping times at the same instant, on the real
database (SQLite: the write lock; PostgreSQL: the exclusion constraint): one wins, the other
gets a refusal naming the conflict, and the coach is booked once."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from agenda import access, events
from agenda.errors import AgendaError, Problem
from agenda.models import Booking, Event, Resource, ResourceKind
from directory.db import db, write_transaction
from portal.agenda.wording import describe
from tests.agenda.conftest import class_4a, event_input, person


@pytest.fixture
def setup(live_app, live_database):
    with live_app.app_context():
        claire = person("claire.bernard")
        agenda = access.agenda_of_group(claire, class_4a().id)
        coach = Resource(school_id=class_4a().school_id, name=f"Car {datetime.now():%H%M%S%f}",
                         kind=ResourceKind.EQUIPMENT)
        db.session.add(coach)
        db.session.commit()
        yield live_app, claire.id, agenda.id, coach.id, coach.name
        db.session.rollback()           # a fresh snapshot: the threads wrote meanwhile
        db.session.execute(delete(Event).where(Event.agenda_id == agenda.id))
        db.session.commit()


def test_two_simultaneous_bookings_one_wins(setup):
    app, claire_id, agenda_id, coach_id, coach_name = setup
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(title: str, hour: int) -> None:
        with app.app_context():
            from agenda.models import Agenda
            from directory.models import Account

            claire = db.session.get(Account, claire_id)
            agenda = db.session.get(Agenda, agenda_id)
            start.wait()
            try:
                write_transaction(lambda: events.save(claire, agenda, event_input(
                    title, datetime(2026, 5, 4, hour), datetime(2026, 5, 4, hour + 3),
                    resource_ids=[coach_id])))
                outcomes[title] = "saved"
            except AgendaError as error:
                outcomes[title] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=("Sortie A", 9)),
               threading.Thread(target=attempt, args=("Sortie B", 10))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(str(o) if o == "saved" else "refused" for o in outcomes.values()) == \
        ["refused", "saved"]
    winner = next(t for t, o in outcomes.items() if o == "saved")
    refusal = next(o for o in outcomes.values() if o != "saved")
    assert refusal.problem == Problem.RESOURCE_TAKEN
    assert refusal.params["title"] == winner and refusal.params["resource"] == coach_name
    with app.app_context():
        assert f"La ressource « {coach_name} » est déjà réservée du 04/05/2026 à" in \
            describe(refusal)
        assert db.session.scalar(select(func.count()).select_from(Booking).where(
            Booking.resource_id == coach_id)) == 1


@pytest.mark.postgres_only
def test_the_database_itself_refuses_an_overlap_on_postgresql(setup):
    """The guard under the check: two overlapping rows cannot both be written (SQLite has no
    exclusion constraint: its guard is the write lock, tested above)."""
    app, claire_id, agenda_id, coach_id, _ = setup
    from agenda.models import Agenda
    from directory.models import Account

    draft, _ = write_transaction(lambda: events.save(
        db.session.get(Account, claire_id), db.session.get(Agenda, agenda_id),
        event_input("Brouillon", publish=False)))
    event = draft.id
    row = {"resource_id": coach_id, "event_id": event, "ends_at": datetime(2026, 6, 1, 12)}
    db.session.execute(insert(Booking), [{**row, "starts_at": datetime(2026, 6, 1, 9)}])
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Booking), [{**row, "starts_at": datetime(2026, 6, 1, 11)}])
    db.session.rollback()
