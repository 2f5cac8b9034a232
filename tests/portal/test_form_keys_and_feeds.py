"""Private feeds end with the account's sessions, and a form sent twice makes one object.

1. A private feed address — the agenda's .ics (« Mon agenda ») and a rubric's Atom — answers
   404 once the member's sessions have all ended: a password changed, a password reset by an
   administrator, « Se déconnecter de tous les appareils ». A new address made afterwards works.
2. A new event's « Valider » or a new article's « Enregistrer l'article » sent twice (a double
   click: the same form, the same key `cle`) makes one event (one notice) or one article (its
   files with it); the second answer leads to what the first made. The same form sent back with
   other words makes its own. On PostgreSQL two sendings really at once make one too.
3. « Créer l'adresse de mon flux » of a rubric clicked twice at once answers both, one row.
"""
from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from agenda.models import Event
from directory import account_admin
from directory.db import db
from directory.import_models import FormSubmission
from directory.models import Account
from mailgate.fanout_models import FanoutJob
from portal.rubriques.models import Article, ArticleFile, FeedToken
from tests.conftest import (
    DEMO_PASSWORD,
    csrf_token,
    fresh_database,
    live_demo_app,
    login,
    make_app,
    post_form,
)

from .annuaire_helpers import group_id
from .rubriques_helpers import client_of, four_a_rubric, html
from .test_agenda_pages import FORM
from .test_carnet_races import at_once, browser_twice

NEW_PASSWORD = "Autre-mot-de-passe-2026!"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


# 1. Feeds end with the sessions -----------------------------------------------------------

def _agenda_feed(client) -> str:
    response = post_form(client, "/agenda/abonnements", {"action": "create"})
    return re.search(r'id="new-url" type="text" readonly value="http://localhost([^"]+)"',
                     html(response))[1]


def _rubric_feed(client, rubric_id: int) -> str:
    page = html(client.get(f"/rubriques/{rubric_id}"))
    response = client.post(f"/rubriques/{rubric_id}/flux",
                           data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    return re.search(r'id="feed-url" type="text" readonly value="http://localhost([^"]+)"',
                     html(response))[1]


def _feeds(app, client) -> list[str]:
    urls = [_agenda_feed(client), _rubric_feed(client, four_a_rubric(app))]
    assert [app.test_client().get(url).status_code for url in urls] == [200, 200]
    return urls


def _answers(app, urls: list[str]) -> list[int]:
    return [app.test_client().get(url).status_code for url in urls]


def test_a_password_change_ends_the_feeds(app):
    joseph = client_of(app, "joseph.fabre")
    urls = _feeds(app, joseph)
    response = post_form(joseph, "/mot-de-passe", {
        "current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert _answers(app, urls) == [404, 404]
    # the rubric page offers a new address again, and the new ones work
    assert "adresse de mon flux" in html(joseph.get(f"/rubriques/{four_a_rubric(app)}"))
    _feeds(app, joseph)


def test_an_administrators_password_reset_ends_the_feeds(app):
    joseph = client_of(app, "joseph.fabre")
    urls = _feeds(app, joseph)
    with app.app_context():
        admin = db.session.scalar(select(Account).where(Account.login == "admin"))
        target = db.session.scalar(select(Account).where(Account.login == "joseph.fabre"))
        assert account_admin.reset_passwords(admin, [target], NEW_PASSWORD).new
        db.session.commit()
    assert _answers(app, urls) == [404, 404]
    again = app.test_client()
    assert login(again, "joseph.fabre", NEW_PASSWORD).status_code == 302
    post_form(again, "/mot-de-passe", {       # the reset password must be changed first
        "current": NEW_PASSWORD, "new": DEMO_PASSWORD + "x", "confirm": DEMO_PASSWORD + "x"})
    _feeds(app, again)


def test_logging_out_everywhere_ends_the_feeds(app):
    joseph = client_of(app, "joseph.fabre")
    urls = _feeds(app, joseph)
    assert post_form(joseph, "/deconnexion-partout", {}, page="/preferences/").status_code \
        == 302
    assert _answers(app, urls) == [404, 404]
    _feeds(app, client_of(app, "joseph.fabre"))


# 2. A form sent twice makes one object -----------------------------------------------------

def _event_form(client, app) -> dict:
    gid = group_id(app, "4A")
    page = html(client.get(f"/agenda/groupe/{gid}/nouveau"))
    key = re.search(r'id="cle" name="cle" type="hidden" value="([0-9a-f]{32})"', page)
    assert key, "no one-time key in the event form"
    return {**FORM, "agenda": gid, "publish": "x", "notify": "y",
            "csrf_token": csrf_token(page), "cle": key[1]}


def _events(app, title: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Event.id).where(Event.title == title)))


def _notices(app, event_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"event:{event_id}"))


