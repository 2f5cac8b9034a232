"""The agenda through HTTP: the event form and its options, drafts, the month and week views,
"Mon agenda", answers from the event page, the organiser's table and CSV, forged requests."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from agenda.models import Answer, Event, Resource, ResourceKind
from directory.db import db
from tests.conftest import csrf_token, login, post_form

from .annuaire_helpers import group_id, html, messages, school_id

FORM = {"title": "Sortie au musée", "start_date": "2026-03-12", "start_time": "09:00",
        "end_date": "2026-03-12", "end_time": "12:00", "place": "Musée des Augustins",
        "summary": "Prévoir un pique-nique", "repeat": "none", "follow_up": "off"}


def new_event(client, app, publish=True, **fields):
    gid = group_id(app, "4A")
    data = {**FORM, "agenda": gid, **fields,
            ("publish" if publish else "save_draft"): "x"}
    return post_form(client, f"/agenda/groupe/{gid}/nouveau", data)


def event_id_of(response) -> int:
    assert response.status_code == 302, messages(html(response))
    return int(response.headers["Location"].rsplit("/", 1)[1])


def coach(app, name: str = "Car") -> int:
    with app.app_context():
        resource = Resource(school_id=school_id(app, "0310024H"), name=name,
                            kind=ResourceKind.EQUIPMENT)
        db.session.add(resource)
        db.session.commit()
        return resource.id


def test_teacher_creates_an_event_with_every_option(teacher, app):
    car = coach(app)
    response = new_event(teacher, app, resources=[car], notify="y", read_receipt="y",
                         ask_confirmation="y", follow_up="moderated")
    event_id = event_id_of(response)
    page = html(teacher.get(f"/agenda/evenement/{event_id}"))
    assert page.one("h1").text == "Sortie au musée"
    text = page.text
    assert "12/03/2026 09:00 – 12/03/2026 12:00" in text
    assert "Musée des Augustins" in text and "Car" in text and "Prévoir un pique-nique" in text
    assert "Tableau des réponses" in text
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert event.notify and event.read_receipt and event.ask_confirmation
        assert event.follow_up.value == "moderated"
    month = html(teacher.get(f"/agenda/groupe/{group_id(app, '4A')}/?mois=2026-03"))
    links = [a.text for a in month.all("a", class_="occurrence")]
    assert any("09:00 Sortie au musée" in link for link in links)


def test_a_draft_is_shown_to_its_author_only(teacher, app):
    event_id = event_id_of(new_event(teacher, app, publish=False, title="Projet de sortie"))
    page = html(teacher.get(f"/agenda/evenement/{event_id}"))
    assert "brouillon" in page.one("h1").text
    other = app.test_client()
    login(other, "zoe.le-gall")
    month = html(other.get(f"/agenda/groupe/{group_id(app, '4A')}/?mois=2026-03"))
    assert month.one("table", class_="month")
    assert "Projet de sortie" not in month.text
    assert other.get(f"/agenda/evenement/{event_id}").status_code == 404


def test_a_pupil_answers_with_a_comment_and_the_organiser_sees_it(teacher, app):
    event_id = event_id_of(new_event(teacher, app, ask_confirmation="y"))
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    response = post_form(zoe, f"/agenda/evenement/{event_id}/reponse",
                         {"answer": "accepted", "comment": "J'apporte mon appareil photo"},
                         page=f"/agenda/evenement/{event_id}", follow_redirects=True)
    assert "Votre réponse est enregistrée." in messages(html(response))
    table = html(teacher.get(f"/agenda/evenement/{event_id}/reponses"))
    row = next(tr for tr in table.all("tr") if "Le Gall Zoé" in tr.text)
    assert "Accepte" in row.text and "J'apporte mon appareil photo" in row.text
    exported = teacher.get(f"/agenda/evenement/{event_id}/reponses.csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[0][:4] == ["Nom", "Prénom", "Profil", "Réponse"]
    assert ["Le Gall", "Zoé", "Élève", "Accepte", "J'apporte mon appareil photo"] in \
        [r[:5] for r in rows]


def test_the_organiser_answers_on_behalf_of_a_parent(teacher, app):
    event_id = event_id_of(new_event(teacher, app, ask_confirmation="y"))
    with app.app_context():
        from tests.agenda.conftest import person

        joseph = person("joseph.fabre").id
    response = post_form(teacher, f"/agenda/evenement/{event_id}/reponses",
                         {"account": joseph, "answer": "refused", "comment": "Au téléphone"},
                         page=f"/agenda/evenement/{event_id}/reponses")
    assert response.status_code == 302
    with app.app_context():
        answer = db.session.get(Answer, (event_id, joseph))
        assert (answer.answer.value, answer.comment, answer.channel.value) == \
            ("refused", "Au téléphone", "organiser")


def test_a_cancelled_event_is_not_edited_nor_published_again(teacher, app):
    event_id = event_id_of(new_event(teacher, app, notify="y"))
    post_form(teacher, f"/agenda/evenement/{event_id}/annuler", {})
    with app.app_context():
        sequence = db.session.get(Event, event_id).sequence
    page = html(teacher.get(f"/agenda/evenement/{event_id}"))
    assert "annulé" in page.one("h1").text
    assert f"/agenda/evenement/{event_id}/modifier" not in \
        [a.attrs.get("href") for a in page.all("a")]
    refused = "Cet évènement est annulé : il ne peut plus être modifié."
    response = teacher.get(f"/agenda/evenement/{event_id}/modifier", follow_redirects=True)
    assert refused in messages(html(response))
    response = post_form(teacher, f"/agenda/evenement/{event_id}/modifier",
                         {**FORM, "agenda": group_id(app, "4A"), "title": "Sortie reportée",
                          "publish": "x"}, page=f"/agenda/groupe/{group_id(app, '4A')}/nouveau")
    assert response.headers["Location"].endswith(f"/agenda/evenement/{event_id}")
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.status.value, event.title, event.sequence) == \
            ("cancelled", "Sortie au musée", sequence)


def test_a_page_of_answers_past_the_last_is_not_found(teacher, app):
    event_id = event_id_of(new_event(teacher, app, ask_confirmation="y"))
    url = f"/agenda/evenement/{event_id}/reponses"
    assert teacher.get(url).status_code == 200
    assert teacher.get(f"{url}?page=1").status_code == 200
    assert teacher.get(f"{url}?page=99999999999999999999").status_code == 404
    assert teacher.get(f"{url}?page=2").status_code == 404           # 4A has < 100 readers


def test_an_ics_file_with_a_uid_twice_imports_the_rest(teacher, app):
    event = ["BEGIN:VEVENT", "UID:twice@test", "DTSTAMP:20260101T000000Z",
             "DTSTART;TZID=Europe/Paris:20260317T100000",
             "DTEND;TZID=Europe/Paris:20260317T110000", "SUMMARY:Théâtre", "END:VEVENT"]
    data = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR",
                         *event, *event, *[line.replace("twice", "once") for line in event],
                         "END:VCALENDAR", ""]).encode()
    url = f"/agenda/groupe/{group_id(app, '4A')}/importer"
    response = teacher.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(teacher.get(url).get_data(as_text=True)), "confirm": "y",
        "file": (io.BytesIO(data), "agenda.ics")})
    assert response.status_code == 200
    rows = [tr.text for tr in html(response).all("tr")]
    assert any("twice@test" in row and "cet UID figure déjà plus haut dans le fichier" in row
               for row in rows)
    with app.app_context():
        assert sorted(db.session.scalars(select(Event.uid).where(
            Event.uid.in_(["twice@test", "once@test"])))) == ["once@test", "twice@test"]


def test_an_events_skip_reason_is_in_the_readers_language(teacher, app):
    """No start, or an end before the start: the reasons were French sentences of the
    reader, shown as they were to an English reader too."""
    events = [["BEGIN:VEVENT", "UID:sans-debut@test", "DTSTAMP:20260101T000000Z",
               "SUMMARY:Sans début", "END:VEVENT"],
              ["BEGIN:VEVENT", "UID:a-l-envers@test", "DTSTAMP:20260101T000000Z",
               "DTSTART:20260317T100000Z", "DTEND:20260317T090000Z", "SUMMARY:À l'envers",
               "END:VEVENT"]]
    data = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR",
                         *events[0], *events[1], "END:VCALENDAR", ""]).encode()
    url = f"/agenda/groupe/{group_id(app, '4A')}/importer"

    def rows() -> list[str]:
        response = teacher.post(url, content_type="multipart/form-data", data={
            "csrf_token": csrf_token(teacher.get(url).get_data(as_text=True)),
            "file": (io.BytesIO(data), "agenda.ics")})
        assert response.status_code == 200
        return [tr.text for tr in html(response).all("tr")]

    french = rows()
    assert any("sans-debut@test" in r and "pas de début (DTSTART)" in r for r in french)
    assert any("a-l-envers@test" in r and "la fin (DTEND) précède le début" in r
               for r in french)
    post_form(teacher, "/langue/en", {"next": "/"}, page="/")
    english = rows()
    assert any("sans-debut@test" in r and "no start (DTSTART)" in r for r in english)
    assert any("a-l-envers@test" in r and "the end (DTEND) comes before the start" in r
               for r in english)


def test_an_imported_update_moves_the_events_bookings(teacher, app):
    """The event comes back from another calendar moved by a day: its room is held at the
    new time, free at the old one (it stayed held at the old time, free at the new); cancelled
    by the next file, it holds nothing."""
    from datetime import datetime

    from agenda.models import Booking

    car = coach(app)
    event_id = event_id_of(new_event(teacher, app, resources=[car]))
    with app.app_context():
        uid = db.session.get(Event, event_id).uid
    url = f"/agenda/groupe/{group_id(app, '4A')}/importer"

    def send(*lines: str) -> None:
        data = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR",
                             "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
                             "DTSTART:20260313T080000Z", "DTEND:20260313T110000Z",
                             "SUMMARY:Sortie au musée", *lines, "END:VEVENT",
                             "END:VCALENDAR", ""]).encode()
        response = teacher.post(url, content_type="multipart/form-data", data={
            "csrf_token": csrf_token(teacher.get(url).get_data(as_text=True)),
            "confirm": "y", "file": (io.BytesIO(data), "agenda.ics")})
        assert response.status_code in (200, 302, 303), messages(html(response))

    def held() -> list[tuple]:
        with app.app_context():
            return [(b.resource_id, b.starts_at) for b in db.session.scalars(
                select(Booking).where(Booking.event_id == event_id))]

    send()
    assert held() == [(car, datetime(2026, 3, 13, 8, 0))]
    send("STATUS:CANCELLED")
    assert held() == []


def test_an_import_may_swap_two_events_but_not_take_a_room_twice(teacher, app):
    """Two events of the file holding the same room exchange their times: booked together,
    not one after the other against the other's old booking. Moving one onto a third
    event's booking refuses the whole file, in words."""
    car = coach(app)
    first = event_id_of(new_event(teacher, app, title="Premier", resources=[car]))
    second = event_id_of(new_event(teacher, app, title="Second", resources=[car],
                                   start_date="2026-03-19", end_date="2026-03-19"))
    third = event_id_of(new_event(teacher, app, title="Troisième", resources=[car],
                                  start_date="2026-03-26", end_date="2026-03-26"))
    with app.app_context():
        uids = {i: db.session.get(Event, i).uid for i in (first, second, third)}
    url = f"/agenda/groupe/{group_id(app, '4A')}/importer"

    def send(*events: tuple[int, str]):
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR"]
        for event_id, day in events:
            lines += ["BEGIN:VEVENT", f"UID:{uids[event_id]}", "DTSTAMP:20260101T000000Z",
                      f"DTSTART:{day}T080000Z", f"DTEND:{day}T110000Z",
                      f"SUMMARY:{event_id}", "END:VEVENT"]
        data = "\r\n".join([*lines, "END:VCALENDAR", ""]).encode()
        return teacher.post(url, content_type="multipart/form-data", data={
            "csrf_token": csrf_token(teacher.get(url).get_data(as_text=True)),
            "confirm": "y", "file": (io.BytesIO(data), "agenda.ics")})

    def days() -> list[str]:
        with app.app_context():
            return [f"{db.session.get(Event, i).starts_at:%d}" for i in (first, second)]

    assert send((first, "20260319"), (second, "20260312")).status_code == 200
    assert days() == ["19", "12"]
    refused = send((first, "20260326"))
    assert refused.status_code == 400
    assert "« Car » est déjà réservé" in html(refused).text
    assert days() == ["19", "12"]


