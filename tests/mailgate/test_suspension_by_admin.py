"""An administrator's suspension, as the gateway sees it: mail to the account is refused
550 5.2.1 at RCPT; once reactivated, it is accepted again."""
from __future__ import annotations

from directory.account_admin import set_suspended
from directory.db import db
from directory.enums import Profile

from .conftest import account, address_of, new_account


def test_suspended_by_an_administrator_then_reactivated(smtp):
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    admin = account("admin")
    assert set_suspended(admin, [pupil], True) == []
    db.session.commit()
    smtp.mail("joseph@example.org")
    code, reply = smtp.rcpt(address_of(pupil))
    assert (code, reply.decode()[:5]) == (550, "5.2.1")
    smtp.rset()
    set_suspended(admin, [account(pupil.login)], False)
    db.session.commit()
    smtp.mail("joseph@example.org")
    assert smtp.rcpt(address_of(pupil))[0] == 250