def test_valider_clicked_twice_makes_one_event_and_one_notice(teacher, app):
    gid = group_id(app, "4A")
    data = _event_form(teacher, app) | {"title": "Sortie au musée, deux clics"}
    first = teacher.post(f"/agenda/groupe/{gid}/nouveau", data=data)
    second = teacher.post(f"/agenda/groupe/{gid}/nouveau", data=data)
    assert [first.status_code, second.status_code] == [302, 302]
    assert first.headers["Location"] == second.headers["Location"]
    [event_id] = _events(app, "Sortie au musée, deux clics")
    assert second.headers["Location"].endswith(f"/agenda/evenement/{event_id}")
    assert _notices(app, event_id) == 1
    # the same form sent back with another title (« Précédent ») makes its own event
    other = teacher.post(f"/agenda/groupe/{gid}/nouveau",
                         data=data | {"title": "Sortie au théâtre"})
    assert other.status_code == 302 and len(_events(app, "Sortie au théâtre")) == 1


def _editor(client, rubric_id: int) -> dict:
    page = html(client.get(f"/rubriques/{rubric_id}/articles/nouveau"))
    key = re.search(r'id="cle" name="cle" type="hidden" value="([0-9a-f]{32})"', page)
    assert key, "no one-time key in the article editor"
    return {"csrf_token": csrf_token(page), "cle": key[1]}


def _upload(client, rubric_id: int, token: str) -> str:
    response = client.post(f"/rubriques/{rubric_id}/fichiers", data={
        "csrf_token": token, "fichier": (io.BytesIO(PNG), "affiche.png")},
        content_type="multipart/form-data")
    assert response.status_code == 200, html(response)
    return json.loads(html(response))["url"]


def _article_form(client, rubric_id: int, title: str) -> tuple[dict, int]:
    form = _editor(client, rubric_id)
    url = _upload(client, rubric_id, form["csrf_token"])
    return form | {"titre": title, "contenu": f'<p>Bonjour.</p><p><img src="{url}"></p>',
                   "publication": "maintenant", "commentaires": "off"}, int(url.split("/")[-1])


def _articles(app, title: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Article.id).where(Article.title == title)))


def _file_article(app, file_id: int) -> int | None:
    with app.app_context():
        return db.session.get(ArticleFile, file_id).article_id


def test_enregistrer_clicked_twice_makes_one_article_with_its_files(app):
    claire = client_of(app, "claire.bernard")
    rubric_id = four_a_rubric(app)
    data, file_id = _article_form(claire, rubric_id, "Affiche du spectacle")
    url = f"/rubriques/{rubric_id}/articles/nouveau"
    first, second = claire.post(url, data=data), claire.post(url, data=data)
    assert [first.status_code, second.status_code] == [303, 303]
    [article_id] = _articles(app, "Affiche du spectacle")
    assert first.headers["Location"] == second.headers["Location"] == \
        f"/rubriques/articles/{article_id}"
    assert _file_article(app, file_id) == article_id


