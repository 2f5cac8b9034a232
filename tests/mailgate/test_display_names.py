"""A display name that contains an address, plain or RFC 2047 encoded, could be a member's
redirect address: it is replaced by the member's name (or dropped for someone who is not a
member) in the stored header, the list columns, the reading page and the forwarded copy."""
from __future__ import annotations

import base64
import uuid
from email import message_from_bytes, policy

from sqlalchemy import select

from directory.db import db
from mailgate import worker
from mailgate.models import MailboxItem
from tests.conftest import login
from tests.portal.carnet_helpers import page

from .conftest import account
from .helpers import inbox, mail, raw, stored_with_id

JOSEPH = "joseph@example.org"
CLAIRE_REDIRECT = "claire.bernard@example.net"
ZOE = "zoe.le-gall@ent.test"
CLAIRE = "claire.bernard@ent.test"


def encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def outlook_reply_all(subject: str) -> tuple[bytes, str]:
    """Joseph answers to all: his mail client wrote each address as its own name. Written as
    bytes, since the email package would decode the encoded word on its way out."""
    message_id = f"<{uuid.uuid4().hex}@example.org>"
    return (f"From: {JOSEPH}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f'To: "{CLAIRE_REDIRECT}" <{CLAIRE_REDIRECT}>,\r\n {encoded(JOSEPH)} <{ZOE}>\r\n'
            f'Cc: "Lucas (claire.bernard@example.net)" <lucas.parent@example.com>, '
            f'"Moi" <{JOSEPH}>\r\n\r\nBonjour à tous.\r\n').encode(), message_id


def test_names_that_hide_an_address_are_replaced_wherever_the_message_shows(smtp, sink,
                                                                             mail_app):
    data, message_id = outlook_reply_all("Sortie scolaire")
    assert smtp.sendmail(JOSEPH, [ZOE, CLAIRE], data) == {}
    stored = stored_with_id(message_id)
    assert stored in inbox(account("zoe.le-gall"))

    head = stored.source.split(b"\r\n\r\n", 1)[0].decode()
    stored_fields = message_from_bytes(stored.source, policy=policy.default)
    assert stored_fields["To"] == f"Claire Bernard <{CLAIRE}>, Zoé Le Gall <{ZOE}>"
    assert stored_fields["Cc"] == "lucas.parent@example.com, Moi <joseph.fabre@ent.test>"
    assert stored.to_display == f"Claire Bernard <{CLAIRE}>, Zoé Le Gall <{ZOE}>"
    assert stored.cc_display == "lucas.parent@example.com, Moi <joseph.fabre@ent.test>"
    for private in (CLAIRE_REDIRECT, JOSEPH, encoded(JOSEPH)):
        assert private not in head and private not in stored.to_display + stored.cc_display

    zoe = mail_app.test_client()
    login(zoe, "zoe.le-gall")
    item = db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == stored.id, MailboxItem.account_id == account("zoe.le-gall").id))
    shown = page(zoe.get(f"/messagerie/message/{item}")).find("dl", class_="mail-headers").text
    assert f"Claire Bernard <{CLAIRE}>" in shown and "lucas.parent@example.com" in shown
    assert CLAIRE_REDIRECT not in shown and JOSEPH not in shown

    worker.drain()
    (forward,) = sink.to(CLAIRE_REDIRECT)
    forwarded = message_from_bytes(forward.data, policy=policy.default)
    assert forwarded["To"] == f"Claire Bernard <{CLAIRE}>, Zoé Le Gall <{ZOE}>"
    forwarded_head = forward.data.split(b"\r\n\r\n", 1)[0].decode()
    assert CLAIRE_REDIRECT not in forwarded_head and JOSEPH not in forwarded_head


def test_ordinary_names_are_kept_as_written(smtp):
    message = mail(JOSEPH, f'"Zoé (ma fille)" <{ZOE}>', "Nom choisi")
    assert smtp.sendmail(JOSEPH, [ZOE], raw(message)) == {}
    stored = stored_with_id(message["Message-ID"])
    assert stored.to_display == f"Zoé (ma fille) <{ZOE}>"
    assert message_from_bytes(stored.source, policy=policy.default)["To"] == \
        f"\"Zoé (ma fille)\" <{ZOE}>"
