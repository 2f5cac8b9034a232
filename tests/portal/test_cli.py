"""The `preau` command line against databases of its own (a temporary SQLite file, or a
schema of its own in the PostgreSQL test database): init, demo, create-admin and the one-line
errors of user mistakes."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from directory.db import db
from portal import create_app
from portal.cli import main
from tests.conftest import login, make_app, session_database_url

ROOT = Path(__file__).resolve().parents[2]
PREAU = Path(sys.executable).with_name("preau")


@pytest.fixture
def live_database():
    """Named so that the rollback fixture of tests/conftest.py steps aside: the commands
    commit into their own databases, made by `fresh_db`."""
    return None


@pytest.fixture
def fresh_db(tmp_path, live_database):
    """`fresh_db()` → (environment for the command, database URL) of a new empty database."""
    base = session_database_url()
    schemas = []

    def make() -> tuple[dict[str, str], str]:
        name = f"cli_{uuid.uuid4().hex[:10]}"
        instance = tmp_path / name
        instance.mkdir()
        if base:
            engine = sa.create_engine(base)
            with engine.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
            engine.dispose()
            schemas.append(name)
            url = sa.engine.make_url(base).update_query_dict(
                {"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{instance / 'preau.db'}"
        return {"PREAU_INSTANCE_PATH": str(instance), "PREAU_DATABASE_URL": url,
                "PREAU_SECRET_KEY": "cli-test"}, url

    yield make
    if schemas:
        engine = sa.create_engine(base)
        with engine.begin() as connection:
            for name in schemas:
                connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        engine.dispose()


def preau(env: dict[str, str], *args: str):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def one_error_line(result) -> str:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def query(url: str, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def account_count(url: str) -> int:
    return query(url, "SELECT COUNT(*) FROM account")[0][0]


def initialised(fresh_db) -> tuple[dict[str, str], str]:
    env, url = fresh_db()
    assert preau(env, "init").exit_code == 0
    return env, url


def with_demo(fresh_db, *args: str) -> tuple[dict[str, str], str]:
    env, url = initialised(fresh_db)
    result = preau(env, "demo", *args)
    assert result.exit_code == 0, result.output
    return env, url


# --- init ---------------------------------------------------------------------------------

def test_init_creates_the_schema_in_an_empty_instance(fresh_db):
    env, url = fresh_db()
    result = preau(env, "init")
    assert result.exit_code == 0, result.output
    assert "Base de données prête" in result.output
    engine = sa.create_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"account", "school", "account_school", "parent_link", "group", "group_member",
            "role_override", "allocated_address", "login_attempt", "alembic_version"} <= tables
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    assert query(url, "SELECT version_num FROM alembic_version") == [(head,)]
    assert account_count(url) == 0
    assert (Path(env["PREAU_INSTANCE_PATH"])).is_dir()


def test_init_warns_about_nothing(fresh_db):
    """SQLite's batch mode in migration 0005 reflected `account` and warned, at every
    `preau init`, that it skipped the expression index ix_account_redirect_lower."""
    import warnings

    env, _ = fresh_db()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert preau(env, "init").exit_code == 0
    assert [str(w.message) for w in caught if issubclass(w.category, sa.exc.SAWarning)] == []


# Indexes only the migrations create: expressions, collations and operator classes that the
# models do not declare (see migrations 0002 and 0005).
MIGRATION_ONLY_INDEXES = {"ix_account_discipline", "ix_account_first_then_name",
                          "ix_account_name_then_first",
                          "ix_account_redirect_lower", "ix_mail_message_search_words_trgm"}


def test_the_migrations_build_the_schema_the_models_describe(fresh_db):
    """A model changed without its migration (or the reverse) shows up here."""
    create_app()                        # imports every package's models into db.metadata
    _, url = initialised(fresh_db)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    engine.dispose()
    unexpected = [d for d in differences
                  if not (d[0] == "remove_index" and d[1].name in MIGRATION_ONLY_INDEXES)]
    assert unexpected == []


def test_init_twice_is_harmless(fresh_db):
    env, url = initialised(fresh_db)
    result = preau(env, "init")
    assert result.exit_code == 0, result.output
    assert account_count(url) == 0


def test_secret_key_is_generated_once_into_the_instance_folder(fresh_db):
    env, _ = fresh_db()
    del env["PREAU_SECRET_KEY"]
    preau(env, "init")
    key_file = Path(env["PREAU_INSTANCE_PATH"]) / "secret_key"
    first = key_file.read_text()
    preau(env, "init")
    assert len(first) >= 32 and key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("url", ["pas-une-url", "postgresql+psycopg://postgres@127.0.0.1:1/x"])
def test_bad_database_url_is_one_clear_line(fresh_db, url):
    env, _ = fresh_db()
    env["PREAU_DATABASE_URL"] = url
    line = one_error_line(preau(env, "init"))
    assert "PREAU_DATABASE_URL" in line or "Base de données injoignable" in line


def test_commands_before_init_say_to_run_init(fresh_db):
    env, _ = fresh_db()
    line = one_error_line(preau(env, "demo", "--users", "60"))
    assert "preau init" in line


# Common English words, and click's English metavars, none of which a French help needs
# ("file" is French too: « la file des messages »; FILE the metavar is not).
ENGLISH = re.compile(r"\b(?:(?i:the|of|and|to|from|with|without|only|what|would|be|done|"
                     r"it|is|show|write|create|import|school|names|accounts?|users?|files|"
                     r"number|address|default|run|start|load)|"
                     r"TEXT|INTEGER|RANGE|FILE|PATH|COMMAND|ARGS)\b")


def _help_words(output: str) -> str:
    """The help's text without the names it must keep: commands (import-users), options
    (--create-classes) and environment variables."""
    names = "|".join(re.escape(name) for name in main.commands)
    return re.sub(rf"(?<![\w-])(?:{names})(?![\w-])|--[\w-]+|\bPREAU_\w+", "", output)


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_in_french(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Utilisation :" in result.output
    assert "Afficher cette aide et quitter." in result.output
    assert "Show this message" not in result.output and "Usage:" not in result.output
    assert ENGLISH.findall(_help_words(result.output)) == []


def test_the_english_check_catches_an_english_help():
    assert ENGLISH.findall(_help_words("Import a school's accounts from a CSV file.\n"
                                       "  --school TEXT  UAI code of the school.")) == [
        "Import", "school", "accounts", "from", "TEXT", "of", "the", "school"]


def test_the_command_list_and_click_errors_speak_french():
    listing = CliRunner().invoke(main, ["--help"]).output
    assert "Préau : le portail des écoles" in listing and "Commandes :" in listing
    assert ENGLISH.findall(_help_words(listing)) == []
    assert "Charger la région de démonstration." in listing
    wrong = CliRunner().invoke(main, ["demo", "--users", "3"]).output
    assert "Erreur : Valeur invalide pour '--users' : 3 n'est pas dans l'intervalle" in wrong


# --- demo ---------------------------------------------------------------------------------

PEOPLE = """
SELECT a.login, a.first_name, a.last_name, a.profile, a.discipline, a.address,
       a.redirect_address, a.redirect_verified, a.is_admin, s.uai
