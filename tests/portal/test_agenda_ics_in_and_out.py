""".ics files through the pages, where a review found them wrong: an import that would
publish again an event cancelled in Préau, or move one whose people were told, skips it and
says why; a NUL character is refused as unreadable (PostgreSQL refused it in a 500); a day
excluded from a series at a time of day is excluded; exports and feeds carry no draft."""
from __future__ import annotations

import io

import icalendar
from sqlalchemy import select

from agenda import recurrence
from agenda.models import Event
from directory.db import db
from tests.conftest import csrf_token, post_form

from .annuaire_helpers import group_id, html
from .test_agenda_feeds_and_links import feed_url
from .test_agenda_pages import event_id_of, new_event

CANCELLED_HERE = ("annulé dans Préau : un import ne le rétablit ni ne le modifie ; s'il a "
                  "lieu, créez-le de nouveau")
NOTIFIED = ("ses invités ont été prévenus, et un import n'envoie aucun message : changez ses "
            "dates ou annulez-le depuis sa fiche, pour qu'ils le soient de nouveau")


def calendar(*lines: str) -> bytes:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR", *lines,
                        "END:VCALENDAR", ""]).encode()


def export(client, app) -> bytes:
    response = client.get(f"/agenda/groupe/{group_id(app, '4A')}/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return response.data


def titles(data: bytes) -> list[str]:
    return [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]


def import_file(client, app, data: bytes, *, confirm: bool):
    url = f"/agenda/groupe/{group_id(app, '4A')}/importer"
    form = {"csrf_token": csrf_token(client.get(url).get_data(as_text=True)),
            "file": (io.BytesIO(data), "agenda.ics")}
    return client.post(url, content_type="multipart/form-data",
                       data={**form, "confirm": "y"} if confirm else form)


def rows(response) -> list[str]:
    assert response.status_code == 200
    return [" ".join(tr.text.split()) for tr in html(response).all("tr")]


def test_an_import_does_not_publish_again_an_event_cancelled_in_preau(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie au zoo"))
    data = export(teacher, app)
    assert titles(data) == ["Sortie au zoo"]
    post_form(teacher, f"/agenda/evenement/{event_id}/annuler", {})
    with app.app_context():
        sequence = db.session.get(Event, event_id).sequence
    preview = rows(import_file(teacher, app, data, confirm=False))
    assert any("Sortie au zoo" in row and "ignoré" in row and CANCELLED_HERE in row
               for row in preview), preview
    done = import_file(teacher, app, data, confirm=True)
    assert "Ce qui a été importé" in html(done).text
    assert any("Sortie au zoo" in row and CANCELLED_HERE in row for row in rows(done))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.status.value, event.sequence) == ("cancelled", sequence)


def test_an_import_does_not_move_an_event_its_people_were_told_of(teacher, app):
    """The import sends no message: moving an announced event silently would leave the
    invited with the former date. A title changed alone is taken."""
    event_id = event_id_of(new_event(teacher, app, title="Réunion annoncée", notify="y"))
    data = export(teacher, app)
    moved = data.replace(b"20260312T", b"20260313T")
    assert moved != data
    done = import_file(teacher, app, moved, confirm=True)
    assert any("Réunion annoncée" in row and NOTIFIED in row for row in rows(done))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.status.value, f"{event.starts_at:%d/%m %H:%M}") == \
            ("published", "12/03 08:00")                                 # 09:00 Paris
    renamed = data.replace("SUMMARY:Réunion annoncée".encode(), b"SUMMARY:Reunion du 12")
    assert any("Reunion du 12" in row and "mis à jour" in row
               for row in rows(import_file(teacher, app, renamed, confirm=True)))
    with app.app_context():
        assert db.session.get(Event, event_id).title == "Reunion du 12"


def test_an_import_moving_an_unannounced_event_asks_its_answers_again(teacher, app):
    event_id = event_id_of(new_event(teacher, app, title="Sortie non annoncée",
                                     ask_confirmation="y"))
    moved = export(teacher, app).replace(b"20260312T", b"20260313T")
    assert any("Sortie non annoncée" in row and "mis à jour" in row
               for row in rows(import_file(teacher, app, moved, confirm=True)))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert f"{event.starts_at:%d/%m %H:%M}" == "13/03 08:00"
        assert event.dates_changed_at is not None


def test_a_file_with_a_nul_character_is_refused_as_unreadable(teacher, app):
    data = calendar("BEGIN:VEVENT", "UID:nul@test", "DTSTAMP:20260101T000000Z",
                    "DTSTART:20260317T100000Z", "DTEND:20260317T110000Z",
                    "SUMMARY:Sortie\x00au théâtre", "END:VEVENT")
    for confirm in (False, True):
        response = import_file(teacher, app, data, confirm=confirm)
        assert response.status_code == 400
        assert "Fichier iCalendar illisible, ligne 9 : NUL (U+0000)." in html(response).text
    with app.app_context():
        assert db.session.scalar(select(Event).where(Event.uid == "nul@test")) is None


def test_a_day_excluded_from_a_series_at_ten_excludes_that_days_occurrence(teacher, app):
    """EXDATE;VALUE=DATE in a series at 10:00: read as that day's midnight, it excluded
    nothing. Imported again, the file changes nothing."""
    data = calendar("BEGIN:VEVENT", "UID:jeudis@test", "DTSTAMP:20260101T000000Z",
                    "DTSTART;TZID=Europe/Paris:20260305T100000",
                    "DTEND;TZID=Europe/Paris:20260305T110000", "SUMMARY:Chorale du jeudi",
                    "RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;VALUE=DATE:20260312", "END:VEVENT")
    assert any("Chorale du jeudi" in row and "créé" in row
               for row in rows(import_file(teacher, app, data, confirm=True)))
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.uid == "jeudis@test"))
        days = [f"{o.local_start:%d/%m %H:%M}" for o in recurrence.all_of(event)]
        assert days == ["05/03 10:00", "19/03 10:00", "26/03 10:00"]
    assert any("Chorale du jeudi" in row and "inchangé" in row
               for row in rows(import_file(teacher, app, data, confirm=False)))


def test_exports_and_feeds_carry_no_draft_not_even_their_authors(teacher, app):
    event_id_of(new_event(teacher, app, publish=False, title="Brouillon de Claire"))
    event_id_of(new_event(teacher, app, title="Réunion publiée"))
    exported = titles(export(teacher, app))
    assert "Réunion publiée" in exported and "Brouillon de Claire" not in exported
    for which in ({}, {"group": group_id(app, "4A")}):     # Mon agenda, then the group's
        url = feed_url(teacher, **which).replace("http://localhost", "")
        response = app.test_client().get(url)
        assert response.status_code == 200
        fed = titles(response.data)
        assert "Réunion publiée" in fed and "Brouillon de Claire" not in fed
