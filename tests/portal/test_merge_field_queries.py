"""The forwards of a message to many are made out a batch at a time (mailgate/personalise.py
`for_batch`, as the outbound worker does): each recipient reads their own merge fields and
their own invitation, and the batch costs the same few queries for 3 copies as for 12."""
from __future__ import annotations

import uuid
from email import message_from_bytes, policy

from sqlalchemy import select

from directory.accounts import create_account
from directory.db import db
from directory.enums import Profile
from directory.models import Account, GroupMember, ParentLink
from mailgate import fanout, personalise, store
from mailgate.fanout_models import FanoutRecipient, RecipientState
from tests.query_count import counting
from tests.rubric_helpers import account, school_class

TEXT = ("Bonjour [[preau:prenom]] [[preau:nom]], classe [[preau:classe]], "
        "enfant [[preau:enfant]], à [[preau:etablissement]].")
INVITATION = ('BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n'
              'ATTENDEE;CN="[[preau:nom]]":mailto:[[preau:destinataire]]\r\n'
              'END:VEVENT\r\nEND:VCALENDAR\r\n')


def _person(profile: Profile, first_name: str, school, **links) -> Account:
    """An account of `school` (no password to hash: it never logs in)."""
    created = create_account(login=f"mf-{uuid.uuid4().hex[:12]}", first_name=first_name,
                             last_name="Fusion", profile=profile, password="",
                             password_hash="!", schools=[school])
    db.session.flush()
    for link in links.get("group", ()):
        db.session.add(GroupMember(group_id=link.id, account_id=created.id))
    for child in links.get("children", ()):
        db.session.add(ParentLink(parent_id=created.id, child_id=child.id))
    return created


def _parents(count: int) -> list[Account]:
    """Parents with a redirect address, each of a pupil of 4A of their own."""
    school = account("zoe.le-gall").schools[0]
    four_a = school_class("4A", school)
    people = []
    for n in range(count):
        child = _person(Profile.STUDENT, f"Enfant{n}", school, group=[four_a])
        parent = _person(Profile.PARENT, f"Parent{n}", school, children=[child])
        parent.redirect_address, parent.redirect_verified = f"parent{n}@example.org", True
        people.append(parent)
    db.session.commit()
    return people


def _made_out(app, message_id: int, data: bytes,
              people: list[tuple[int, str]]) -> tuple[int, dict[int, bytes]]:
    """What the worker does with a batch of forwards to `people` (account id, address):
    the statements it runs, and each copy."""
    db.session.expire_all()
    with counting(app) as statements:
        batch = personalise.for_batch({message_id: data}, [(message_id, p) for p, _ in people])
        copies = {account_id: personalise.forward_bytes(data, message_id, account_id, address,
                                                        jobs=batch)
                  for account_id, address in people}
    return len(statements), copies


def test_a_batch_of_forwards_reads_its_recipients_merge_fields_in_a_few_queries(ctx):
    people = _parents(12)
    author = account("claire.bernard")
    mail = fanout.message(author, subject="Réunion", text=TEXT, audience="Parents de 4A")
    job = fanout.submit(author, mail, select(Account.id).where(
                            Account.id.in_([p.id for p in people])),
                        origin=f"test:{uuid.uuid4().hex[:8]}", idempotency_key=uuid.uuid4().hex,
                        forward_invitation=INVITATION)
    db.session.commit()
    while fanout.run_batch():
        pass
    states = set(db.session.scalars(select(FanoutRecipient.state).where(
        FanoutRecipient.job_id == job.id)))
    assert states == {RecipientState.FORWARDED}
    data = store.messages_bytes([job.message_id])[job.message_id]
    expected = {p.id: (p.first_name, p.last_name, p.redirect_address) for p in people}
    batch = [(account_id, address) for account_id, (_, _, address) in expected.items()]

    few, _ = _made_out(ctx, job.message_id, data, batch[:3])
    many, copies = _made_out(ctx, job.message_id, data, batch)

    for account_id, copy in copies.items():
        first, last, address = expected[account_id]
        n = first.removeprefix("Parent")
        forward = message_from_bytes(copy, policy=policy.default)
        assert (f"Bonjour {first} {last}, classe 4A, enfant Enfant{n}, à Collège Jean Jaurès."
                in forward.get_body(("plain",)).get_content())
        [ics] = [part for part in forward.walk() if part.get_filename() == "invite.ics"]
        assert f'CN="{first} {last}":mailto:{address}' in ics.get_content().decode()
    assert many == few <= 12