FROM account a JOIN account_school m ON m.account_id = a.id JOIN school s ON s.id = m.school_id
ORDER BY a.login, s.uai
"""
GROUPS = """
SELECT s.uai, g.kind, g.name, g.persistent, a.login, gm.is_manager
FROM "group" g JOIN school s ON s.id = g.school_id
JOIN group_member gm ON gm.group_id = g.id JOIN account a ON a.id = gm.account_id
ORDER BY s.uai, g.kind, g.name, a.login
"""
LINKS = """
SELECT p.login, c.login FROM parent_link l
JOIN account p ON p.id = l.parent_id JOIN account c ON c.id = l.child_id
ORDER BY p.login, c.login
"""


def region(url: str) -> dict[str, list[tuple]]:
    return {name: query(url, sql) for name, sql in
            (("people", PEOPLE), ("groups", GROUPS), ("links", LINKS))}


def test_same_seed_gives_the_same_people_and_another_seed_others(fresh_db):
    _, first_url = with_demo(fresh_db, "--users", "200", "--seed", "1")
    _, second_url = with_demo(fresh_db, "--users", "200", "--seed", "1")
    _, other_url = with_demo(fresh_db, "--users", "200", "--seed", "2")
    first, second, other = region(first_url), region(second_url), region(other_url)
    assert 150 <= len(first["people"]) <= 260
    assert first == second
    assert first["people"] != other["people"]


def test_demo_prints_its_time_and_contains_the_fixed_accounts(fresh_db):
    env, url = initialised(fresh_db)
    result = preau(env, "demo", "--users", "120", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert re.search(r"Région de démonstration chargée : \d+ comptes, 3 établissements, "
                     r"\d+ groupes, \d+ messages, 3 évènements, 3 articles en \d+\.\d s "
                     r"\((sqlite|postgresql)\)\.", result.output)
    rows = query(url, """
        SELECT a.login, a.profile, a.redirect_address, a.redirect_verified, a.is_admin
        FROM account a WHERE a.login IN ('zoe.le-gall', 'lucas.martin', 'joseph.fabre',
                                         'claire.bernard', 'paul.durand', 'admin')
        ORDER BY a.login""")
    assert rows == [
        ("admin", "staff", None, False, True),
        ("claire.bernard", "teacher", "claire.bernard@example.net", True, False),
        ("joseph.fabre", "parent", "joseph@example.org", True, False),
        ("lucas.martin", "student", None, False, False),
        ("paul.durand", "staff", None, False, False),
        ("zoe.le-gall", "student", None, False, False),
    ]
    four_a = query(url, """
        SELECT a.login FROM "group" g JOIN school s ON s.id = g.school_id
        JOIN group_member gm ON gm.group_id = g.id JOIN account a ON a.id = gm.account_id
        WHERE s.uai = '0310024H' AND g.kind = 'ENTClasse' AND g.name = '4A'""")
    assert {"zoe.le-gall", "lucas.martin", "claire.bernard"} <= {row[0] for row in four_a}
    assert ("joseph.fabre", "zoe.le-gall") in query(url, LINKS)


def test_if_empty_does_nothing_when_accounts_exist(fresh_db):
    env, url = with_demo(fresh_db, "--users", "60")
    before = region(url)
    result = preau(env, "demo", "--users", "60", "--if-empty")
    assert result.exit_code == 0
    assert "La base contient déjà des comptes : démo non chargée." in result.output
    assert region(url) == before


def test_demo_into_a_filled_database_is_refused_in_one_line(fresh_db):
    env, url = with_demo(fresh_db, "--users", "60")
    count = account_count(url)
    line = one_error_line(preau(env, "demo", "--users", "60"))
    assert "déjà des comptes" in line
    assert account_count(url) == count


def test_demo_size_out_of_range_is_refused(fresh_db):
    env, url = initialised(fresh_db)
    result = preau(env, "demo", "--users", "3")
    assert result.exit_code == 2 and "--users" in result.output
    assert account_count(url) == 0


# --- create-admin -------------------------------------------------------------------------

def admin_args(login: str = "chef", school: str = "0310024H", password: str = "Chef-2026!x"):
    return ["create-admin", "--login", login, "--school", school, "--password", password]


def test_create_admin_makes_an_administrator(fresh_db):
    env, url = with_demo(fresh_db, "--users", "60")
    result = preau(env, *admin_args(school="0310024h"))
    assert result.exit_code == 0, result.output
    assert "Administrateur créé : chef (administrateur.preau@ent.test)." in result.output
    assert query(url, "SELECT a.is_admin, a.profile, s.uai FROM account a "
                      "JOIN account_school m ON m.account_id = a.id "
                      "JOIN school s ON s.id = m.school_id WHERE a.login = 'chef'") \
        == [(True, "staff", "0310024H")]


def test_create_admin_of_one_school_administers_that_school_only(fresh_db):
    env, url = with_demo(fresh_db, "--users", "60")
    result = preau(env, *admin_args(), "--school-admin")
    assert result.exit_code == 0, result.output
    school = query(url, "SELECT name FROM school WHERE uai = '0310024H'")[0][0]
    assert f"Administrateur de {school} (0310024H) créé : chef (" in result.output
    assert query(url, "SELECT is_admin, is_school_admin FROM account WHERE login = 'chef'") \
        == [(False, True)]
    client = make_app(Path(env["PREAU_INSTANCE_PATH"]), url).test_client()
    assert login(client, "chef", "Chef-2026!x").status_code == 302
    assert client.get("/administration/comptes/").status_code == 200
    other = query(url, "SELECT a.id FROM account a JOIN account_school m ON m.account_id = a.id "
                       "JOIN school s ON s.id = m.school_id WHERE s.uai <> '0310024H' LIMIT 1")
    assert client.get(f"/administration/comptes/{other[0][0]}").status_code == 404


@pytest.mark.parametrize(("args", "message"), [
    (admin_args(school="9999999Z"), "Établissement inconnu : 9999999Z."),
    (admin_args(password="faible"), "au moins 8 caractères"),
    (admin_args(login="zoe.le-gall"), "déjà pris"),
    (admin_args(login="x" * 500), "dépasse 120 caractères"),
])
def test_create_admin_mistakes_are_one_line_and_create_nothing(fresh_db, args, message):
    env, url = with_demo(fresh_db, "--users", "60")
    count = account_count(url)
    line = one_error_line(preau(env, *args))
    assert message in line
    assert account_count(url) == count


def test_installed_command_reports_an_unknown_school_without_traceback(fresh_db):
    """The real console script in its own process: one line on stderr, exit status 1."""
    env, url = initialised(fresh_db)
    completed = subprocess.run([str(PREAU), *admin_args(school="9999999Z")],
                               env={**os.environ, **env}, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 1
    assert completed.stderr.strip() == "Erreur : Établissement inconnu : 9999999Z."
    assert completed.stdout == ""
    assert account_count(url) == 0


@pytest.mark.parametrize(("value", "accepted"), [("2.5", True), ("2,5", True), ("", True),
                                                 ("beaucoup", False), ("0", False)])
def test_a_size_in_megabytes_is_read_or_refused_in_one_line(fresh_db, value, accepted):
    """PREAU_MAX_MESSAGE_MB=2.5 gave a traceback on every command, `preau init` included."""
    env, _ = fresh_db()
    result = preau({**env, "PREAU_MAX_MESSAGE_MB": value}, "init")
    if accepted:
        assert result.exit_code == 0, result.output
    else:
        assert "PREAU_MAX_MESSAGE_MB invalide" in one_error_line(result)


def test_a_mistyped_smarthost_is_refused_without_its_password():
    from directory.errors import InvalidInput
    from mailgate.smarthost import parse_url

    for url in ("smtp//relais:s3cret@mx.example.org", "smtp://relais:s3cret@mx.example.org:x"):
        with pytest.raises(InvalidInput) as refused:
            parse_url(url)
        assert "PREAU_SMARTHOST invalide" in refused.value.message
        assert "s3cret" not in refused.value.message
    assert parse_url("smtp://relais:s3cret@mx.example.org:587").port == 587


def test_a_mistyped_mail_setting_stops_any_command_at_start(fresh_db):
    """Read when the first message asked, a bad PREAU_QUOTA_MB or PREAU_SMARTHOST gave a 500
    on every Messagerie page of a portal started without complaint."""
    env, _ = fresh_db()
    for name, value in (("PREAU_QUOTA_MB", "beaucoup"),
                        ("PREAU_SMARTHOST", "smtp//relais:s3cret@mx.example.org")):
        result = preau({**env, name: value}, "init")
        line = one_error_line(result)
        assert f"{name} invalide" in line and "s3cret" not in line
