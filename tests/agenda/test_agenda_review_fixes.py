"""Fixes of the agenda review R1: an .ics nested too deep or holding too many events is refused
in words, and its UIDs are looked up in chunks; « Archiver » sets the state the button says;
an edit of an event cancelled meanwhile is refused; the answers CSV costs the same statements
however many readers; a booking refusal names only an event the writer may read; a resource
created twice at once, a comment on a cancelled event, and the resources' wording."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import delete, func, select, update

from agenda import access, comments, confirmations, events, ical_read, importing, resources
from agenda.errors import AgendaError, Problem
from agenda.models import (
    Booking,
    Event,
    EventStatus,
    FollowUp,
    Resource,
    ResourceKind,
)
from directory import groups
from directory.db import db, write_transaction
from directory.models import Account, GroupMember
from portal.agenda.wording import describe
from tests.conftest import csrf_token, post_form
from tests.portal.annuaire_helpers import html, messages
from tests.portal.test_carnet_races import at_once
from tests.query_count import counting

from .conftest import class_4a, event_input, person, save

HEAD = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR"]


def ics(*lines: str) -> bytes:
    return "\r\n".join([*HEAD, *lines, "END:VCALENDAR", ""]).encode()


def vevent(uid: str, day: int = 17) -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
            f"DTSTART:202603{day:02d}T100000Z", f"DTEND:202603{day:02d}T110000Z",
            f"SUMMARY:Cours {uid}", "END:VEVENT"]


def import_page(client, app, data: bytes, *, confirm: bool):
    with app.app_context():
        url = f"/agenda/groupe/{class_4a().id}/importer"
    form = {"csrf_token": csrf_token(client.get(url).get_data(as_text=True)),
            "file": (io.BytesIO(data), "agenda.ics")}
    if confirm:
        form["confirm"] = "y"
    return client.post(url, content_type="multipart/form-data", data=form)


# --- #3: an .ics nested too deep -------------------------------------------------------------

NESTED = ["BEGIN:X"] * 1500 + ["END:X"] * 1500


def test_an_ics_nested_too_deep_is_refused_in_words(ctx):
    """The calendar library walks components recursively: a RecursionError, a 500."""
    with pytest.raises(AgendaError) as refused:
        ical_read.read(ics(*vevent("nested@test"), *NESTED))
    assert refused.value.problem == Problem.ICS_TOO_NESTED
    assert describe(refused.value).startswith("Fichier iCalendar illisible")


def test_an_ics_nested_1000_deep_is_refused_in_words_on_the_import_page(teacher, app):
    response = import_page(teacher, app, ics(*NESTED), confirm=False)
    assert response.status_code == 400
    assert any("illisible" in m and "imbriqués trop profondément" in m
               for m in messages(html(response)))


# --- #4: the number of events of a file, and the UIDs looked up in chunks ----------------------

def test_an_ics_of_too_many_events_is_refused_in_words(teacher, app):
    lines = [line for n in range(ical_read.MAX_EVENTS + 1)
             for line in vevent(f"many-{n}@test", 1 + n % 28)]
    response = import_page(teacher, app, ics(*lines), confirm=True)
    assert response.status_code == 400
    assert "Le fichier contient plus de 5000 évènements (VEVENT), le maximum d'un import : " \
        "découpez-le en plusieurs fichiers." in " ".join(messages(html(response)))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event).where(
            Event.uid.like("many-%@test"))) == 0


def test_a_file_of_the_most_events_allowed_is_read(ctx):
    lines = [line for n in range(ical_read.MAX_EVENTS) for line in vevent(f"max-{n}@test")]
    assert len(ical_read.read(ics(*lines)).events) == ical_read.MAX_EVENTS


def test_the_existing_uids_are_looked_up_in_chunks(app, claire, agenda_4a, monkeypatch):
    """One bound parameter per UID: PostgreSQL refuses a statement of more than 65,535, so
    90,000 small events were a 500. The events of every chunk are found."""
    monkeypatch.setattr(importing, "UID_CHUNK", 3)
    read = ical_read.read(ics(*[line for n in range(8) for line in vevent(f"chunk-{n}@test")]))
    write_transaction(lambda: importing.apply(claire, agenda_4a, read))
    with counting(app, with_values=True) as statements:
        lines = importing.plan(agenda_4a, ical_read.read(ics(
            *[line for n in range(8) for line in vevent(f"chunk-{n}@test", 18)])))
    assert [line.fate for line in lines] == [importing.Fate.UPDATE] * 8
    lookups = [values for sql, values in statements if "agenda_event" in sql]
    assert lookups and max(len(values) for values in lookups) <= 3


# --- #5: « Archiver » / « Rendre réservable » set the state asked -----------------------------

def test_archiving_twice_keeps_it_archived(staff, app):
    with app.app_context():
        room = Resource(school_id=class_4a().school_id, name="Salle 12 (archivage)",
                        kind=ResourceKind.ROOM)
        db.session.add(room)
        db.session.commit()
        room_id = room.id
    url = f"/agenda/ressources/{room_id}/archiver"

    def click(active: str):
        return post_form(staff, url, {"active": active}, page="/agenda/ressources")

    for _ in range(2):          # a double click, or a second manager's page
        assert click("0").status_code == 302
    with app.app_context():
        assert db.session.get(Resource, room_id).active is False
    page = html(staff.get("/agenda/ressources"))
    row = next(tr for tr in page.all("tr") if "Salle 12 (archivage)" in tr.text)
    assert "Rendre réservable" in row.text
    assert row.one("input", name="active").attrs["value"] == "1"
    for _ in range(2):
        assert click("1").status_code == 302
    with app.app_context():
        assert db.session.get(Resource, room_id).active is True
    assert post_form(staff, url, {}, page="/agenda/ressources").status_code == 400


# --- #6: an edit of an event cancelled meanwhile ---------------------------------------------

def test_an_edit_after_a_cancel_is_refused(claire, agenda_4a, coach):
    """The edit page checked the status before its transaction: a cancel committed meanwhile
    was undone (published again, « ajouté » sent), its rooms booked for nothing."""
    event, _ = save(claire, agenda_4a, event_input(resource_ids=[coach.id]))
    db.session.execute(update(Event).where(Event.id == event.id)
                       .values(status=EventStatus.CANCELLED, sequence=Event.sequence + 1)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(Booking).where(Booking.event_id == event.id))
    db.session.commit()         # the cancel of another tab, the edit's object left as it was
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input("Sortie au musée (modifiée)",
                                            resource_ids=[coach.id]), event)
    assert refused.value.problem == Problem.CANCELLED_MEANWHILE
    assert describe(refused.value) == "Cet évènement a été annulé ou supprimé " \
        "entre-temps : rien n'a été enregistré."
    db.session.expire_all()
    assert (event.status, event.title, event.sequence) == \
        (EventStatus.CANCELLED, "Sortie au musée", 1)
    assert db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.event_id == event.id)) == 0


def test_an_edit_of_a_draft_deleted_meanwhile_is_refused(claire, agenda_4a):
    draft, _ = save(claire, agenda_4a, event_input(publish=False))
    db.session.execute(delete(Event).where(Event.id == draft.id)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input("Brouillon modifié"), draft)
    assert refused.value.problem == Problem.CANCELLED_MEANWHILE


@pytest.fixture
def live_event(live_app):
    """A published event of 4A holding a coach, on a database whose commits threads see."""
    with live_app.app_context():
        claire = person("claire.bernard")
        agenda = access.agenda_of_group(claire, class_4a().id)
        coach = Resource(school_id=class_4a().school_id,
                         name=f"Car {datetime.now():%H%M%S%f}", kind=ResourceKind.EQUIPMENT)
        db.session.add(coach)
        db.session.commit()
        event, _ = save(claire, agenda, event_input("Sortie (annulée pendant la modification)",
                                                    resource_ids=[coach.id]))
        yield live_app, event.id, coach.id
        db.session.rollback()
        db.session.execute(delete(Event).where(Event.id == event.id))
        db.session.execute(delete(Resource).where(Resource.id == coach.id))
        db.session.commit()


@pytest.mark.postgres_only
def test_an_edit_and_a_cancel_at_once_leave_it_cancelled_and_holding_nothing(live_event):
    """The edit read the event, then its UPDATE waited on the cancel's lock: it then booked
    the rooms of a cancelled event, for ever (the edit page refuses a cancelled event)."""
    app, event_id, coach_id = live_event

    def edit():
        with app.app_context():
            claire, event = person("claire.bernard"), db.session.get(Event, event_id)
            try:
                write_transaction(lambda: events.save(claire, event.agenda, event_input(
                    "Sortie (modifiée)", resource_ids=[coach_id]), event))
                return "saved"
            except AgendaError as error:
                return error.problem
            finally:
                db.session.remove()

    def cancel():
        with app.app_context():
            event = db.session.get(Event, event_id)
            try:
                return write_transaction(lambda: events.cancel(event))
            finally:
                db.session.remove()

    at_once(app, "agenda_event", edit, cancel, statement="UPDATE", wait=2)
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert event.status == EventStatus.CANCELLED
        assert event.sequence == 2      # each change its own SEQUENCE: the edit 1, the cancel 2
        assert db.session.scalar(select(func.count()).select_from(Booking).where(
            Booking.event_id == event_id)) == 0


# --- #7: the answers CSV ----------------------------------------------------------------------

def test_the_answers_csv_costs_the_same_statements_for_250_and_25_readers(teacher, app):
    with app.app_context():
        claire = person("claire.bernard")
        event, _ = save(claire, access.agenda_of_group(claire, class_4a().id),
                        event_input("Sortie (export)", ask_confirmation=True))
        event_id, group_id = event.id, class_4a().id
        readers = db.session.scalar(select(func.count()).select_from(
            confirmations.export_query(event).subquery()))
    assert readers < 100
    url = f"/agenda/evenement/{event_id}/reponses.csv"

    def exported() -> tuple[int, list[list[str]]]:
        teacher.get(url).get_data()     # what a page remembers, warmed
        with counting(app) as statements:
            response = teacher.get(url)
            assert response.status_code == 200 and response.is_streamed
            text = response.get_data(as_text=True)
        return len(statements), list(csv.reader(io.StringIO(text.lstrip("\ufeff")),
                                                delimiter=";"))

    few, rows = exported()
    assert len(rows) == readers + 1
    with app.app_context():
        members = set(db.session.scalars(select(GroupMember.account_id).where(
            GroupMember.group_id == group_id)))
        others = db.session.scalars(select(Account.id).where(Account.id.not_in(members))
                                    .order_by(Account.id).limit(260)).all()
        for account_id in others:
            db.session.add(GroupMember(group_id=group_id, account_id=account_id))
        db.session.commit()
    many, rows = exported()
    assert len(rows) > 250 and many == few
    names = [row[:2] for row in rows[1:]]
    with app.app_context():
        event = db.session.get(Event, event_id)
        expected = [[a.last_name, a.first_name] for a, *_ in db.session.execute(
            confirmations.export_query(event).with_only_columns(Account)
            .order_by(Account.search_name, Account.id))]
    assert names == expected


# --- #8: a booking refusal names only an event the writer reads ------------------------------

def test_a_booking_refusal_hides_the_title_of_an_event_the_writer_does_not_read(
        claire, agenda_4a, coach):
    admin = person("admin")
    team = groups.create_group(admin, name="Équipe éducative (revue)", description="",
                               school_id=class_4a().school_id, persistent=True)
    db.session.flush()
    hidden = access.agenda_of_group(admin, team.id)
    save(admin, hidden, event_input("Équipe éducative – situation de Kevin D.",
                                   resource_ids=[coach.id]))
    assert access.visible_event(claire, db.session.scalar(select(Event.id).where(
        Event.agenda_id == hidden.id))) is None
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input(resource_ids=[coach.id]))
    words = describe(refused.value)
    assert refused.value.problem == Problem.RESOURCE_TAKEN_ELSEWHERE
    assert "Kevin" not in words and "title" not in refused.value.params
    assert words.startswith("La ressource « Car de 50 places » est déjà réservée du 12/03/2026 "
                            "à 09:00 au 12/03/2026 à 12:00 pour un autre évènement")
    # her own agenda's event: named
    save(claire, agenda_4a, event_input("Sortie au musée", datetime(2026, 3, 19, 9),
                                        datetime(2026, 3, 19, 12), resource_ids=[coach.id]))
    with pytest.raises(AgendaError) as refused:
        save(claire, agenda_4a, event_input("Autre sortie", datetime(2026, 3, 19, 10),
                                            datetime(2026, 3, 19, 11), resource_ids=[coach.id]))
    assert refused.value.problem == Problem.RESOURCE_TAKEN
    assert "pour « Sortie au musée »" in describe(refused.value)


# --- #9 ---------------------------------------------------------------------------------------

def test_the_resources_words_say_la_ressource(ctx):
    archived = describe(AgendaError(Problem.RESOURCE_ARCHIVED, resource="Salle 12"))
    assert archived == "La ressource « Salle 12 » est archivée : l'évènement la garde à ses " \
        "dates, mais ne peut pas la réserver à d'autres. Décochez-la pour changer les dates."
    taken = describe(AgendaError(Problem.RESOURCE_TAKEN, resource="Salle 12", title="Conseil",
                                 starts=datetime(2026, 3, 12, 9), ends=datetime(2026, 3, 12, 10)))
    assert taken.startswith("La ressource « Salle 12 » est déjà réservée du 12/03/2026 à 09:00")


def test_a_comment_on_a_cancelled_event_is_refused(claire, agenda_4a):
    """The page hides the form, but a POST still reached the organiser's moderation."""
    event, _ = save(claire, agenda_4a, event_input(follow_up=FollowUp.MODERATED))
    write_transaction(lambda: events.cancel(event))
    zoe = person("zoe.le-gall")
    with pytest.raises(AgendaError) as refused:
        comments.add(event, zoe, "Est-ce maintenu ?")
    assert refused.value.problem == Problem.COMMENT_CANCELLED
    assert describe(refused.value) == "Cet évènement est annulé : il ne reçoit plus de " \
        "commentaire."


