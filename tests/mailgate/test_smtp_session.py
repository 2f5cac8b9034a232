"""The gateway's session (PreauSMTP) where it does what aiosmtpd does another way.
- Every connection's session is a copy of one template (`PreauSMTP.fresh`) instead of a new
  aiosmtpd session: the copy must hold what aiosmtpd's constructor would have made, with its own
  stream state and its own methods, and sessions served one after the other or at the same time
  must not share anything a conversation changes.
- The copies keep aiosmtpd's idle timeout: a client silent for the timeout is disconnected,
  one that keeps talking is not."""
from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import SMTP

from mailgate.gateway import PreauSMTP
from mailgate.settings import Settings

SETTINGS = Settings(domain="ent.test", quota_bytes=1, max_message_bytes=1 << 20,
                    queue_lifetime=None, smarthost="capture:", smtp_listen="",
                    instance_path=None, hostname="mail.ent.test")


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses


def made(handler, loop, tls=None, timeout: float = 300) -> PreauSMTP:
    return PreauSMTP(handler, settings=SETTINGS, data_size_limit=SETTINGS.max_message_bytes,
                     enable_SMTPUTF8=True, decode_data=False, hostname="mail.ent.test",
                     ident="Préau", tls_context=tls, timeout=timeout, loop=loop)


def shape(value, owner):
    """What a session attribute is, with the session it belongs to written `owner`: bound
    methods by function and whether bound to it, stream objects by type only."""
    if isinstance(value, types.MethodType):
        return ("method", value.__func__, "owner" if value.__self__ is owner else value.__self__)
    if isinstance(value, dict):
        return {key: shape(item, owner) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(shape(item, owner) for item in value)
    if isinstance(value, (asyncio.Future, asyncio.StreamReader)) or type(value).__name__ in {
            "ReferenceType"}:
        return ("stream state", type(value))
    return value


def test_a_copy_holds_what_the_constructor_makes_with_its_own_stream_and_methods():
    loop = asyncio.new_event_loop()
    try:
        handler = Handler()
        for tls in (None, ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)):
            template, constructed = made(handler, loop, tls), made(handler, loop, tls)
            copy = template.fresh()
            assert type(copy) is PreauSMTP
            assert copy.__dict__.keys() == constructed.__dict__.keys() | {
                "command_size_limits"}      # its own (see the test below)
            limits = copy.command_size_limits
            assert limits is not SMTP.command_size_limits and not limits
            assert limits["MAIL"] == 512
            for name, value in constructed.__dict__.items():
                assert shape(copy.__dict__[name], copy) == shape(value, constructed), name
            assert copy._smtp_methods["DATA"].__self__ is copy
            assert copy._client_connected_cb.__self__ is copy
            reader = copy._stream_reader
            assert reader is not template._stream_reader and reader._limit == 1001
            assert copy._closed is not template._closed
    finally:
        loop.close()