def test_an_archived_resource_stays_booked_when_its_event_is_edited(teacher, app):
    """The edit form offered the active resources only: the event's archived one was not
    drawn, so the browser did not send it and any edit took it off without a word."""
    car = coach(app)
    event_id = event_id_of(new_event(teacher, app, resources=[car]))
    with app.app_context():
        db.session.get(Resource, car).active = False
        db.session.commit()
    url = f"/agenda/evenement/{event_id}/modifier"
    page = html(teacher.get(url))
    chosen = [box for box in page.all("input", name="resources") if "checked" in box.attrs]
    assert [box.attrs["value"] for box in chosen] == [str(car)]
    assert "Car (archivée)" in page.text
    gid = group_id(app, "4A")
    response = post_form(teacher, url, {**FORM, "agenda": gid, "title": "Sortie au musée (bis)",
                                        "resources": [o.attrs["value"] for o in chosen],
                                        "publish": "x"})
    assert response.status_code == 302, messages(html(response))
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert event.title == "Sortie au musée (bis)"
        assert [r.id for r in event.resources] == [car]
    # kept at its dates, never booked at others
    moved = post_form(teacher, url, {**FORM, "agenda": gid, "start_date": "2026-03-19",
                                     "end_date": "2026-03-19", "resources": [str(car)],
                                     "publish": "x"})
    assert moved.status_code == 400
    assert "« Car » est archivé" in " ".join(messages(html(moved)))
    with app.app_context():
        assert f"{db.session.get(Event, event_id).starts_at:%d}" == "12"


