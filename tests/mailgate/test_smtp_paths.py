"""The gateway's quick reading of `<local@domain> PARAMS` in MAIL FROM and RCPT TO must give
exactly what aiosmtpd's own parser gives, whatever the client sends; where that parser
crashes, the client gets a syntax error, not a temporary failure."""
from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailgate.gateway import PreauSMTP
from mailgate.settings import Settings

PIECES = st.sampled_from(["<", ">", "@", ".", " ", "\t", "(", ")", '"', "a", "Z", "0", "-",
                          "+", "é", "[", "]", "\\", "SIZE=10", "BODY=8BITMIME", "ent.test"])


def sessions() -> tuple[SMTP, PreauSMTP]:
    loop = asyncio.new_event_loop()
    settings_ = Settings(domain="ent.test", quota_bytes=1, max_message_bytes=1,
                         queue_lifetime=None, smarthost="capture:", smtp_listen="",
                         instance_path=None, hostname="mail.ent.test")
    return (SMTP(object(), hostname="x", loop=loop),
            PreauSMTP(object(), hostname="x", loop=loop, settings=settings_))


BASE, OURS = sessions()


@settings(max_examples=3000, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join))
@example("<zoe.le-gall@ent.test> SIZE=10240 BODY=8BITMIME")
@example(" <bounces+12@ent.test>")
@example("<a..b@ent.test>")
@example("<a@ent.test> (comment) SIZE=1")
@example("<>")
@example("a@[ ")
@example("<")
def test_quick_address_reading_agrees_with_aiosmtpd(arg):
    try:
        expected = BASE._getaddr(arg)
    except Exception:                   # aiosmtpd's own parser crashes on some (see below)
        expected = (None, None)
    assert OURS._getaddr(arg) == expected


def test_plain_addresses_take_the_quick_path():
    assert OURS._getaddr("<zoe.le-gall@ent.test>  SIZE=10") == ("zoe.le-gall@ent.test",
                                                                "SIZE=10")


def test_a_lone_angle_bracket_is_a_syntax_error_not_a_temporary_failure(smtp):
    code, text = smtp.docmd("MAIL FROM:<")
    assert code == 553, text
    assert smtp.docmd("MAIL FROM:<joseph@example.org>")[0] == 250
    assert smtp.docmd("RCPT TO:<")[0] == 553
