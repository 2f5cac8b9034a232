"""A child whose access ended (suspended by `end_ended_access`, memberships kept) ties their
parent to nothing: the class, reused by name at the next import, gets new pupils, and neither
they, their parents nor the child's former teachers may write to the family any more, nor it to
them — through the engine and through the web compose page. The parent's other, active child
still gives ties; reactivating the child (the administrator's page) gives them back."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from directory.accounts import create_account, end_ended_access
from directory.clock import utcnow
from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember, ParentLink
from directory.rights import writable
from tests.conftest import DEMO_PASSWORD, login, post_form
from tests.portal.annuaire_helpers import html, messages


def _people(app) -> dict[str, int]:
    """Parent P; her child C in class K (whose teacher is T) and her child D in class L; a new
    pupil N of K and N's parent Q; a pupil M of L. Committed; returns their ids by letter."""
    with app.app_context():
        schools = list(db.session.scalar(
            select(Account).where(Account.login == "zoe.le-gall")).schools)
        made = {letter: create_account(
            login=f"suspended-child-{letter.lower()}", first_name=letter,
            last_name=f"Famille{letter}", profile=profile, password=DEMO_PASSWORD,
            schools=schools)
            for letter, profile in (("P", Profile.PARENT), ("C", Profile.STUDENT),
                                    ("D", Profile.STUDENT), ("N", Profile.STUDENT),
                                    ("Q", Profile.PARENT), ("M", Profile.STUDENT),
                                    ("T", Profile.TEACHER))}
        k, l_ = (Group(kind=GroupKind.CLASS, name=name, search_name=name.lower(),
                       school_id=schools[0].id) for name in ("3Z-quitte", "6Z-reste"))
        db.session.add_all([k, l_])
        db.session.flush()
        for group, letters in ((k, "CNT"), (l_, "DM")):
            db.session.add_all(GroupMember(group_id=group.id, account_id=made[letter].id)
                               for letter in letters)
        db.session.add_all([ParentLink(parent_id=made["P"].id, child_id=made["C"].id),
                            ParentLink(parent_id=made["P"].id, child_id=made["D"].id),
                            ParentLink(parent_id=made["Q"].id, child_id=made["N"].id)])
        db.session.commit()
        return {letter: account.id for letter, account in made.items()}


def _allowed(app, ids: dict[str, int], sender: str, *recipients: str) -> dict[str, bool]:
    with app.app_context():
        verdicts = writable(db.session.get(Account, ids[sender]),
                            [ids[r] for r in recipients])
        return {r: verdicts[ids[r]].allowed for r in recipients}


def _compose_chip(client, person_id: int) -> tuple[list[str], list[str]]:
    """The compose page opened for one person (the Annuaire's envelope): its chips, its
    messages."""
    doc = html(client.get(f"/messagerie/ecrire?destinataire={person_id}"))
    return [b.attrs["value"] for b in doc.all("button", class_="chip")], messages(doc)


def test_a_child_whose_access_ended_ties_the_parent_to_nothing(app, admin):
    ids = _people(app)
    # Before: the family and the class are tied both ways.
    assert _allowed(app, ids, "P", "N", "Q", "T", "M") == \
        {"N": True, "Q": True, "T": True, "M": True}
    assert _allowed(app, ids, "N", "P") == {"P": True}
    assert _allowed(app, ids, "Q", "P") == {"P": True}

    with app.app_context():
        db.session.get(Account, ids["C"]).access_ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert end_ended_access() == 1
        assert db.session.get(Account, ids["C"]).suspended
        assert db.session.scalar(select(GroupMember.account_id).where(     # kept
            GroupMember.account_id == ids["C"]).limit(1)) == ids["C"]

    # C's class and groups: nobody of them any more, either way (T, a teacher, may still
    # write to everyone: the extended rule).
    assert _allowed(app, ids, "P", "N", "Q", "T", "C") == \
        {"N": False, "Q": False, "T": False, "C": False}
    assert _allowed(app, ids, "N", "P") == {"P": False}
    assert _allowed(app, ids, "Q", "P") == {"P": False}
    # D, active, still ties P to class L.
    assert _allowed(app, ids, "P", "D", "M") == {"D": True, "M": True}
    assert _allowed(app, ids, "M", "P") == {"P": True}

    # The web, as P: the envelope to N opens no chip and says why; to M it does.
    parent = app.test_client()
    assert login(parent, "suspended-child-p").status_code == 302
    chips, said = _compose_chip(parent, ids["N"])
    assert chips == []
    assert "N FamilleN n'est ni votre enfant ni dans la classe de vos enfants" in said, said
    assert _compose_chip(parent, ids["M"])[0] == [f"to:p:{ids['M']}"]
    pupil = app.test_client()
    assert login(pupil, "suspended-child-n").status_code == 302
    assert _compose_chip(pupil, ids["P"])[0] == []

    # The administrator reactivates C: the ties come back.
    page = f"/administration/comptes/{ids['C']}"
    assert post_form(admin, f"{page}/suspension", {"suspendre": "0"},
                     page=page).status_code in (302, 303)
    with app.app_context():
        assert not db.session.get(Account, ids["C"]).suspended
    assert _allowed(app, ids, "P", "N", "Q", "T", "C") == \
        {"N": True, "Q": True, "T": True, "C": True}
    assert _allowed(app, ids, "N", "P") == {"P": True}
    assert _allowed(app, ids, "Q", "P") == {"P": True}
    assert _compose_chip(parent, ids["N"])[0] == [f"to:p:{ids['N']}"]
    assert _compose_chip(pupil, ids["P"])[0] == [f"to:p:{ids['P']}"]


def test_a_parents_ties_are_read_in_one_statement_children_without_groups_included(app):
    """`sender_rule`'s ties in one statement (rights._ties_statement): the parent's groups,
    her active children — one in no group as well — and their groups; none without
    « Accès au service d'envoi »."""
    from directory.enums import Role
    from directory.models import RoleOverride
    from directory.rights import sender_rule
    from tests.query_count import counting

    ids = _people(app)
    with app.app_context():
        schools = list(db.session.get(Account, ids["P"]).schools)
        alone = create_account(login="suspended-child-alone", first_name="Seul",
                               last_name="FamilleP", profile=Profile.STUDENT,
                               password=DEMO_PASSWORD, schools=schools)
        db.session.flush()
        db.session.add(ParentLink(parent_id=ids["P"], child_id=alone.id))
        db.session.commit()
        classes = dict(db.session.execute(select(Group.name, Group.id).where(
            Group.name.in_(["3Z-quitte", "6Z-reste"]))).tuples().all())
        with counting(app) as statements:
            ties = sender_rule(db.session.get(Account, ids["P"])).ties
        assert len([s for s in statements if "parent_link" in s or "group_member" in s]) == 1
        assert ties.children == tuple(sorted((ids["C"], ids["D"], alone.id)))
        assert ties.child_classes == tuple(sorted(classes.values()))
        assert ties.own_groups == ()
        assert _allowed(app, {**ids, "S": alone.id}, "P", "S") == {"S": True}
        db.session.add(RoleOverride(account_id=ids["P"], role=Role.SEND, granted=False))
        db.session.commit()
        ties = sender_rule(db.session.get(Account, ids["P"])).ties
        assert (ties.children, ties.child_groups) == ((), ())