def test_a_two_day_event_over_the_clock_change_shows_both_days(teacher, app):
    """28–29 March 2026 lasts 47 hours: the page compared durations and said one day."""
    two = event_id_of(new_event(teacher, app, all_day="y", start_date="2026-03-28",
                                end_date="2026-03-29"))
    one = event_id_of(new_event(teacher, app, all_day="y", start_date="2026-03-29",
                                end_date="2026-03-29"))
    assert "28/03/2026 – 29/03/2026 (toute la journée)" in \
        html(teacher.get(f"/agenda/evenement/{two}")).text
    shown = html(teacher.get(f"/agenda/evenement/{one}")).text
    assert "29/03/2026 (toute la journée)" in shown and "– 29/03/2026" not in shown


def test_a_pupil_cannot_open_the_form_nor_the_table(student, app):
    gid = group_id(app, "4A")
    assert student.get(f"/agenda/groupe/{gid}/nouveau").status_code == 403
    teacher = app.test_client()
    login(teacher, "claire.bernard")
    event_id = event_id_of(new_event(teacher, app, ask_confirmation="y"))
    assert student.get(f"/agenda/evenement/{event_id}/reponses").status_code == 404
    assert student.get(f"/agenda/evenement/{event_id}/modifier").status_code == 404


def test_an_administrator_adds_an_event_to_a_class_agenda_of_another_school(admin, app):
    """She writes in every agenda but her form lists only her own school's: the agenda she
    opened the form from is offered and chosen, and the event goes there, not to the first
    of her list."""
    gid = group_id(app, "4A", "0310002C")
    form = html(admin.get(f"/agenda/groupe/{gid}/nouveau"))
    options = form.one("select", name="agenda").all("option")
    assert [o.attrs["value"] for o in options if "selected" in o.attrs] == [str(gid)]
    assert len(options) > 1         # her own agendas are still offered
    event_id = event_id_of(post_form(admin, f"/agenda/groupe/{gid}/nouveau",
                                     {**FORM, "agenda": gid, "publish": "x"}))
    with app.app_context():
        assert db.session.get(Event, event_id).agenda.group_id == gid
    # A teacher of the first school does not read that agenda: not found.
    teacher = app.test_client()
    login(teacher, "claire.bernard")
    assert teacher.get(f"/agenda/groupe/{gid}/nouveau").status_code == 404


