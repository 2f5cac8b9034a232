"""`preau import-ics FILE --group NAME_OR_ID [--apply]`: shows what would be imported, imports
with --apply, and refuses a bad file or group with one French line and exit code 1."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import session_database_url
from tests.portal.test_cli import one_error_line, preau, query

ICS = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR",
    "BEGIN:VEVENT", "UID:cli-1@test", "DTSTAMP:20260101T000000Z",
    "DTSTART;TZID=Europe/Paris:20260312T090000", "DTEND;TZID=Europe/Paris:20260312T120000",
    "SUMMARY:Sortie au musée", "END:VEVENT", "END:VCALENDAR", ""])


@pytest.fixture
def live_database():
    """Named so that the rollback fixture of tests/conftest.py steps aside: the command
    commits into the database of `demo_env`."""
    return None


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """One demo region for the module, in a SQLite file or a PostgreSQL schema of its own."""
    base = session_database_url()
    name = f"cli_ics_{uuid.uuid4().hex[:8]}"
    instance = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{instance / 'preau.db'}"
    if base:
        engine = sa.create_engine(base)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        engine.dispose()
        url = sa.engine.make_url(base).update_query_dict(
            {"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    env = {"PREAU_INSTANCE_PATH": str(instance), "PREAU_DATABASE_URL": url,
           "PREAU_SECRET_KEY": "cli-test"}
    for command in (["init"], ["demo", "--users", "50"]):
        result = preau(env, *command)
        assert result.exit_code == 0, result.output
    yield env, url
    if base:
        engine = sa.create_engine(base)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        engine.dispose()


def four_a(url: str) -> str:
    return str(query(url, 'SELECT g.id FROM "group" g JOIN school s ON s.id = g.school_id '
                          "WHERE g.name = '4A' AND s.uai = '0310024H'")[0][0])


def test_dry_run_then_apply(demo_env, tmp_path, live_database):
    env, url = demo_env
    file = tmp_path / "sortie.ics"
    file.write_text(ICS, encoding="utf-8")
    ambiguous = preau(env, "import-ics", str(file), "--group", "4A")
    assert "Plusieurs groupes s'appellent « 4A » : indiquez son numéro" in \
        one_error_line(ambiguous)
    result = preau(env, "import-ics", str(file), "--group", four_a(url))
    assert result.exit_code == 0, result.output
    assert "créé" in result.output and "12/03/2026 09:00" in result.output
    assert "Rien n'est enregistré" in result.output
    assert query(url, "SELECT COUNT(*) FROM agenda_event WHERE uid = 'cli-1@test'") == [(0,)]
    result = preau(env, "import-ics", str(file), "--group", four_a(url), "--apply")
    assert result.exit_code == 0, result.output
    assert "Agenda « 4A » : 1 créé." in result.output
    assert query(url, "SELECT title, starts_at FROM agenda_event WHERE uid = 'cli-1@test'")[0][0] \
        == "Sortie au musée"
    again = preau(env, "import-ics", str(file), "--group", four_a(url), "--apply")
    assert "1 inchangé" in again.output


@pytest.mark.parametrize(("content", "group", "expected"), [
    ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nNOT A LINE\r\nEND:VCALENDAR\r\n", "4A",
     "Fichier iCalendar illisible, ligne 3 :"),
    ("hello", "4A", "n'est pas un calendrier iCalendar"),
    (ICS, "Pas un groupe", "Aucun groupe « Pas un groupe »."),
    (None, "4A", "Fichier introuvable"),
])
def test_refusals_are_one_french_line(demo_env, tmp_path, content, group, expected,
                                      live_database):
    env, url = demo_env
    file = tmp_path / "in.ics"
    if content is not None:
        file.write_text(content, encoding="utf-8")
    result = preau(env, "import-ics", str(file), "--group", four_a(url) if group == "4A" else group)
    assert result.exit_code == 1
    assert expected in one_error_line(result)


def test_a_uid_twice_is_said_in_words(demo_env, tmp_path, live_database):
    env, url = demo_env
    event = ICS.split("BEGIN:VEVENT")[1].split("END:VEVENT")[0]
    twice = ICS.replace("END:VCALENDAR", f"BEGIN:VEVENT{event}END:VEVENT\r\nEND:VCALENDAR")
    file = tmp_path / "deux.ics"
    file.write_text(twice.replace("cli-1@test", "cli-2@test"), encoding="utf-8")
    result = preau(env, "import-ics", str(file), "--group", four_a(url))
    assert result.exit_code == 0, result.output
    assert "cet UID figure déjà plus haut dans le fichier" in result.output
    assert "duplicate_uid" not in result.output


def test_a_room_the_file_would_take_twice_is_said_in_a_sentence(demo_env, tmp_path,
                                                                 live_database):
    """Two imported events hold the coach; a file moving the first onto the second's day is
    refused whole, in a sentence naming the room, and leaves the first where it was."""
    env, url = demo_env

    def calendar(*events: tuple[str, str]) -> str:
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR"]
        for uid, day in events:
            lines += ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
                      f"DTSTART:{day}T080000Z", f"DTEND:{day}T110000Z", f"SUMMARY:{uid}",
                      "END:VEVENT"]
        return "\r\n".join([*lines, "END:VCALENDAR", ""])

    file = tmp_path / "car.ics"
    file.write_text(calendar(("car-1@test", "20260402"), ("car-2@test", "20260409")))
    assert preau(env, "import-ics", str(file), "--group", four_a(url), "--apply").exit_code == 0
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        school = connection.scalar(sa.text("SELECT id FROM school WHERE uai = '0310024H'"))
        car = connection.scalar(sa.text(
            "INSERT INTO agenda_resource (school_id, name, kind, active) "
            "VALUES (:school, 'Car', 'room', :yes) RETURNING id"), {"school": school, "yes": True})
        for event_id, starts_at, ends_at in connection.execute(sa.text(
                "SELECT id, starts_at, ends_at FROM agenda_event "
                "WHERE uid IN ('car-1@test', 'car-2@test')")).all():
            connection.execute(sa.text("INSERT INTO agenda_event_resource (event_id, resource_id) "
                                       "VALUES (:event, :car)"), {"event": event_id, "car": car})
            connection.execute(sa.text(
                "INSERT INTO agenda_booking (resource_id, event_id, starts_at, ends_at) "
                "VALUES (:car, :event, :starts, :ends)"),
                {"car": car, "event": event_id, "starts": starts_at, "ends": ends_at})
    engine.dispose()
    file.write_text(calendar(("car-1@test", "20260409")))
    result = preau(env, "import-ics", str(file), "--group", four_a(url), "--apply")
    assert "« Car » est déjà réservé" in one_error_line(result)
    assert "resource_taken" not in result.output
    day = query(url, "SELECT starts_at FROM agenda_event WHERE uid = 'car-1@test'")[0][0]
    assert str(day).startswith("2026-04-02")
