"""Stored times are naive UTC; pages show them in PREAU_TIMEZONE (Europe/Paris by default)."""
from __future__ import annotations

import pytest

from directory.db import db
from directory.errors import InvalidInput
from mailgate import routing
from portal import create_app

from .carnet_helpers import page
from .messagerie_helpers import account, item_id, message


def delivered_at_noon_utc(app) -> int:
    with app.app_context():
        mail = message("lucas.martin", ["zoe.le-gall"], "Midi UTC")
        mail.replace_header("Date", "Mon, 15 Jun 2026 12:00:00 +0000")
        routing.route(account("lucas.martin"), [account("zoe.le-gall").id], mail)
        db.session.commit()
    return item_id(app, "zoe.le-gall", "Midi UTC")


def shown_date(student, item: int) -> str:
    return page(student.get(f"/messagerie/message/{item}")).find(
        "dl", class_="mail-headers").find("time").text


def test_pages_show_times_in_paris_by_default(app, student):
    assert shown_date(student, delivered_at_noon_utc(app)) == "15/06/2026 14:00"


def test_pages_show_times_in_the_configured_zone(app, student, monkeypatch):
    item = delivered_at_noon_utc(app)
    monkeypatch.setitem(app.config["PREAU"], "TIMEZONE", "America/New_York")
    assert shown_date(student, item) == "15/06/2026 08:00"


def test_an_unknown_zone_stops_the_app_with_one_clear_message(tmp_path):
    with pytest.raises(InvalidInput, match="PREAU_TIMEZONE inconnu : « Europe/Pariss »"):
        create_app({"INSTANCE_PATH": str(tmp_path),
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'preau.db'}",
                    "PREAU": {"TIMEZONE": "Europe/Pariss"}})


def test_the_agenda_reads_and_writes_times_in_the_same_zone(app, monkeypatch):
    from datetime import datetime

    from agenda import times

    monkeypatch.setitem(app.config["PREAU"], "TIMEZONE", "America/New_York")
    with app.app_context():
        assert times.to_local(datetime(2026, 6, 15, 12)) == datetime(2026, 6, 15, 8)
        assert times.to_utc(datetime(2026, 6, 15, 8)) == datetime(2026, 6, 15, 12)