def test_an_agenda_of_a_group_one_is_not_in_is_not_found(student, app):
    with app.app_context():
        from directory.models import Group

        other = db.session.scalar(select(Group.id).where(Group.name == "3B"))
    assert student.get(f"/agenda/groupe/{other}/").status_code == 404


def test_double_booking_is_refused_with_the_conflict_named(teacher, app):
    car = coach(app)
    event_id_of(new_event(teacher, app, resources=[car]))
    response = new_event(teacher, app, title="Cross", start_time="11:00", end_time="14:00",
                         resources=[car])
    assert response.status_code == 400
    assert ("La ressource « Car » est déjà réservée du 12/03/2026 à 09:00 au 12/03/2026 à 12:00 pour « Sortie "
            "au musée » : rien n'a été enregistré. Choisissez d'autres horaires ou une autre "
            "ressource.") in messages(html(response))


def test_form_errors_are_shown_and_nothing_is_saved(teacher, app):
    with app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(Event))
    response = new_event(teacher, app, title="", end_time="08:00")
    assert response.status_code == 400
    assert "Donnez un titre à l'évènement." in " ".join(messages(html(response)))
    response = new_event(teacher, app, start_date="2026-03-29", start_time="02:30",
                         end_date="2026-03-29", end_time="04:00")
    assert any("02:30 n'existe pas" in m for m in messages(html(response)))
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Event)) == before


