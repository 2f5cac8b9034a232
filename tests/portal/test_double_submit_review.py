"""Forms sent twice, and the cancel button, after read-only reviews.

1. « Créer la rubrique » sent twice (a double click: the same form, the same key `cle`) makes
   one rubric, and a comment on an article sent twice makes one comment
   (directory/form_keys.py); the same form sent back with other words makes its own.
2. « Supprimer le brouillon » / « Annuler l'évènement » say what was done, read in the
   transaction that does it (agenda/events.cancel locks and re-reads the event): a draft
   published meanwhile in another tab is cancelled, its people told, and the page says so;
   a second click says nothing was done; a refusal is no success.
3. « Créer » on /agenda/abonnements clicked twice at once leaves one live token.
On PostgreSQL the two sendings of 1 and 3 also run really at once."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select, update

from agenda import notices
from agenda.errors import AgendaError, Problem
from agenda.models import Agenda, Event, EventStatus, FeedToken
from directory.db import db
from directory.models import Account
from directory.rubric_models import Rubric
from mailgate.fanout_models import FanoutJob
from portal.agenda import event_views
from portal.rubriques.models import ArticleComment
from tests.conftest import csrf_token, fresh_database, live_demo_app

from .annuaire_helpers import group_id
from .rubriques_helpers import client_of, four_a_rubric, html, publish
from .test_agenda_pages import event_id_of, new_event
from .test_carnet_races import at_once, browser_twice

KEY = re.compile(r'id="cle" name="cle" type="hidden" value="([0-9a-f]{32})"')


def _flashes(response) -> list[tuple[str, str]]:
    return [(kind, unescape(text)) for kind, text in re.findall(
        r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', html(response), re.S)]


# 1. « Créer la rubrique » and a comment sent twice --------------------------------------------

def _rubric_form(client, name: str) -> dict:
    page = html(client.get("/rubriques/nouvelle"))
    key = KEY.search(page)
    assert key, "no one-time key in the new rubric's form"
    space = re.search(r'<option[^>]*value="(g\d+)"', page)[1]
    return {"csrf_token": csrf_token(page), "cle": key[1], "espace": space, "name": name,
            "description": "Les sorties de l'année"}


def _rubrics(app, name: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Rubric.id).where(Rubric.name == name)))


def test_creer_la_rubrique_sent_twice_makes_one_rubric(app):
    claire = client_of(app, "claire.bernard")
    data = _rubric_form(claire, "Sorties, deux clics")
    first = claire.post("/rubriques/nouvelle", data=data)
    second = claire.post("/rubriques/nouvelle", data=data, follow_redirects=True)
    assert first.status_code == 303 and second.status_code == 200
    [rubric_id] = _rubrics(app, "Sorties, deux clics")
    assert first.headers["Location"] == f"/rubriques/{rubric_id}/parametres"
    assert second.request.path == f"/rubriques/{rubric_id}/parametres"
    assert ("success", "La rubrique « Sorties, deux clics » est créée.") in _flashes(second)
    # the same form sent back with another name (« Précédent ») makes its own
    other = claire.post("/rubriques/nouvelle", data=data | {"name": "Sorties, autre nom"})
    assert other.status_code == 303 and len(_rubrics(app, "Sorties, autre nom")) == 1


def _comment_form(client, article_id: int, text: str) -> dict:
    page = html(client.get(f"/rubriques/articles/{article_id}"))
    key = KEY.search(page)
    assert key, "no one-time key in the comment form"
    return {"csrf_token": csrf_token(page), "cle": key[1], "texte": text}


def _comments(app, article_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(ArticleComment.body).where(
            ArticleComment.article_id == article_id).order_by(ArticleComment.id)))


def test_a_comment_sent_twice_is_published_once(app):
    claire, joseph = client_of(app, "claire.bernard"), client_of(app, "joseph.fabre")
    article_id = publish(claire, four_a_rubric(app), "Kermesse", commentaires="open")
    data = _comment_form(joseph, article_id, "Merci pour l'organisation !")
    url = f"/rubriques/articles/{article_id}/commentaires"
    first, second = joseph.post(url, data=data), joseph.post(url, data=data)
    assert [first.status_code, second.status_code] == [303, 303]
    assert _comments(app, article_id) == ["Merci pour l'organisation !"]
    # another text sent with the same key, and a new form with the same text, are new comments
    joseph.post(url, data=data | {"texte": "Et pour le goûter."})
    joseph.post(url, data=_comment_form(joseph, article_id, "Merci pour l'organisation !"))
    assert _comments(app, article_id) == ["Merci pour l'organisation !", "Et pour le goûter.",
                                          "Merci pour l'organisation !"]


# 2. Cancelling says what was done -----------------------------------------------------------

def _notices(app, event_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FanoutJob).where(
            FanoutJob.origin == f"event:{event_id}"))


def _status(app, event_id: int):
    with app.app_context():
        event = db.session.get(Event, event_id)
        return event.status if event else None


def _cancel(client, event_id: int):
    page = html(client.get(f"/agenda/evenement/{event_id}/annuler"))
    return client.post(f"/agenda/evenement/{event_id}/annuler",
                       data={"csrf_token": csrf_token(page)}, follow_redirects=True)


def test_a_draft_published_in_another_tab_is_cancelled_and_said_so(teacher, app, monkeypatch):
    event_id = event_id_of(new_event(teacher, app, publish=False, notify="y"))
    page = html(teacher.get(f"/agenda/evenement/{event_id}/annuler"))
    assert "Supprimer le brouillon" in page
    shown = event_views.writable_event_or_404

    def published_meanwhile(n: int) -> Event:
        """The draft as the page read it; then « Valider » of another tab publishes it."""
        event = shown(n)
        assert event.status == EventStatus.DRAFT
        db.session.execute(update(Event).where(Event.id == n).values(
            status=EventStatus.PUBLISHED).execution_options(synchronize_session=False))
        return event

    monkeypatch.setattr(event_views, "writable_event_or_404", published_meanwhile)
    response = teacher.post(f"/agenda/evenement/{event_id}/annuler",
                            data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert _status(app, event_id) == EventStatus.CANCELLED
    said = _flashes(response)
    assert ("success", "Ce brouillon venait d'être publié : l'évènement est annulé.") in said
    assert ("success", "Le brouillon est supprimé.") not in said
    assert _notices(app, event_id) == 1       # its people are told it is cancelled


def test_a_draft_deleted_and_an_event_cancelled_say_so_once(teacher, app):
    draft = event_id_of(new_event(teacher, app, publish=False))
    assert ("success", "Le brouillon est supprimé.") in _flashes(_cancel(teacher, draft))
    assert _status(app, draft) is None
    published = event_id_of(new_event(teacher, app, notify="y"))
    assert ("success", "L'évènement est annulé.") in _flashes(_cancel(teacher, published))
    # the same page sent again (a double click): nothing is done, and nothing is said done
    page = html(teacher.get(f"/agenda/evenement/{published}/annuler"))
    again = teacher.post(f"/agenda/evenement/{published}/annuler",
                         data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert _flashes(again) == [("error", "Cet évènement a été annulé ou supprimé "
                                         "entre-temps : rien n'a été enregistré.")]
    assert _notices(app, published) == 2      # « ajouté », then « annulé » once


def test_a_refused_cancel_is_not_said_done(teacher, app, monkeypatch):
    event_id = event_id_of(new_event(teacher, app, notify="y"))

    def refused(*_args, **_kwargs):
        raise AgendaError(Problem.CANCELLED_MEANWHILE)

    monkeypatch.setattr(notices, "after_save", refused)
    said = _flashes(_cancel(teacher, event_id))
    assert [kind for kind, _text in said] == ["error"]
    assert _status(app, event_id) == EventStatus.PUBLISHED


# PostgreSQL: two sendings really at once ----------------------------------------------------

@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    return fresh_database(tmp_path_factory, "doublesubmit")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "doublesubmit", users=100)


@pytest.fixture
def two_clicks(live_app):
    """Claire's browser twice — one session, each click with its own answer."""
    return browser_twice(live_app, "claire.bernard")


