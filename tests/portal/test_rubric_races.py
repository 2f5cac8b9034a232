"""A rubric's settings sent twice at once (a double click): « Ouvrir la rubrique à cette
population » opens it once, and the second request says the population already has access;
« Nommer gestionnaire » names her once, and neither request fails. The two requests really
overlap (`at_once` of tests/portal/test_carnet_races.py, with a wait where a lock makes the second one wait): on PostgreSQL, without the lock,
both saw no such population and both wrote one (the unique key never matches, one of its
columns being NULL), and the manager's second write broke the primary key (a 500)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory import rubrics
from directory.db import db
from directory.models import Account, Group
from directory.rubric_models import Rubric, RubricManager, RubricPopulation
from tests.conftest import fresh_database, live_demo_app, post_form

from .test_carnet_races import at_once, browser_twice


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    return fresh_database(tmp_path_factory, "rubricraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "rubricraces", users=100)


@pytest.fixture
def rubric_and_clicks(live_app):
    """A rubric of Claire's class 4A, and her browser twice (one session)."""
    first, second = browser_twice(live_app, "claire.bernard")
    with live_app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        group = db.session.scalar(select(Group).where(Group.name == "4A"))
        rubric = rubrics.create_rubric(claire, name="Sorties", group_id=group.id)
        db.session.commit()
        rubric_id, school_id = rubric.id, rubric.school_id
    yield rubric_id, school_id, first, second
    with live_app.app_context():
        db.session.delete(db.session.get(Rubric, rubric_id))
        db.session.commit()


def test_a_population_opened_twice_at_once_is_opened_once(live_app, rubric_and_clicks):
    rubric_id, school_id, first, second = rubric_and_clicks

    def open_to_parents(client):
        return lambda: post_form(client, f"/rubriques/{rubric_id}/populations",
                                 {"profil": "parent", "portee": f"s{school_id}"},
                                 page=f"/rubriques/{rubric_id}/parametres")

    answers = at_once(live_app, "rubric_population", open_to_parents(first),
                      open_to_parents(second), wait=1.5)
    assert [a.status_code for a in answers] == [303, 303]
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RubricPopulation).where(
            RubricPopulation.rubric_id == rubric_id,
            RubricPopulation.school_id == school_id)) == 1


def test_a_manager_named_twice_at_once_is_named_once(live_app, rubric_and_clicks):
    rubric_id, _school_id, first, second = rubric_and_clicks

    def name_paul(client):
        return lambda: post_form(client, f"/rubriques/{rubric_id}/gestionnaires",
                                 {"identifiant": "paul.durand"},
                                 page=f"/rubriques/{rubric_id}/parametres")

    answers = at_once(live_app, "rubric_manager", name_paul(first), name_paul(second))
    assert [a.status_code for a in answers] == [303, 303]
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RubricManager).where(
            RubricManager.rubric_id == rubric_id)) == 1
