"""The same form sent twice at once (a double click) on the pages that add people to a group —
« Ajouter » and « Ajouter la liste » in the address book and in an ad hoc group, the
confirmation of a vCard import — adds each person once, answers both requests without an
error, and each request counts only the people it really added.

The two requests really overlap, on a database whose commits both see: the first one is held
just before it writes, the second one writes the same rows and holds its transaction open a
moment, so that the first one's write meets rows not yet committed. Without
`insert_ignoring_duplicates`, PostgreSQL then refuses the first one's write (the unique key
of the member row or of the group's name): a 500. On SQLite the write lock already makes the
first request start again after the second; the tests check the same outcome there."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import event, select

from directory import groups
from directory.db import db
from directory.enums import GroupKind
from directory.models import Account, Group
from directory.search import AccountFilters, search_query
from tests.conftest import fresh_database, live_demo_app, login, post_form

from .carnet_helpers import DATA, create_group, flashes, groups_of, page, table_rows
from .test_vcard_import_export import confirm, upload

HOLD = 0.5      # seconds the second request keeps its rows uncommitted


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    return fresh_database(tmp_path_factory, "carnetraces")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    return live_demo_app(tmp_path_factory, live_database, "carnetraces", users=100)


def browser_twice(app, login_name: str):
    """One person's browser twice: one session, each click with its own answer."""
    first, second = app.test_client(), app.test_client()
    assert login(first, login_name).status_code == 302
    second.set_cookie("session", first.get_cookie("session").value)
    return first, second


@pytest.fixture
def claire(live_app):
    """Claire's browser twice (`browser_twice`), and her address book emptied afterwards."""
    yield browser_twice(live_app, "claire.bernard")
    with live_app.app_context():
        from portal.carnet.models import ContactGroup

        owner = db.session.scalar(select(Account.id).where(Account.login == "claire.bernard"))
        for group in db.session.scalars(select(ContactGroup).where(
                ContactGroup.owner_id == owner)):
            db.session.delete(group)
        db.session.commit()


def at_once(app, table: str, first: Callable[[], object], second: Callable[[], object], *,
            statement: str = "INSERT INTO", wait: float | None = None,
            second_first: bool = False):
    """Run `first` in this thread; just before its first `statement` on `table` (an INSERT
    unless told), run `second` in another thread, up to its own such statement, which it then
    keeps uncommitted for HOLD seconds while `first` goes on. `wait`: when a lock `first`
    holds may keep `second` waiting instead of writing, how long `first` gives it before going
    on (None: `second` must write within 30 s). `second_first`: `second` runs up to its
    statement before `first` starts at all (`first` need not write into `table`). Returns
    (first's result, second's result)."""
    this, results, second_wrote = threading.current_thread(), {}, threading.Event()
    held = []
    prefix = f"{statement} {table} ".upper()

    def matches(sql: str) -> bool:     # quoted or not, as each database writes it
        return sql.lstrip().upper().replace('"', "").startswith(prefix)

    def before(_conn, _cursor, sql, *_args) -> None:
        if threading.current_thread() is this and not held and matches(sql):
            held.append(sql)
            other.start()
            if wait is None:
                assert second_wrote.wait(30), "the second request never wrote"
            else:
                second_wrote.wait(wait)

    def after(_conn, _cursor, sql, *_args) -> None:
        if threading.current_thread() is other and matches(sql) and not second_wrote.is_set():
            second_wrote.set()
            time.sleep(HOLD)

    def run_second() -> None:
        try:
            results["second"] = second()
        finally:
            second_wrote.set()

    other = threading.Thread(target=run_second)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        if second_first:
            held.append("second first")
            other.start()
            assert second_wrote.wait(30), "the second request never wrote"
        results["first"] = first()
    finally:
        if held:        # before the hooks go: the second may still be running its statement
            other.join(60)
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert held, f"the first request never wrote into {table}"
    return results["first"], results["second"]


def _class_4a(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Group.id).where(Group.name == "4A",
                                                        Group.kind == GroupKind.CLASS))


def _pupils_of_4a(app) -> set[str]:
    with app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        return {a.address for a in db.session.scalars(search_query(
            claire, AccountFilters(group_id=_class_4a(app), profiles=["student"])))}


def _flash(client) -> str:
    return " ".join(flashes(page(client.get("/carnet/"))))


def test_the_whole_list_sent_twice_at_once_adds_each_person_once(live_app, claire):
    first, second = claire
    group_id = create_group(first, "4A")
    pupils = _pupils_of_4a(live_app)
    assert len(pupils) > 2

    def add_list(client):
        return lambda: post_form(client, f"/carnet/{group_id}/membres/ajouter-la-liste",
                                 {"groupe": _class_4a(live_app), "profil": "student"},
                                 page="/carnet/")

    answers = at_once(live_app, "contact_member", add_list(first), add_list(second))
    assert [a.status_code for a in answers] == [303, 303]
    assert groups_of(live_app, "claire.bernard") == {"4A": pupils}
    assert f"{len(pupils)} personne(s) ajoutée(s) au groupe." in _flash(second)
    assert "0 personne(s) ajoutée(s) au groupe." in _flash(first)


def test_a_group_created_twice_at_once_is_created_once(live_app, claire):
    first, second = claire

    def create(client):
        return lambda: post_form(client, "/carnet/groupes", {"name": "Délégués"},
                                 page="/carnet/")

    answers = at_once(live_app, "contact_group", create(first), create(second))
    assert [a.status_code for a in answers] == [400, 303]
    assert "Vous avez déjà un groupe « Délégués »." in page(answers[0]).text
    assert groups_of(live_app, "claire.bernard") == {"Délégués": set()}


