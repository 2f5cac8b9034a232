"""The recipient picker offers « Ajouter la liste » only for a list a message can hold
(MAX_RECIPIENTS): a directory group found by the search, or an address-book group opened,
with more people the writer may reach says why instead (it led to a refusal at sending)."""
from __future__ import annotations

from sqlalchemy import select

from directory.db import db
from directory.enums import GroupKind, Profile
from directory.models import Account, AccountSchool, Group, GroupMember
from mailgate.routing import MAX_RECIPIENTS
from portal.carnet.models import ContactGroup, ContactMember

from .carnet_helpers import page

TOO_MANY = f"Trop de personnes pour un message ({MAX_RECIPIENTS} au plus)."


def _pupils_of_claires_school() -> tuple[Account, list[int]]:
    claire = db.session.scalar(select(Account).where(Account.login == "claire.bernard"))
    pupils = db.session.scalars(
        select(Account.id).join(AccountSchool, AccountSchool.account_id == Account.id)
        .where(AccountSchool.school_id == claire.schools[0].id,
               Account.profile == Profile.STUDENT, Account.suspended.is_(False))).all()
    assert len(pupils) > MAX_RECIPIENTS
    return claire, pupils


def _offers(client, url: str) -> list[tuple[bool, str]]:
    """The picker page's offers of a whole list: (whether it is a chip to add, its text)."""
    listing = page(client.get(url))
    return [(bool(p.find_all("a", class_="add-chip")), p.text) for p in listing.find_all("p")
            if TOO_MANY in p.text or p.find_all("a", class_="add-chip")]


def _holding_every_pupil(group, member) -> int:
    """`group` (a new row) given every pupil of Claire's school, through `member(group id,
    account id)`; its id."""
    db.session.add(group)
    db.session.flush()
    db.session.add_all([member(group.id, i) for i in _pupils_of_claires_school()[1]])
    db.session.commit()
    return group.id


def test_a_searched_directory_group_too_big_for_a_message_is_not_offered(app, teacher):
    with app.app_context():
        claire = _pupils_of_claires_school()[0]
        group_id = _holding_every_pupil(
            Group(kind=GroupKind.AD_HOC, name="Zz grande chorale",
                  search_name="zz grande chorale", school_id=claire.schools[0].id),
            lambda group, account: GroupMember(group_id=group, account_id=account))
    offers = _offers(teacher, f"/messagerie/destinataires?groupe={group_id}")
    assert offers == [(False, TOO_MANY)], offers


def test_an_address_book_group_too_big_for_a_message_is_not_offered(app, teacher):
    with app.app_context():
        claire = _pupils_of_claires_school()[0]
        group_id = _holding_every_pupil(
            ContactGroup(owner_id=claire.id, name="Toute l'école", name_key="toute l'ecole"),
            lambda group, account: ContactMember(group_id=group, account_id=account))
    offers = _offers(teacher, f"/messagerie/destinataires?onglet=carnet&carnet={group_id}")
    assert offers == [(False, TOO_MANY)], offers
