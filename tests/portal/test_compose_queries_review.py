"""Group chips are resolved in a number of statements that does not grow with them (review
F3): opening a draft, the picker's « add » without JavaScript and a compose round trip cost
the same with 1 group chip as with 12 (classes, ad hoc groups, address-book groups), and the
chips, their members and the refusals are those of the chips resolved one by one."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind
from directory.errors import NotFound
from directory.models import Account, Group, GroupMember, School
from mailgate.models import FolderKind
from portal.carnet import book
from portal.messagerie import recipients
from tests.conftest import csrf_token
from tests.query_count import counting, queries_of

from .messagerie_helpers import account, compose_post, item_id

AD_HOC = 11
CONTACTS = 3


def _setup(app) -> tuple[list[str], list[str]]:
    """The tokens of Claire Bernard's group chips: 12 directory groups (4A, then 11 ad hoc
    groups of her school, she and a few of 4A in each), and 3 groups of her address book."""
    with app.app_context():
        claire = account("claire.bernard")
        four_a = db.session.scalar(select(Group).join(School).where(
            Group.name == "4A", School.uai == "0310024H"))
        pupils = db.session.scalars(
            select(GroupMember.account_id).where(GroupMember.group_id == four_a.id,
                                                 GroupMember.account_id != claire.id)
            .order_by(GroupMember.account_id)).all()
        tokens = [f"g:{four_a.id}"]
        for n in range(AD_HOC):
            group = Group(kind=GroupKind.AD_HOC, name=f"Zz atelier {n}",
                          search_name=f"zz atelier {n}", school_id=four_a.school_id)
            db.session.add(group)
            db.session.flush()
            db.session.add_all(GroupMember(group_id=group.id, account_id=i)
                               for i in [claire.id, *pupils[n % 3:n % 3 + 3]])
            tokens.append(f"g:{group.id}")
        contact_tokens = []
        for n in range(CONTACTS):
            contacts = book.create_group(claire, f"Zz carnet {n}")
            book.add_ids(contacts, select(Account.id).where(Account.id.in_(pupils[n:n + 2])))
            contact_tokens.append(f"c:{contacts.id}")
        db.session.commit()
        return tokens, contact_tokens


def _draft(app, client, tokens: list[str], subject: str) -> int:
    response = compose_post(client, {"action": "brouillon", "to": tokens[:6],
                                     "cc": tokens[6:], "subject": subject, "body": "Texte"})
    assert response.status_code == 303, response.get_data(as_text=True)
    return item_id(app, "claire.bernard", subject, FolderKind.DRAFTS)


def _post_statements(app, client, data: dict) -> tuple[int, int]:
    """(status, statements) of one compose POST; `brouillon` given as a subject: the draft
    of that subject, which the POST replaces."""
    token = csrf_token(client.get("/messagerie/ecrire").get_data(as_text=True))
    if "brouillon" in data:
        data = {**data, "brouillon": str(item_id(app, "claire.bernard", data["brouillon"],
                                                 FolderKind.DRAFTS))}
    with counting(app) as statements:
        response = client.post("/messagerie/ecrire", data={"csrf_token": token, "copy": "y",
                                                           "body": "Texte", **data})
    return response.status_code, len(statements)


@pytest.mark.parametrize("mixed", [False, True], ids=["directory", "with-carnet"])
def test_compose_costs_the_same_with_1_or_12_group_chips(app, teacher, mixed):
    """12 directory groups against 4A alone; with the address book, 9 directory groups and
    its 3 groups against 4A and one of them (each kind of group has its own query)."""
    groups, contacts = _setup(app)
    few, many = ([groups[0], contacts[0]], groups[:9] + contacts) if mixed else \
        (groups[:1], groups)
    assert len(many) == 12
    one = _draft(app, teacher, few, "Un groupe")
    twelve = _draft(app, teacher, many, "Douze groupes")

    opened = teacher.get(f"/messagerie/ecrire?brouillon={twelve}").get_data(as_text=True)
    assert all(f'value="{field}:{token}"' in opened for field, token in
               [*(("to", t) for t in many[:6]), *(("cc", t) for t in many[6:])])
    assert queries_of(app, teacher, f"/messagerie/ecrire?brouillon={one}") == \
        queries_of(app, teacher, f"/messagerie/ecrire?brouillon={twelve}")

    def adding(url: str, chosen: list[str]) -> str:
        return url + "&".join(f"ajout=to:{t}" for t in chosen)
    for url in ("/messagerie/destinataires?champ=to&", "/messagerie/ecrire?"):
        assert queries_of(app, teacher, adding(url, few)) == \
            queries_of(app, teacher, adding(url, many)), url

    # A round trip that shows the form again (a person typed in), and a draft saved again;
    # each twice, the second counted (the first warms what a process keeps).
    typed = {"action": "ajouter", "champ": "cc", "saisie": "zoe.le-gall@ent.test",
             "subject": "Saisie"}
    saved = {"action": "brouillon"}
    for data in (typed, saved):
        for _ in range(2):
            small = _post_statements(app, teacher, {
                "subject": "Un groupe", "brouillon": "Un groupe", **data, "to": few})
            large = _post_statements(app, teacher, {
                "subject": "Douze groupes", "brouillon": "Douze groupes", **data,
                "to": many[:6], "cc": many[6:]})
        assert small[0] == large[0] == (200 if data is typed else 303), (small, large)
        assert small[1] == large[1], (data, small, large)


def test_chips_resolved_together_are_those_resolved_one_by_one(app):
    groups, contacts = _setup(app)
    tokens = groups[:9] + contacts
    with app.app_context():
        claire = account("claire.bernard")
        elsewhere = School(uai="0319999Z", name="Collège Zz", city="Albi")
        db.session.add(elsewhere)
        db.session.flush()
        other_school = Group(kind=GroupKind.AD_HOC, name="Zz ailleurs",
                             search_name="zz ailleurs", school_id=elsewhere.id)
        db.session.add(other_school)
        db.session.flush()
        db.session.add(GroupMember(group_id=other_school.id,
                                   account_id=account("zoe.le-gall").id))
        zoe = account("zoe.le-gall")
        entries = [("cc" if n % 2 else "to", *token.split(":")) for n, token in
                   enumerate(tokens)]
        entries = [(field, kind, int(number)) for field, kind, number in entries]
        entries.insert(3, ("bcc", recipients.PERSON, zoe.id))
        entries.append(("to", recipients.GROUP, entries[0][2]))       # again: dropped

        together = recipients.resolve(claire, entries)

        one_by_one = []
        for field, kind, number in entries[:-1]:
            if kind == recipients.GROUP:
                one_by_one.append(recipients.directory_group_chip(claire, field, number))
            elif kind == recipients.CONTACTS:
                one_by_one.append(recipients.contact_group_chip(claire, field, number))
            else:
                one_by_one.append(recipients.Chip(field, kind, number, zoe.full_name,
                                                  (zoe.id,)))
        assert together == one_by_one
        assert all(chip.member_ids for chip in together)

        # Someone else's address-book group, a group that is no more, a group out of sight
        # (a pupil's: another school's): NotFound, or left out.
        others = book.create_group(zoe, "Zz de Zoé")
        db.session.flush()
        for missing in ([("to", recipients.CONTACTS, others.id)],
                        [("to", recipients.GROUP, 2_000_000_000)]):
            with pytest.raises(NotFound, match="Ce groupe n'existe pas."):
                recipients.resolve(claire, entries[:2] + missing + entries[2:])
            assert recipients.resolve(claire, entries[:2] + missing + entries[2:],
                                      drop_missing=True) == together
        four_a = entries[0]
        pupils = [four_a, ("cc", recipients.GROUP, other_school.id)]
        with pytest.raises(NotFound, match="Ce groupe n'existe pas."):
            recipients.resolve(zoe, pupils)
        assert recipients.resolve(zoe, pupils, drop_missing=True) == \
            [recipients.directory_group_chip(zoe, *four_a[::2])]