@pytest.mark.postgres_only
def test_creer_la_rubrique_twice_at_once_makes_one_rubric(live_app, two_clicks):
    first, second = two_clicks
    data = _rubric_form(first, "Club lecture")
    answers = at_once(live_app, "rubric", lambda: first.post("/rubriques/nouvelle", data=data),
                      lambda: second.post("/rubriques/nouvelle", data=data), wait=1.5)
    assert [a.status_code for a in answers] == [303, 303]
    [rubric_id] = _rubrics(live_app, "Club lecture")
    assert {a.headers["Location"] for a in answers} == {f"/rubriques/{rubric_id}/parametres"}


@pytest.mark.postgres_only
def test_a_comment_sent_twice_at_once_is_published_once(live_app, two_clicks):
    first, second = two_clicks
    article_id = publish(first, four_a_rubric(live_app), "Cross", commentaires="open")
    data = _comment_form(first, article_id, "Bravo à tous")
    url = f"/rubriques/articles/{article_id}/commentaires"
    answers = at_once(live_app, "article_comment", lambda: first.post(url, data=data),
                      lambda: second.post(url, data=data), wait=1.5)
    assert [a.status_code for a in answers] == [303, 303]
    assert _comments(live_app, article_id) == ["Bravo à tous"]


@pytest.mark.postgres_only
def test_an_agenda_feed_made_twice_at_once_keeps_one_live_token(live_app, two_clicks):
    first, second = two_clicks
    gid = group_id(live_app, "4A")
    token = csrf_token(html(first.get("/agenda/abonnements")))
    data = {"csrf_token": token, "action": "create", "group": gid}
    answers = at_once(live_app, "agenda_feed_token",
                      lambda: first.post("/agenda/abonnements", data=data),
                      lambda: second.post("/agenda/abonnements", data=data), wait=1.5)
    assert [a.status_code for a in answers] == [200, 200]
    with live_app.app_context():
        claire = db.session.scalar(select(Account.id).where(Account.login == "claire.bernard"))
        agenda = db.session.scalar(select(Agenda.id).where(Agenda.group_id == gid))
        assert db.session.scalar(select(func.count()).select_from(FeedToken).where(
            FeedToken.account_id == claire, FeedToken.agenda_id == agenda,
            FeedToken.revoked_at.is_(None))) == 1
