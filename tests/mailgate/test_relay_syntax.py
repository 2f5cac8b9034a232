"""What the worker writes to the relay without the standard library's help: the paths of MAIL
and RCPT (`smarthost.path_of`) are `smtplib.quoteaddr`'s for any address, and the content's
dot-stuffing (`smarthost.dot_stuffed`) doubles the dot that starts each line, as RFC 5321
says. A line starts at the beginning and after every line feed, a bare one too (why: the
docstring of `smarthost.dot_stuffed`)."""
from __future__ import annotations

import smtplib

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailgate.address_syntax import PLAIN_ADDRESS, is_plain
from mailgate.smarthost import Relay, dot_stuffed, path_of

from .test_sending import Relaying

ADDRESS_PIECES = st.sampled_from(["a", "Z", "0", ".", "@", "-", "+", "'", "=", "_", " ", "<",
                                  ">", '"', "(", ")", ",", ";", ":", "[", "]", "\\", "é",
                                  "\n", "\r", "\t", "ent.test", "Zoé Le Gall "])
CONTENT_PIECES = st.sampled_from([b"a", b".", b"..", b"\r", b"\n", b"\r\n", b" ", b"x" * 70,
                                  "é".encode()])


def stuffed_line_by_line(data: bytes) -> bytes:
    return b"\n".join(b"." + line if line.startswith(b".") else line
                      for line in data.split(b"\n"))


@settings(max_examples=500)
@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_is_written_as_smtplib_writes_it(address):
    assert is_plain(address)
    assert path_of(address) == smtplib.quoteaddr(address) == f"<{address}>"


@settings(max_examples=500)
@given(st.lists(ADDRESS_PIECES, max_size=12).map("".join))
@example("")
@example("Zoé <zoe@ent.test>")
@example('"zoe le gall"@ent.test')
@example("zoe@[127.0.0.1]")
@example("zoe@ent.test\n")
def test_any_other_address_is_written_as_smtplib_writes_it(address):
    assert path_of(address) == smtplib.quoteaddr(address)


@settings(max_examples=500)
@given(st.lists(CONTENT_PIECES, max_size=30).map(b"".join))
@example(b".")
@example(b".\r\n..\r\n")
@example(b"a\n.b\r\n.")
def test_every_dot_that_starts_a_line_is_doubled_and_nothing_else_changes(data):
    assert dot_stuffed(data) == stuffed_line_by_line(data)


def test_lines_starting_with_a_dot_reach_a_pipelining_relay_as_written():
    content = (b".Subject: un champ qui commence par un point\r\n\r\n.\r\n..\r\n"
               b"...trois\r\n.")
    with Relaying(pipelining=True) as relay:
        one = Relay(relay.url, None, "mail.ent.test")
        try:
            assert one.send("bounces+1@ent.test", "camille.o'neil@example.org", content).sent
        finally:
            one.close()
        assert relay.recipients() == ["camille.o'neil@example.org"]
        assert relay.contents == [content + b"\r\n"]
