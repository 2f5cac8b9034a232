"""`preau import-ics FILE --group NAME_OR_ID [--apply]`: shows what would be imported, imports
with --apply, and refuses a bad file or group with one French line and exit code 1."""
from __future__ import annotations

import pytest

from tests.portal.test_cli import fresh_db, live_database, one_error_line, preau, query, \
    with_demo  # noqa: F401  (fixtures)

ICS = "\r\n".join([
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//FR",
    "BEGIN:VEVENT", "UID:cli-1@test", "DTSTAMP:20260101T000000Z",
    "DTSTART;TZID=Europe/Paris:20260312T090000", "DTEND;TZID=Europe/Paris:20260312T120000",
    "SUMMARY:Sortie au musée", "END:VEVENT", "END:VCALENDAR", ""])


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    """One demo database for the module (demo loading is the slow part); the tests ask for
    `live_database` so that the rollback fixture steps aside, as in test_cli.py."""
    from tests.portal import test_cli

    gen = test_cli.fresh_db.__wrapped__(tmp_path_factory.mktemp("ics"), None)
    make = next(gen)
    env, url = with_demo(make, "--users", "50")
    yield env, url
    next(gen, None)


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