def test_mon_agenda_and_the_week_show_the_events_of_every_agenda(teacher, app):
    event_id_of(new_event(teacher, app))
    parent = app.test_client()
    login(parent, "joseph.fabre")
    month = html(parent.get("/agenda/?mois=2026-03"))
    assert any("Sortie au musée" in a.text for a in month.all("a", class_="occurrence"))
    week = html(parent.get("/agenda/semaine?jour=2026-03-12"))
    assert "jeudi 12 mars" in week.text
    assert any("Sortie au musée" in a.text for a in week.all("a", class_="occurrence"))


def test_the_home_page_shows_the_next_events(teacher, app):
    from datetime import timedelta

    from agenda import times
    from directory.clock import utcnow

    tomorrow = times.local_date(utcnow()) + timedelta(days=1)
    event_id_of(new_event(teacher, app, title="Conseil de classe",
                          start_date=tomorrow.isoformat(), end_date=tomorrow.isoformat()))
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    section = html(zoe.get("/")).one("section", aria_labelledby="next-events")
    assert "Prochains évènements" in section.text
    assert f"{tomorrow:%d/%m/%Y} 09:00 Conseil de classe — 4A" in section.text


def test_a_comment_is_never_a_formula_in_the_csv(teacher, app):
    event_id = event_id_of(new_event(teacher, app, ask_confirmation="y"))
    zoe = app.test_client()
    login(zoe, "zoe.le-gall")
    post_form(zoe, f"/agenda/evenement/{event_id}/reponse",
              {"answer": "refused", "comment": "=HYPERLINK(\"http://x\")"},
              page=f"/agenda/evenement/{event_id}")
    text = teacher.get(f"/agenda/evenement/{event_id}/reponses.csv").get_data(as_text=True)
    assert 'Le Gall;Zoé;Élève;Refuse;"\'=HYPERLINK(""http://x"")"' in text


def test_a_year_out_of_reach_is_refused_in_words(teacher, app):
    """Year 1 went below the earliest datetime once converted from Paris time: a 500."""
    for day in ("0001-01-01", "9999-12-31"):
        response = new_event(teacher, app, start_date=day, end_date=day)
        assert response.status_code == 400, day
        assert "Choisissez une date entre 1900 et 2199." in " ".join(messages(html(response)))