class Serving:
    """Sessions copied from one template (as the gateway makes them), on a loop in a thread.
    Everything the loop runs, the server's start and close included, runs on that thread: the
    test's own thread may hold another running loop (Playwright's, from a browser test earlier
    in the same worker), and asyncio refuses to run a second one there."""

    def __init__(self, handler=None, timeout: float = 300):
        self.loop = asyncio.new_event_loop()
        self.template = made(handler or Handler(), self.loop, timeout=timeout)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        try:
            self.server = asyncio.run_coroutine_threadsafe(
                self.loop.create_server(self.template.fresh, "127.0.0.1", 0),
                self.loop).result(10)
        except BaseException:
            self._stop()
            raise
        self.port = self.server.sockets[0].getsockname()[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        async def close():
            self.server.close()
            await self.server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        finally:
            self._stop()

    def _stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_sessions_copied_from_one_template_keep_their_conversations_apart():
    """Ten clients at once, then one after the other, each with its own HELO name and
    envelope, over a real socket."""
    seen: list[tuple[str, str, list[str]]] = []

    class Recording(Handler):
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.01)       # the other sessions move on meanwhile
            seen.append((session.host_name, envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    with Serving(Recording()) as serving:
        def client(n: int) -> None:
            with smtplib.SMTP("127.0.0.1", serving.port, local_hostname=f"client{n}.example",
                              timeout=10) as smtp:
                smtp.sendmail(f"from{n}@example.org", [f"to{n}@ent.test", f"cc{n}@ent.test"],
                              b"Subject: x\r\n\r\nhello\r\n")

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(client, range(10)))
        for n in range(10, 13):
            client(n)
        template = serving.template
    assert sorted(seen) == sorted((f"client{n}.example", f"from{n}@example.org",
                                   [f"to{n}@ent.test", f"cc{n}@ent.test"]) for n in range(13))
    assert template.session is None and template.envelope is None
    assert template.transport is None


def test_each_session_has_its_own_command_line_limits():
    """aiosmtpd keeps them in one table on its class, emptied by its constructor at every
    session: EHLO lengthens MAIL's by its extensions' parameters, and every command name
    asked about gets an entry. Copies have their own: after twenty EHLO sessions MAIL's limit
    is what one EHLO makes it, and long unknown commands leave the class's table alone."""
    names_before = dict(SMTP.command_size_limits)
    with Serving() as serving:
        for n in range(20):
            with smtplib.SMTP("127.0.0.1", serving.port, timeout=10) as smtp:
                smtp.ehlo("client.example.org")
                for k in range(3):
                    code, _ = smtp.docmd(f"XUNKNOWN{n}X{k}", "a" * 600)
                    assert code == 500
                sender = "a" * 540 + "@example.org"      # a line of 566 bytes
                code, reply = smtp.docmd(f"MAIL FROM:<{sender}>")
                assert (code, reply) == (500, b"Command line too long"), n
    assert dict(SMTP.command_size_limits) == names_before


def test_a_silent_client_is_disconnected_after_the_timeout():
    with Serving(timeout=0.4) as serving:
        started = time.monotonic()      # the server's timer cannot start before this
        with socket.create_connection(("127.0.0.1", serving.port)) as client:
            client.settimeout(5)
            assert client.recv(4096).startswith(b"220 ")
            while client.recv(4096):
                pass
            assert 0.38 <= time.monotonic() - started < 2


def test_a_client_that_keeps_talking_stays_then_is_disconnected_a_timeout_after_its_last_word():
    with Serving(timeout=1.0) as serving:
        with socket.create_connection(("127.0.0.1", serving.port)) as client:
            client.settimeout(5)
            reader = client.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            started = time.monotonic()
            while True:
                last_word = time.monotonic()
                client.sendall(b"NOOP\r\n")
                assert reader.readline().startswith(b"250 ")
                if last_word - started > 2.5:       # two and a half timeouts' worth
                    break
                time.sleep(0.1)
            while client.recv(4096):
                pass
            assert 0.95 <= time.monotonic() - last_word < 3


def test_a_reply_of_several_lines_is_written_at_once():
    """EHLO's reply (six lines, as the gateway answers) in one write: one system call and one
    packet, where aiosmtpd writes each line on its own. The replies after it are unchanged."""
    writes: list[bytes] = []

    class Recording(Handler):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            transport = server.transport       # asyncio's: every write the session makes
            write = transport.write
            transport.write = lambda data: (writes.append(bytes(data)), write(data))[1]
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

    with Serving(Recording()) as serving:
        with smtplib.SMTP("127.0.0.1", serving.port, timeout=10) as smtp:
            assert smtp.ehlo("client.example.org")[0] == 250
            assert all(smtp.has_extn(name) for name in ("size", "8bitmime", "smtputf8",
                                                        "pipelining"))
            assert smtp.noop()[0] == 250
            smtp.sendmail("zoe@example.org", ["camille@ent.test"], b"Subject: x\r\n\r\nhello\r\n")
    assert writes[0] == (b"250-mail.ent.test\r\n250-SIZE 1048576\r\n250-8BITMIME\r\n"
                         b"250-SMTPUTF8\r\n250-PIPELINING\r\n250 HELP\r\n")
    assert writes[1:] == [b"250 OK\r\n", b"250 OK\r\n", b"250 OK\r\n",
                          b"354 End data with <CR><LF>.<CR><LF>\r\n", b"250 OK\r\n",
                          b"221 Bye\r\n"]