def test_an_account_form_key_is_kept_with_the_others(app):
    """« Créer un compte » keeps its key in the same table (kind `account`)."""
    admin = client_of(app, "admin")
    page = html(admin.get("/administration/comptes/nouveau"))
    key = re.search(r'name="cle" type="hidden" value="([0-9a-f]{32})"', page)[1]
    school = re.search(r'<option[^>]*value="(\d+)"', page)[1]
    data = {"csrf_token": csrf_token(page), "cle": key, "etablissement": school,
            "prenom": "Inès", "nom": "Formulaire", "profil": "teacher", "envoi": "saisir",
            "mot_de_passe": "Premier-mot-2026!"}
    first = admin.post("/administration/comptes/nouveau", data=data)
    second = admin.post("/administration/comptes/nouveau", data=data)
    assert first.status_code in (302, 303, 200) and second.status_code in (302, 303)
    with app.app_context():
        made = db.session.scalars(select(Account.id).where(
            Account.last_name == "Formulaire")).all()
        kinds = db.session.scalars(select(FormSubmission.kind).where(
            FormSubmission.object_id.in_(made))).all()
    assert len(made) == 1 and kinds == ["account"]


# PostgreSQL: two sendings really at once ----------------------------------------------------

@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    return fresh_database(tmp_path_factory, "formkeys")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "formkeys", users=100)


@pytest.fixture
def two_clicks(live_app):
    """Claire's browser twice — one session, each click with its own answer."""
    return browser_twice(live_app, "claire.bernard")


@pytest.mark.postgres_only
def test_valider_twice_at_once_makes_one_event(live_app, two_clicks):
    first, second = two_clicks
    gid = group_id(live_app, "4A")
    data = _event_form(first, live_app) | {"title": "Cross du collège"}
    url = f"/agenda/groupe/{gid}/nouveau"
    answers = at_once(live_app, "agenda_event", lambda: first.post(url, data=data),
                      lambda: second.post(url, data=data), wait=1.5)
    assert [a.status_code for a in answers] == [302, 302]
    [event_id] = _events(live_app, "Cross du collège")
    assert {a.headers["Location"] for a in answers} == {f"/agenda/evenement/{event_id}"}
    assert _notices(live_app, event_id) == 1


@pytest.mark.postgres_only
def test_enregistrer_twice_at_once_makes_one_article(live_app, two_clicks):
    first, second = two_clicks
    rubric_id = four_a_rubric(live_app)
    data, file_id = _article_form(first, rubric_id, "Menu de la semaine")
    url = f"/rubriques/{rubric_id}/articles/nouveau"
    answers = at_once(live_app, "article", lambda: first.post(url, data=data),
                      lambda: second.post(url, data=data), wait=1.5)
    assert [a.status_code for a in answers] == [303, 303]
    [article_id] = _articles(live_app, "Menu de la semaine")
    assert {a.headers["Location"] for a in answers} == {f"/rubriques/articles/{article_id}"}
    assert _file_article(live_app, file_id) == article_id


# 3. A rubric's feed made twice at once ------------------------------------------------------

@pytest.mark.postgres_only
def test_a_rubric_feed_made_twice_at_once_answers_both_and_keeps_one(live_app, two_clicks):
    first, second = two_clicks
    rubric_id = four_a_rubric(live_app)
    token = csrf_token(html(first.get(f"/rubriques/{rubric_id}")))
    url = f"/rubriques/{rubric_id}/flux"
    answers = at_once(live_app, "feed_token",
                      lambda: first.post(url, data={"csrf_token": token}),
                      lambda: second.post(url, data={"csrf_token": token}), wait=1.5)
    assert [a.status_code for a in answers] == [200, 200]
    with live_app.app_context():
        claire = db.session.scalar(select(Account.id).where(Account.login == "claire.bernard"))
        assert db.session.scalar(select(func.count()).select_from(FeedToken).where(
            FeedToken.account_id == claire, FeedToken.rubric_id == rubric_id)) == 1
    urls = [re.search(r'id="feed-url" type="text" readonly value="http://localhost([^"]+)"',
                      html(a))[1] for a in answers]
    assert sorted(live_app.test_client().get(u).status_code for u in urls) == [200, 404]


