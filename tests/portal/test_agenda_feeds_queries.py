"""The subscriptions page (« S'abonner à mes agendas ») lists a row per group whose agenda the
member reads, with its live link: it read each group's agenda and link one by one (two
statements a group). It now costs the same statements for two groups or twenty."""
from __future__ import annotations

from sqlalchemy import select

from agenda import access, feeds
from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group, GroupMember, School
from tests.portal.carnet_helpers import page
from tests.query_count import queries_of

from .rubriques_helpers import client_of

URL = "/agenda/abonnements"


def _claire() -> Account:
    return db.session.scalar(select(Account).where(Account.login == "claire.bernard"))


def _add_groups(app, first: int, count: int) -> None:
    """`count` groups of Claire's school with her in them; every other one with a link."""
    with app.app_context():
        claire = _claire()
        school = db.session.scalar(select(School).where(School.uai == "0310024H"))
        for n in range(first, first + count):
            group = Group(kind=GroupKind.GROUP, name=f"Atelier {n:02d}",
                          search_name=f"atelier {n:02d}", school_id=school.id)
            db.session.add(group)
            db.session.flush()
            db.session.add(GroupMember(group_id=group.id, account_id=claire.id))
            db.session.flush()
            if n % 2 == 0:
                feeds.create(claire, access.agenda_of_group(claire, group.id))
        db.session.commit()


def _rows(client) -> dict[str, str]:
    table = page(client.get(URL)).find_all("table")[0]
    return {row.find_all("th")[0].text: row.find_all("td")[0].text
            for row in table.find_all("tbody")[0].find_all("tr")}


def test_the_subscriptions_page_costs_the_same_statements_for_more_groups(app):
    claire = client_of(app, "claire.bernard")
    with app.app_context():
        feeds.create(_claire(), None)
        db.session.commit()
    _add_groups(app, 0, 2)
    small = queries_of(app, claire, URL)
    _add_groups(app, 2, 18)
    large = queries_of(app, claire, URL)

    rows = _rows(claire)
    assert rows["Mon agenda (tous mes agendas)"].startswith("actif depuis le ")
    assert rows["Atelier 00"].startswith("actif depuis le ")
    assert rows["Atelier 19"] == "aucun"
    assert rows["Atelier 18"].startswith("actif depuis le ")
    assert len([name for name in rows if name.startswith("Atelier")]) == 20
    assert large == small, (small, large)