def test_a_comment_on_a_cancelled_event_is_refused_on_the_page(student, app):
    with app.app_context():
        claire = person("claire.bernard")
        event, _ = save(claire, access.agenda_of_group(claire, class_4a().id),
                        event_input(follow_up=FollowUp.OPEN))
        write_transaction(lambda: events.cancel(event))
        event_id = event.id
    response = post_form(student, f"/agenda/evenement/{event_id}/commentaires",
                         {"text": "Est-ce maintenu ?"}, page=f"/agenda/evenement/{event_id}",
                         follow_redirects=True)
    assert "Cet évènement est annulé : il ne reçoit plus de commentaire." in \
        messages(html(response))
    with app.app_context():
        from agenda.models import Comment

        assert db.session.scalar(select(func.count()).select_from(Comment).where(
            Comment.event_id == event_id)) == 0


@pytest.fixture
def live_school(live_app):
    with live_app.app_context():
        school_id = class_4a().school_id
        name = f"Salle {datetime.now():%H%M%S%f}"
        yield live_app, school_id, name
        db.session.rollback()
        db.session.execute(delete(Resource).where(Resource.name == name))
        db.session.commit()


@pytest.mark.postgres_only
def test_a_resource_created_twice_at_once_is_refused_in_words(live_school):
    """The pre-check of the name loses the race: the unique key's IntegrityError was a 500."""
    app, school_id, name = live_school

    def create():
        with app.app_context():
            try:
                write_transaction(lambda: resources.create(
                    person("admin"), school_id, name, ResourceKind.ROOM))
                return "created"
            except AgendaError as error:
                return error.problem
            finally:
                db.session.remove()

    first, second = at_once(app, "agenda_resource", create, create)
    assert (first, second) == (Problem.RESOURCE_NAME_TAKEN, "created")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resource).where(
            Resource.name == name)) == 1


def test_a_resource_name_taken_is_said_in_words(admin, app):
    """The form's refusal, as the race's loser now gets it."""
    with app.app_context():
        school_id = class_4a().school_id
    data = {"school": school_id, "name": "Salle polyvalente (revue)", "kind": "room"}
    assert post_form(admin, "/agenda/ressources", data).status_code == 302
    again = post_form(admin, "/agenda/ressources", data)
    assert "Une ressource « Salle polyvalente (revue) » existe déjà dans cet établissement." \
        in " ".join(messages(html(again)))

