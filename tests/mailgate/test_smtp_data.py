"""The gateway reads DATA in pieces, not line by line (mailgate/gateway.py): whatever the
client sends, and however its bytes are cut into TCP writes, the reply and the content must be
what aiosmtpd's own line-by-line reading gives. Both servers run side by side on loopback with
a small size limit; the client pipelines a NOOP behind the final dot, so the session must
stay usable after every reply, 552 and 500 included."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mailgate.gateway import PreauSMTP
from mailgate.settings import Settings

LIMIT = 2000
END = b"\r\n.\r\n"
SETTINGS = Settings(domain="ent.test", quota_bytes=1, max_message_bytes=LIMIT,
                    queue_lifetime=None, smarthost="capture:", smtp_listen="",
                    instance_path=None, hostname="mail.ent.test")


class Recorder:
    def __init__(self):
        self.contents: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.contents.append(envelope.original_content)
        return "250 OK"


class Server:
    def __init__(self, loop, make):
        self.recorder = Recorder()
        server = asyncio.run_coroutine_threadsafe(loop.create_server(
            lambda: make(self.recorder), "127.0.0.1", 0), loop).result(10)
        self.port = server.sockets[0].getsockname()[1]

    def exchange(self, stream: bytes, cuts: list[int] = (), pause: float = 0.0):
        """DATA with `stream` (written in pieces cut at `cuts`, NOOP pipelined behind it):
        the DATA reply's code, the NOOP's, and the content the handler got (None if none)."""
        before = len(self.recorder.contents)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            replies = client.makefile("rb")
            reply(replies)
            client.sendall(b"EHLO client.example.org\r\n")
            reply(replies)
            client.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@ent.test>\r\nDATA\r\n")
            assert [reply(replies) for _ in range(3)] == [250, 250, 354]
            stream += b"NOOP\r\n"
            edges = [0, *sorted(c % len(stream) for c in cuts), len(stream)]
            for start, end in zip(edges, edges[1:], strict=False):
                client.sendall(stream[start:end])
                time.sleep(pause)
            data, noop = reply(replies), reply(replies)
        contents = self.recorder.contents[before:]
        return data, noop, contents[0] if contents else None


def reply(replies) -> int:
    while (line := replies.readline())[3:4] == b"-":
        pass
    return int(line[:3])


@pytest.fixture(scope="module")
def servers():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield (Server(loop, lambda handler: SMTP(handler, hostname="x", data_size_limit=LIMIT,
                                             enable_SMTPUTF8=True, loop=loop)),
           Server(loop, lambda handler: PreauSMTP(handler, hostname="x", data_size_limit=LIMIT,
                                                  enable_SMTPUTF8=True, loop=loop,
                                                  settings=SETTINGS)))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


PIECES = st.sampled_from([b"a", b".", b"..", b"\r", b"\n", b" ", "é".encode(), b"x" * 120,
                          b"x" * 999, b"\x00", b"\xff"])
LINES = st.lists(st.lists(PIECES, max_size=6).map(b"".join), max_size=14)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.lists(st.integers(min_value=0, max_value=10**6), max_size=8))
@example([], [])
@example([b""], [])
@example([b"..", b".x", b"a.", b"..."], [])
@example([b"line\n.\nstill the same line"], [])
@example([b"x" * 999], [1, 2, 3, 500, 1000, 1001, 1002])
@example([b"x" * 1000], [])
@example([b"x" * 998] * 2 + [b"y"], [])            # exactly LIMIT bytes of content
@example([b"x" * 998] * 2 + [b"yz"], [])           # one byte over
@example([b"x" * 120] * 30 + [b"x" * 1500], [])    # too much, then too long
@example([b"x" * 1500] + [b"x" * 120] * 30, [])    # too long, then too much
def test_data_reading_agrees_with_aiosmtpd(servers, lines, cuts):
    stream = b"\r\n".join(lines) + END if lines else b".\r\n"
    assume(END not in b"\r\n" + stream[:-5])        # no early end
    base, ours = servers
    got, expected = ours.exchange(stream, cuts), base.exchange(stream, cuts)
    content = stream[:-3]
    if len(content) > LIMIT and any(len(line) > 999 for line in content.split(b"\r\n")):
        # Too much, and a line too long: aiosmtpd's choice between 552 and 500 depends on how
        # the bytes arrived; both refuse.
        assert {got[0], expected[0]} <= {500, 552} and got[1:] == expected[1:]
    else:
        assert got == expected


def test_content_of_exactly_the_limit_is_accepted_one_byte_more_is_552(servers):
    _, ours = servers
    exact = b"x" * 998 + b"\r\n" + b"y" * (LIMIT - 1002) + b"\r\n"
    assert len(exact) == LIMIT
    assert ours.exchange(exact + b".\r\n") == (250, 250, exact)
    assert ours.exchange(b"z" + exact + b".\r\n") == (552, 250, None)


def test_too_much_or_too_long_is_told_by_what_comes_first(servers):
    _, ours = servers
    short_lines = b"x\r\n" * 700
    assert ours.exchange(short_lines + b"y" * 1500 + END)[0] == 552
    assert ours.exchange(b"y" * 1500 + b"\r\n" + short_lines + b".\r\n")[0] == 500


def test_far_over_the_limit_is_552_and_the_session_goes_on(servers):
    _, ours = servers
    huge = (b"x" * 998 + b"\r\n") * 5000          # 5 MB against a 2,000-byte limit
    assert ours.exchange(huge + b".\r\n", cuts=range(0, len(huge), 65536)) == (552, 250, None)
    assert ours.exchange(b"after\r\n.\r\n") == (250, 250, b"after\r\n")


def test_dot_stuffed_lines_lose_their_first_dot(servers):
    _, ours = servers
    stream = b"..\r\n...x\r\n.a.\r\nb..\r\n" + END
    assert ours.exchange(stream) == (250, 250, b".\r\n..x\r\na.\r\nb..\r\n\r\n")


def test_bare_line_feeds_neither_end_a_line_nor_the_content(servers):
    base, ours = servers
    stream = b"one\n.\ntwo\r\n.\n" + END
    # ".\n" starts a line (after CRLF): its dot is a stuffed one
    assert ours.exchange(stream) == (250, 250, b"one\n.\ntwo\r\n\n\r\n")
    assert base.exchange(stream) == ours.exchange(stream)


def test_a_message_in_many_small_writes_is_read_whole(servers):
    """One byte per write around the final dot: the end arrives split at every position."""
    _, ours = servers
    body = b"Subject: morceaux\r\n\r\n" + b"ligne\r\n" * 50 + b".point\r\n"
    stream = body + b".\r\n"
    cuts = [*range(0, len(body) - 40, 37), *range(len(body) - 8, len(stream) + 6)]
    assert ours.exchange(stream, cuts, pause=0.002) == (
        250, 250, body.replace(b"\r\n.point", b"\r\npoint"))


def test_a_session_finds_the_same_commands_hooks_and_auth_methods_as_aiosmtpds():
    """PreauSMTP and Inbound list only these in dir(), which aiosmtpd reads per session."""
    from mailgate.inbound import Inbound

    loop = asyncio.new_event_loop()
    handler = Inbound.__new__(Inbound)
    base = SMTP(handler, hostname="x", loop=loop)
    ours = PreauSMTP(handler, hostname="x", loop=loop, settings=SETTINGS)
    assert ours._smtp_methods.keys() == base._smtp_methods.keys()
    assert ours._auth_methods.keys() == base._auth_methods.keys() == {"LOGIN", "PLAIN"}
    assert ours._handle_hooks.keys() == {"EHLO", "MAIL", "RCPT", "DATA", "exception"}
    assert ours._ehlo_hook_ver == "new"
    loop.close()


class CountingSMTP(PreauSMTP):
    """PreauSMTP counting the steps of its DATA reading (each piece read restarts the timer)."""

    steps = 0

    def _reset_timeout(self, *args, **kwargs):
        CountingSMTP.steps += 1
        return super()._reset_timeout(*args, **kwargs)


def test_a_content_of_short_lines_is_read_by_pieces_not_line_by_line(servers):
    """« x\\r\\n » 300,000 times (1.2 MB): read in pieces of 64 KiB, a few dozen steps of the
    event loop. The end's rest was read a few bytes at a time, one step per line: every other
    session of the gateway process waited 7 s (2 minutes for 20 MB)."""
    base, _ = servers
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        counting = Server(loop, lambda handler: CountingSMTP(
            handler, hostname="x", data_size_limit=4 * 1024 * 1024, enable_SMTPUTF8=True,
            loop=loop, settings=SETTINGS))
        content = b" x\r\n" * 300_000
        before = CountingSMTP.steps
        assert counting.exchange(content + b".\r\n", cuts=range(0, len(content), 65536)) == (
            250, 250, content)
        assert CountingSMTP.steps - before < 200
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_the_end_across_what_was_read_and_what_has_arrived_is_found_whatever_the_bytes():
    """gateway._end_across, for every last four bytes read and every 0 to 4 bytes arrived
    since, of CR, LF, « . » and another: the bytes of what has arrived that finish an end
    begun in what was read; else 0 when four have arrived (no end across), None when fewer
    have (read as they come). (The reader's own readuntil keeps four bytes unread past a piece, so
    in a session the end is always told at once; the comparison with aiosmtpd above covers
    the sessions.)"""
    from itertools import product

    from mailgate.gateway import _end_across

    alphabet = (b"\r", b"\n", b".", b"x")
    tails = [b"".join(t) for size in (2, 3, 4) for t in product(alphabet, repeat=size)]
    for tail in tails:      # two bytes: the CRLF a content starts after
        for length in range(5):
            for ahead in map(b"".join, product(alphabet, repeat=length)):
                joined = tail + ahead
                begins = [start for start in range(len(tail))
                          if joined.startswith(END, start)]
                expected = begins[0] + len(END) - len(tail) if begins else \
                    (0 if length == 4 else None)
                assert _end_across(tail, ahead) == expected, (tail, ahead, expected)