def test_one_person_added_twice_at_once_is_added_once(live_app, claire):
    first, second = claire
    group_id = create_group(first, "Lucas")
    with live_app.app_context():
        lucas = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))

    def add(client):
        return lambda: post_form(client, f"/carnet/{group_id}/membres/ajouter",
                                 {"account": lucas}, page="/carnet/")

    answers = at_once(live_app, "contact_member", add(first), add(second))
    assert [a.status_code for a in answers] == [303, 303]
    assert groups_of(live_app, "claire.bernard") == {"Lucas": {"lucas.martin"}}
    assert "Lucas Martin est ajouté(e) au groupe." in _flash(second)
    assert "Lucas Martin fait déjà partie du groupe." in _flash(first)


def _recognised(preview) -> set[str]:
    """The universal addresses (local parts) of the people an import's preview recognised."""
    return {re.search(r"\((.+)@ent\.test\)", row[2]).group(1)
            for row in table_rows(page(preview), "import-recognised")}


def test_an_import_into_a_new_group_confirmed_twice_at_once_fills_one_group(live_app, claire):
    first, second = claire
    preview = upload(first, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="nouveau",
                     new_name="Famille")
    recognised = _recognised(preview)
    assert len(recognised) > 1
    answers = at_once(live_app, "contact_group", lambda: confirm(first, preview),
                      lambda: confirm(second, preview))
    assert [a.status_code for a in answers] == [303, 303]
    assert [a.headers["Location"] for a in answers] == ["/carnet/", "/carnet/"]
    assert groups_of(live_app, "claire.bernard") == {"Famille": recognised}
    assert f"Import terminé : Famille (+{len(recognised)})." in _flash(second)
    assert "Import terminé : Famille (+0)." in _flash(first)


def test_an_import_into_an_existing_group_confirmed_twice_at_once(live_app, claire):
    first, second = claire
    create_group(first, "Famille")
    preview = upload(first, (DATA / "thunderbird-4.0.vcf").read_bytes(), target="categories",
                     new_name="Famille")
    recognised = _recognised(preview)
    assert len(recognised) > 1
    answers = at_once(live_app, "contact_member", lambda: confirm(first, preview),
                      lambda: confirm(second, preview))
    assert [a.status_code for a in answers] == [303, 303]
    assert groups_of(live_app, "claire.bernard") == {"Famille": recognised}
    assert f"Import terminé : Famille (+{len(recognised)})." in _flash(second)
    assert "Import terminé : Famille (+0)." in _flash(first)


@pytest.fixture
def club(live_app):
    """An ad hoc group of Claire's, deleted afterwards."""
    with live_app.app_context():
        claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
        group = groups.create_group(claire, name="Club des courses", description="",
                                    school_id=claire.schools[0].id, persistent=False)
        db.session.commit()
        group_id = group.id
    yield group_id
    with live_app.app_context():
        groups.delete_group(db.session.get(Group, group_id))
        db.session.commit()


def _club_members(app, group_id: int) -> set[str]:
    from directory.models import GroupMember

    with app.app_context():
        return set(db.session.scalars(
            select(Account.address).join(GroupMember, GroupMember.account_id == Account.id)
            .where(GroupMember.group_id == group_id, GroupMember.is_manager.is_(False))))


def test_an_ad_hoc_groups_whole_list_sent_twice_at_once(live_app, claire, club):
    first, second = claire
    pupils = _pupils_of_4a(live_app)
    page_of_club = f"/groupes/{club}"

    def add_list(client):
        return lambda: post_form(client, f"/groupes/{club}/membres/ajouter-la-liste",
                                 {"groupe": _class_4a(live_app), "profil": "student"},
                                 page=page_of_club)

    # On PostgreSQL the group's row is locked before its members are counted (the
    # 1,000-member cap): the second request waits for the first's commit, then finds everyone
    # there. On SQLite the second writes first and the first, starting again, finds them.
    answers = at_once(live_app, "group_member", add_list(first), add_list(second), wait=1.0)
    assert [a.status_code for a in answers] == [303, 303]
    assert _club_members(live_app, club) == pupils
    told = {" ".join(flashes(page(client.get(page_of_club)))) for client in (first, second)}
    assert sorted("0 personne(s)" in words for words in told) == [False, True]
    assert any(f"{len(pupils)} personne(s) ajoutée(s) au groupe." in words for words in told)


def test_one_person_added_twice_at_once_to_an_ad_hoc_group(live_app, claire, club):
    first, second = claire
    page_of_club = f"/groupes/{club}"
    with live_app.app_context():
        lucas = db.session.scalar(select(Account.id).where(Account.login == "lucas.martin"))

    def add(client):
        return lambda: post_form(client, f"/groupes/{club}/membres/ajouter",
                                 {"account": lucas}, page=page_of_club)

    answers = at_once(live_app, "group_member", add(first), add(second), wait=1.0)
    assert [a.status_code for a in answers] == [303, 303]
    assert _club_members(live_app, club) == {"lucas.martin"}
    told = {" ".join(flashes(page(client.get(page_of_club)))) for client in (first, second)}
    assert sorted("est ajouté(e) au groupe" in words for words in told) == [False, True]
    assert any("Lucas Martin fait déjà partie du groupe." in words for words in told)
