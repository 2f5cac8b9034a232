"""Events: the options of the form, drafts, recurrence across the DST changes, bookings."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from agenda import access, recurrence, times
from agenda.errors import AgendaError, Problem
from agenda.events import Change
from agenda.models import EventStatus, FollowUp
from agenda.recurrence import Repeat
from tests.agenda.conftest import event_input, person, save


def test_an_event_at_ten_on_the_sunday_of_the_spring_change_is_at_ten_local(claire, agenda_4a):
    event, change = save(claire, agenda_4a, event_input(
        "Portes ouvertes", datetime(2026, 3, 29, 10, 0), datetime(2026, 3, 29, 12, 0)))
    assert change == Change.ADDED
    assert event.starts_at == datetime(2026, 3, 29, 8, 0)       # UTC+2 from 03:00 that day
    assert times.to_local(event.starts_at) == datetime(2026, 3, 29, 10, 0)
    autumn, _ = save(claire, agenda_4a, event_input(
        "Kermesse", datetime(2026, 10, 25, 10, 0), datetime(2026, 10, 25, 11, 0)))
    assert autumn.starts_at == datetime(2026, 10, 25, 9, 0)     # UTC+1 again


def test_a_weekly_lesson_across_the_change_stays_at_ten_local(claire, agenda_4a):
    event, _ = save(claire, agenda_4a, event_input(
        "Atelier théâtre", datetime(2026, 3, 17, 10, 0), datetime(2026, 3, 17, 11, 0),
        repeat=Repeat.WEEKLY, until=date(2026, 4, 14)))
    occurrences = recurrence.all_of(event)
    assert [o.local_start for o in occurrences] == [
        datetime(2026, 3, 17, 10), datetime(2026, 3, 24, 10), datetime(2026, 3, 31, 10),
        datetime(2026, 4, 7, 10), datetime(2026, 4, 14, 10)]
    assert [o.starts_at.hour for o in occurrences] == [9, 9, 8, 8, 8]
    assert event.last_ends_at == datetime(2026, 4, 14, 9, 0)


def test_an_excluded_day_is_no_occurrence_and_must_be_one(claire, agenda_4a):
    event, _ = save(claire, agenda_4a, event_input(
        "Club échecs", datetime(2026, 1, 6, 17, 0), datetime(2026, 1, 6, 18, 0),
        repeat=Repeat.FORTNIGHTLY, until=date(2026, 3, 3), excluded=[date(2026, 2, 17)]))
    days = [o.local_start.date() for o in recurrence.between(
        event, datetime(2026, 1, 1), datetime(2026, 4, 1))]
    assert days == [date(2026, 1, 6), date(2026, 1, 20), date(2026, 2, 3), date(2026, 3, 3)]
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input(
            "Club", datetime(2026, 1, 6, 17, 0), datetime(2026, 1, 6, 18, 0),
            repeat=Repeat.WEEKLY, until=date(2026, 2, 1), excluded=[date(2026, 1, 7)]))
    assert refused.value.problem == Problem.NOT_AN_OCCURRENCE


def test_a_time_the_clocks_skip_is_refused(claire, agenda_4a):
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input(
            "Nuit", datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 4, 0)))
    assert refused.value.problem == Problem.NO_SUCH_TIME


def test_the_options_of_the_form_are_kept(claire, agenda_4a, coach):
    event, _ = save(claire, agenda_4a, event_input(
        place="Musée des Augustins", summary="Prévoir un pique-nique", resource_ids=[coach.id],
        notify=True, ask_confirmation=True, follow_up=FollowUp.MODERATED, read_receipt=True))
    assert (event.place, event.summary) == ("Musée des Augustins", "Prévoir un pique-nique")
    assert [r.name for r in event.resources] == ["Car de 50 places"]
    assert event.notify and event.ask_confirmation and event.read_receipt
    assert event.follow_up == FollowUp.MODERATED
    quiet, _ = save(claire, agenda_4a, event_input("Réunion", read_receipt=True,
                                                   starts=datetime(2026, 3, 13, 9),
                                                   ends=datetime(2026, 3, 13, 10)))
    assert not quiet.notify and not quiet.read_receipt     # no notice: nothing to acknowledge


def test_all_day_events_cover_local_days(claire, agenda_4a):
    event, _ = save(claire, agenda_4a, event_input(
        "Voyage", datetime(2026, 3, 28), datetime(2026, 3, 29), all_day=True))
    assert (event.starts_at, event.ends_at) == (datetime(2026, 3, 27, 23),
                                                datetime(2026, 3, 29, 22))


@pytest.mark.parametrize(("title", "starts", "ends", "problem"), [
    ("", datetime(2026, 3, 12, 9), datetime(2026, 3, 12, 10), Problem.TITLE_MISSING),
    ("x" * 201, datetime(2026, 3, 12, 9), datetime(2026, 3, 12, 10), Problem.TITLE_TOO_LONG),
    ("Sortie", datetime(2026, 3, 12, 9), datetime(2026, 3, 12, 9), Problem.ENDS_BEFORE_START),
])
def test_bad_input_is_refused_and_saves_nothing(claire, agenda_4a, title, starts, ends, problem):
    from sqlalchemy import func, select

    from agenda.models import Event
    from directory.db import db

    before = db.session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input(title, starts, ends))
    assert refused.value.problem == problem
    assert db.session.scalar(select(func.count()).select_from(Event)) == before


def test_a_draft_is_seen_by_its_author_alone(claire, agenda_4a):
    event, change = save(claire, agenda_4a, event_input(publish=False))
    assert change == Change.NONE and event.status == EventStatus.DRAFT
    assert access.visible_event(claire, event.id) is event
    assert access.visible_event(person("zoe.le-gall"), event.id) is None
    published, change = save(claire, agenda_4a, event_input(), event)
    assert change == Change.ADDED
    assert access.visible_event(person("zoe.le-gall"), event.id) is published


def test_a_second_booking_of_the_coach_names_the_conflict(claire, agenda_4a, coach):
    save(claire, agenda_4a, event_input(resource_ids=[coach.id]))
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input("Cross", datetime(2026, 3, 12, 11),
                                            datetime(2026, 3, 12, 14), resource_ids=[coach.id]))
    assert refused.value.problem == Problem.RESOURCE_TAKEN
    assert refused.value.params["title"] == "Sortie au musée"
    assert refused.value.params["resource"] == "Car de 50 places"
    draft, _ = save(claire, agenda_4a, event_input("Cross", datetime(2026, 3, 12, 11),
                                                   datetime(2026, 3, 12, 14),
                                                   resource_ids=[coach.id], publish=False))
    assert draft.status == EventStatus.DRAFT      # a draft holds nothing yet
    after, _ = save(claire, agenda_4a, event_input("Cross", datetime(2026, 3, 12, 12),
                                                   datetime(2026, 3, 12, 14),
                                                   resource_ids=[coach.id]), draft)
    assert after.status == EventStatus.PUBLISHED  # back to back is no overlap
