"""Every connection's session is a copy of one template (`PreauSMTP.fresh`) instead of a new
aiosmtpd session: the copy must hold what aiosmtpd's constructor would have made, with its own
stream state and its own methods, and sessions served one after the other or at the same time
must not share anything a conversation changes."""
from __future__ import annotations

import asyncio
import smtplib
import ssl
import types
from concurrent.futures import ThreadPoolExecutor

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


def made(handler, loop, tls=None) -> PreauSMTP:
    return PreauSMTP(handler, settings=SETTINGS, data_size_limit=SETTINGS.max_message_bytes,
                     enable_SMTPUTF8=True, decode_data=False, hostname="mail.ent.test",
                     ident="Préau", tls_context=tls, timeout=300, loop=loop)


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
            assert copy.__dict__.keys() == constructed.__dict__.keys()
            for name, value in constructed.__dict__.items():
                assert shape(copy.__dict__[name], copy) == shape(value, constructed), name
            assert copy._smtp_methods["DATA"].__self__ is copy
            assert copy._client_connected_cb.__self__ is copy
            reader = copy._stream_reader
            assert reader is not template._stream_reader and reader._limit == 1001
            assert copy._closed is not template._closed
    finally:
        loop.close()


def test_sessions_copied_from_one_template_keep_their_conversations_apart():
    """Ten clients at once, then one after the other, each with its own HELO name and
    envelope, over a real socket."""
    loop = asyncio.new_event_loop()
    seen: list[tuple[str, str, list[str]]] = []

    class Recording(Handler):
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.01)       # the other sessions move on meanwhile
            seen.append((session.host_name, envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    handler = Recording()
    template = made(handler, loop)
    server = loop.run_until_complete(loop.create_server(template.fresh, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    ready = ThreadPoolExecutor(1).submit(loop.run_forever)

    def client(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname=f"client{n}.example",
                          timeout=10) as smtp:
            smtp.sendmail(f"from{n}@example.org", [f"to{n}@ent.test", f"cc{n}@ent.test"],
                          b"Subject: x\r\n\r\nhello\r\n")

    try:
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(client, range(10)))
        for n in range(10, 13):
            client(n)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        ready.result(10)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
    assert sorted(seen) == sorted((f"client{n}.example", f"from{n}@example.org",
                                   [f"to{n}@ent.test", f"cc{n}@ent.test"]) for n in range(13))
    assert template.session is None and template.envelope is None
    assert template.transport is None
