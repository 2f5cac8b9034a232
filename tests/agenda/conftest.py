"""Agenda fixtures: the demo's people and class 4A, a resource of their school, and a helper
that saves an event the way the form does."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from agenda import access, events
from agenda.models import Resource, ResourceKind
from directory.db import db, write_transaction
from directory.models import Account, Group, School


def person(login: str) -> Account:
    return db.session.scalar(select(Account).where(Account.login == login))


def class_4a() -> Group:
    """Zoé's class (other schools of the demo have a 4A too)."""
    return db.session.scalar(select(Group).join(School).where(Group.name == "4A",
                                                              School.uai == "0310024H"))


@pytest.fixture
def claire(ctx):
    return person("claire.bernard")


@pytest.fixture
def agenda_4a(ctx, claire):
    return access.agenda_of_group(claire, class_4a().id)


@pytest.fixture
def coach(ctx):
    resource = Resource(school_id=class_4a().school_id, name="Car de 50 places",
                        kind=ResourceKind.EQUIPMENT)
    db.session.add(resource)
    db.session.flush()
    return resource


def event_input(title="Sortie au musée", starts=datetime(2026, 3, 12, 9, 0),
                ends=datetime(2026, 3, 12, 12, 0), **options) -> events.EventInput:
    return events.EventInput(title=title, starts=starts, ends=ends, **options)


def save(author, agenda, data, event=None):
    """`events.save` as the portal runs it: in a write transaction, committed."""
    return write_transaction(lambda: events.save(author, agenda, data, event))


@pytest.fixture(scope="session")
def live_database(tmp_path_factory) -> str:
    """A database whose commits other threads see (the name steps the rollback fixture
    aside): the test database's name + `_agenda` on PostgreSQL, else a SQLite file."""
    from tests.conftest import fresh_database

    return fresh_database(tmp_path_factory, "agenda")


@pytest.fixture(scope="session")
def live_app(live_database, tmp_path_factory):
    from tests.conftest import live_demo_app

    return live_demo_app(tmp_path_factory, live_database, "agenda", users=50)
