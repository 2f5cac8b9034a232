"""The organiser's answer counts cover the people of the answers table: the agenda's readers
but the event's author."""
from __future__ import annotations

from sqlalchemy import delete

from agenda import confirmations
from agenda.models import AnswerChannel, AnswerKind
from directory.db import db
from directory.models import GroupMember
from tests.agenda.conftest import class_4a, event_input, person, save


def test_counts_leave_out_the_author_and_people_who_left(claire, agenda_4a):
    event, _ = save(claire, agenda_4a, event_input(ask_confirmation=True))
    zoe, leaver = person("zoe.le-gall"), person("joseph.fabre")
    for account, kind in ((claire, AnswerKind.ACCEPTED), (zoe, AnswerKind.ACCEPTED),
                          (leaver, AnswerKind.REFUSED)):
        confirmations.answer(event, account, kind, channel=AnswerChannel.PAGE)
    db.session.execute(delete(GroupMember).where(GroupMember.group_id == class_4a().id,
                                                 GroupMember.account_id == zoe.id))
    db.session.flush()      # Zoé leaves 4A: she and her parent Joseph no longer read it
    rows, total = confirmations.table(event)
    listed = {row.account.id for row in confirmations.all_rows(event)}
    assert len(listed) == total and claire.id not in listed
    assert not {zoe.id, leaver.id} & listed
    counts = confirmations.counts(event)
    assert counts == {AnswerKind.ACCEPTED: 0, AnswerKind.REFUSED: 0, None: total}
    confirmations.answer(event, rows[0].account, AnswerKind.REFUSED,
                         channel=AnswerChannel.ORGANISER, recorded_by=claire)
    assert confirmations.counts(event) == {AnswerKind.ACCEPTED: 0, AnswerKind.REFUSED: 1,
                                           None: total - 1}
