"""The demo region looks lived in: after `bring_to_life` (what `preau demo` runs), Zoé's inbox
has messages — some unread, one with its homework attachment —, Joseph's question has its
answer, the 4A agenda has its next events and the rubrics their articles; the groups have
readable French names."""
from __future__ import annotations

from sqlalchemy import func, select

from directory.db import db
from directory.enums import GroupKind
from directory.models import Group
from mailgate.models import FolderKind, MailMessage
from portal.demo_life import bring_to_life

from .messagerie_helpers import items
from .test_home import home, mail_section, unread


def test_a_newcomer_finds_a_working_portal(app):
    with app.app_context():
        summary = bring_to_life()
        db.session.commit()
    assert summary.startswith("33 messages, 3 évènements, 3 articles"), summary
    inbox = [subject for _, subject, _ in items(app, "zoe.le-gall", FolderKind.INBOX)]
    assert inbox[:3] == ["Casier à libérer", "Cahier de maths", "Ton exposé"]
    assert "Devoirs pour jeudi" in inbox and "Photo de classe mardi" in inbox
    assert [s for _, s, _ in items(app, "zoe.le-gall", FolderKind.SENT)] == \
        ["Re: Exposé d'histoire"]
    assert [s for _, s, _ in items(app, "claire.bernard", FolderKind.OUTBOX)][:2] == \
        ["Ton exposé", "Re: Question sur la sortie au musée"]
    with app.app_context():
        homework = db.session.scalar(select(MailMessage).where(
            MailMessage.subject == "Devoirs pour jeudi"))
        assert homework.has_attachments

    page, zoe = home(app, "zoe.le-gall")
    assert unread(mail_section(page)) >= 3
    events = page.one("section", aria_labelledby="next-events").text
    assert "Sortie au musée des Augustins — 4A" in events
    articles = page.one("section", aria_labelledby="latest-articles-title").text
    assert "Menu de la semaine" in articles and "Le programme de la sortie au musée" in articles


def test_demo_groups_have_readable_names(app):
    with app.app_context():
        names = db.session.scalars(select(Group.name).where(Group.kind == GroupKind.AD_HOC)
                                   .order_by(Group.id)).all()
        assert names and not any(name.startswith("Projet ") for name in names), names
        assert db.session.scalar(select(func.count(func.distinct(Group.name)))
                                 .where(Group.kind == GroupKind.AD_HOC)) > 3