# Migration 0035 ------------------------------------------------------------------------------

AT = datetime(2026, 3, 1)


def _fill_0034(run) -> None:
    """Two accounts (session keys "cle-de-jean", none for Anne), a feed token of each kind for
    each, and Jean's key of a « Créer un compte » form that made Anne's account."""
    run(sa.text("INSERT INTO school (id, uai, name, city, login_pattern) "
                "VALUES (1, '0750001A', 'École du test', 'Paris', '{uai}.{f}.{last}')"))
    run(sa.text("INSERT INTO rubric (id, school_id, name, description, created_at) "
                "VALUES (1, 1, 'Vie de l''école', '', :at)"), {"at": AT})
    for n, login_name, key in ((1, "jean.martin", "cle-de-jean"), (2, "anne.petit", None)):
        run(sa.text(
            "INSERT INTO account (id, login, first_name, last_name, search_name, "
            "search_first, profile, address, password_hash, must_change_password, "
            "suspended, is_admin, is_school_admin, redirect_verified, created_at, "
            "session_key) VALUES (:id, :login, 'Jean', 'Martin', 'martin jean', 'jean', "
            "'teacher', :login, 'x', false, false, false, false, false, :at, :key)"),
            {"id": n, "login": login_name, "at": AT, "key": key})
        run(sa.text("INSERT INTO agenda_feed_token (id, account_id, agenda_id, token_sha256, "
                    "created_at) VALUES (:id, :id, NULL, :digest, :at)"),
            {"id": n, "digest": f"{n:064d}", "at": AT})
        run(sa.text("INSERT INTO feed_token (id, account_id, rubric_id, token_sha256, "
                    "created_at) VALUES (:id, :id, 1, :digest, :at)"),
            {"id": n, "digest": f"{n:064d}", "at": AT})
    run(sa.text("INSERT INTO account_creation (author_id, form_key, account_id, created_at) "
                "VALUES (1, :key, 2, :at)"), {"key": "k" * 64, "at": AT})


def _session_keys(run) -> list[tuple]:
    return [tuple(row) for row in run(sa.text(
        "SELECT 'agenda', id, session_key FROM agenda_feed_token UNION ALL "
        "SELECT 'rubric', id, session_key FROM feed_token ORDER BY 1, 2")).all()]


def test_upgrade_to_0035_binds_the_feeds_to_the_current_sessions_and_keeps_the_form_keys(
        tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0034")
        run = db.session.execute
        _fill_0034(run)
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=migrations)
        keys = _session_keys(run)
        submissions = [tuple(row) for row in run(sa.text(
            "SELECT author_id, form_key, kind, object_id FROM form_submission")).all()]
        db.session.commit()

        downgrade(directory=migrations, revision="0034")
        creations = [tuple(row) for row in run(sa.text(
            "SELECT author_id, form_key, account_id FROM account_creation")).all()]
        columns = {table: {c["name"] for c in sa.inspect(db.session.connection())
                           .get_columns(table)} for table in ("agenda_feed_token", "feed_token")}
        tables = set(sa.inspect(db.session.connection()).get_table_names())
        db.session.commit()
        upgrade(directory=migrations)
        db.session.remove()
        db.engine.dispose()

    assert keys == [("agenda", 1, "cle-de-jean"), ("agenda", 2, None),
                    ("rubric", 1, "cle-de-jean"), ("rubric", 2, None)]
    assert submissions == [(1, "k" * 64, "account", 2)]
    assert creations == [(1, "k" * 64, 2)]
    assert all("session_key" not in names for names in columns.values())
    assert "form_submission" not in tables
