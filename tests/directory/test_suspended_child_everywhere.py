"""A child whose access ended ties their parent to nothing anywhere, not only in the rights
(tests/directory/test_rights_suspended_child.py): parent P, whose child C of class K left
(`end_ended_access`, memberships kept) and whose child D of class L stays, is no longer among
« parents des élèves de K » (a mailing's audience), no longer reads K's agenda nor receives
its notices, no longer reads a rubric set up for K's parents, no longer shows in the
Annuaire's « parents de cette classe », and {enfant} names D only. Everything through L and
D remains."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agenda import access as agenda_access
from directory import rubrics
from directory.accounts import end_ended_access
from directory.audience import Audience, recipients
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.merge_fields import values_of
from directory.models import Account, Group
from directory.rubric_models import Rubric, RubricPopulation
from directory.search import AccountFilters, search_query
from tests.directory.test_rights_suspended_child import _people


def _seen(app, ids: dict[str, int], rubric_ids: dict[str, int]) -> dict[str, object]:
    """What each place says of P, for class K and for class L."""
    with app.app_context():
        parent = db.session.get(Account, ids["P"])
        admin = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        k, l_ = (db.session.scalar(select(Group).where(Group.name == name))
                 for name in ("3Z-quitte", "6Z-reste"))
        agendas = {"K": agenda_access.ensure_agenda(k), "L": agenda_access.ensure_agenda(l_)}
        db.session.commit()
        now = utcnow()
        seen: dict[str, object] = {}
        for name, group in (("K", k), ("L", l_)):
            seen[f"audience {name}"] = ids["P"] in set(db.session.scalars(
                recipients(Audience(parents_of_group_ids=(group.id,)), now)))
            seen[f"audience profile {name}"] = ids["P"] in set(db.session.scalars(
                recipients(Audience(group_ids=(group.id,), profiles=(Profile.PARENT,)), now)))
            seen[f"agenda {name}"] = agenda_access.may_read(parent, agendas[name])
            seen[f"agenda ids {name}"] = agendas[name].id in \
                agenda_access.readable_agenda_ids(parent)
            seen[f"notice {name}"] = ids["P"] in set(db.session.scalars(
                agenda_access.readers(agendas[name])))
            rubric = db.session.get(Rubric, rubric_ids[name])
            seen[f"rubric {name}"] = rubrics.may_read(parent, rubric)
            seen[f"rubric readers {name}"] = ids["P"] in set(db.session.scalars(
                rubrics.readers(rubric.id)))
            seen[f"annuaire {name}"] = ids["P"] in {a.id for a in db.session.scalars(
                search_query(admin, AccountFilters(group_id=group.id,
                                                   profiles=(Profile.PARENT,),
                                                   parents_of_class=True)))}
        seen["enfant"] = values_of([ids["P"]])[ids["P"]]["enfant"]
        return seen


def _parents_rubrics(app) -> dict[str, int]:
    """A rubric of the school for the parents of K, one for the parents of L."""
    with app.app_context():
        made = {}
        for name in ("3Z-quitte", "6Z-reste"):
            group = db.session.scalar(select(Group).where(Group.name == name))
            rubric = Rubric(school_id=group.school_id, name=f"Parents {name}", description="")
            rubric.populations = [RubricPopulation(profile=Profile.PARENT, group_id=group.id)]
            db.session.add(rubric)
            db.session.flush()
            made[name[0] == "3" and "K" or "L"] = rubric.id
        db.session.commit()
        return made


def test_a_child_whose_access_ended_ties_the_parent_to_nothing_anywhere(app):
    ids = _people(app)
    rubric_ids = _parents_rubrics(app)
    before = _seen(app, ids, rubric_ids)
    assert before.pop("enfant") == "C, D"
    assert before == dict.fromkeys(before, True)

    with app.app_context():
        db.session.get(Account, ids["C"]).access_ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert end_ended_access() == 1
        assert db.session.get(Account, ids["C"]).suspended

    after = _seen(app, ids, rubric_ids)
    assert after.pop("enfant") == "D"
    assert after == {key: key.endswith(" L") for key in after}, after
