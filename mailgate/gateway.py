"""`preau mailgate`: the SMTP server process(es).

One process runs an asyncio loop serving every session, a thread pool for database reads,
and its writer (mailgate/writer.py): its own committer thread (mailgate/committer.py) and
indexer thread (mailgate/indexer.py), which reads the parts of the messages just committed.
`--processes N` starts N such processes on the same port (SO_REUSEPORT: the kernel spreads
connections), which is how one machine uses more than one core; they hand their writes to one
shared writer process (mailgate/shared_writer.py), or with `--own-writers` each writes its
own. Durability: see mailgate/writer.py.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import re
import socket
import types

from aiosmtpd.smtp import MISSING, SMTP

from . import inbound, replies, store
from .address_syntax import PLAIN_ADDRESS
from .sender_auth import SenderAuthenticator
from .service import ServiceThread, until_stopped
from .settings import SenderAuth, Settings, from_app, tls_context
from .shared_writer import SharedWriter, secret_from_environment
from .writer import OwnWriter

log = logging.getLogger("preau.mailgate")


# `<local@domain>` in plain dot-atoms, then the command's parameters: nearly every MAIL FROM
# and RCPT TO. aiosmtpd parses addresses with the email package's header parser (and builds a
# class on each call), a tenth of the gateway's time under load; anything else still goes there.
_PLAIN_PATH = re.compile(rf"\s*<({PLAIN_ADDRESS})>[ \t]*([^(]*)", re.DOTALL)


# Bytes that are not UTF-8 (aiosmtpd keeps them as surrogates) and control characters: no
# address holds them, and the database could not even look one up (501, not a 451 from a
# failed query).
_UNREADABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

# DATA's end: a line holding only a dot. The content before it is read in pieces of up to
# _DATA_PIECE bytes (the reader's buffer stays below about twice that: asyncio pauses the
# socket beyond it).
_END = b"\r\n.\r\n"
_DATA_PIECE = 64 * 1024

# Seconds a session may stay silent: between commands (aiosmtpd's timer, reset at each
# command), and within DATA between two pieces of the content (`PreauSMTP._content`), so that
# a slow but steady upload of a whole message is not cut.
SESSION_TIMEOUT = 300
# The name in the greeting: ASCII, as every reply before the client asks for SMTPUTF8.
IDENT = "Preau"


class PreauSMTP(SMTP):
    """aiosmtpd with our wording for the replies it writes itself, and a quicker path for
    plain addresses."""

    _continued: tuple[bytes, ...] = ()    # the lines of a reply held by push(), see there

    def __init__(self, *args, settings: Settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_large = inbound.too_large_reply(settings)

    def __dir__(self):
        return inbound.hooks(type(self))       # see there

    def fresh(self) -> PreauSMTP:
        """A new session like this one, which must never have been connected: its settings
        and looked-up methods as they are, its own stream state, its methods bound to it.
        aiosmtpd's constructor looks up the session's and the handler's methods again for
        every session (inspect.getmembers, dir, a signature): 45–52 µs timed alone, against
        13 µs for this copy; with one session per message, as most senders send, the session's
        CPU went from 0.72–0.73 to 0.57–0.66 ms a message (bench/smtp_session.py).
        aiosmtpd keeps the line length allowed per command (MAIL's grows with EHLO's
        extensions) in one table on its class, which its constructor empties for each new
        session: each copy has a table of its own instead."""
        assert self.transport is None and self.session is None, "a connected session"
        session = object.__new__(type(self))
        session.__dict__.update(self.__dict__)
        session.command_size_limits = collections.defaultdict(_default_command_size)
        asyncio.StreamReaderProtocol.__init__(
            session, asyncio.StreamReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=session._cb_client_connected, loop=self.loop)
        session._smtp_methods = {command: _bound(method, self, session)
                                 for command, method in self._smtp_methods.items()}
        session._auth_methods = {name: found._replace(method=_bound(found.method, self, session))
                                 for name, found in self._auth_methods.items()}
        return session

    def _getaddr(self, arg: str):
        plain = _PLAIN_PATH.fullmatch(arg)
        if plain is not None:
            return plain[1], plain[2]
        try:
            address, rest = super()._getaddr(arg)
        except Exception:
            # The email package's parser crashes on some garbage ("<", "a@[", "a@[ " raise
            # IndexError, AttributeError, UnboundLocalError…): for the client that is a
            # syntax error (553), not a temporary failure.
            return None, None
        if address and _UNREADABLE.search(address):     # decoded from "=?…?=" words
            return None, None
        return address, rest

    async def smtp_MAIL(self, arg):
        if arg and _UNREADABLE.search(arg):
            return await self.push(replies.for_client(replies.BAD_ADDRESS, False))
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        if arg and _UNREADABLE.search(arg):
            return await self.push(replies.for_client(replies.BAD_ADDRESS, False))
        return await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        """aiosmtpd's DATA with the content read in pieces up to the final dot, not one line
        at a time (a turn of Python for every line of the message).
        Same replies, sent once the whole content is read: 552 past `data_size_limit`
        (nothing kept past it), 500 for a line longer than `line_length_limit`; dots
        unstuffed; lines end at CRLF only, as aiosmtpd reads them."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            return await self.push("503 Error: need RCPT command")
        if arg:
            return await self.push("501 Syntax: DATA")
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await self._content()
        except asyncio.CancelledError:          # the connection was lost during DATA
            self._writer.close()
            raise
        if isinstance(content, str):
            await self.push(content)
            self._set_post_data_state()
            return
        if self._decode_data:
            self.envelope.content = content.decode("utf-8", errors="surrogateescape")
        else:
            self.envelope.content = content
        self.envelope.original_content = content
        try:
            status = await self._call_handler_hook("DATA")
        finally:    # even on an error: the next MAIL must not join this envelope, its author
            self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _content(self) -> bytes | str:
        """The content up to the lone dot, unstuffed; or the refusal once it is all read."""
        reader, limit = self._reader, self.data_size_limit
        kept: list[bytes] | None = []      # None: refused, the rest is read and dropped
        size, refusal = 0, ""
        tail = b"\r\n"      # the last bytes read: the content starts at a line's start
        # StreamReader's limit is the longest command line (aiosmtpd sets it); within DATA it
        # only bounds one piece. readuntil raises LimitOverrunError past it, leaving the last
        # bytes (where the end could begin) unread.
        command_limit, reader._limit = reader._limit, _DATA_PIECE
        try:
            while True:
                started = _started_end(tail)
                if started:                 # the end may have begun in what was read
                    rest = _end_across(tail, bytes(reader._buffer[:len(_END) - 1]))
                    if rest is None:        # too few bytes arrived to tell: as they come
                        piece = await reader.readexactly(len(_END) - started)
                        done = piece == _END[started:]
                    else:       # its rest, or nothing (no end across): read on by pieces
                        piece = await reader.readexactly(rest) if rest else b""
                        done = bool(rest)
                        if not done:
                            tail = b""      # the end, if any, lies wholly ahead
                            continue
                else:
                    try:
                        piece = await reader.readuntil(_END)
                        done = True
                    except asyncio.LimitOverrunError as error:
                        piece = await reader.read(error.consumed)
                        done = False
                # Each piece read restarts the timer: the timeout is a silence, not a budget
                # for the whole DATA (a 20 MB message then needs no minimum speed beyond
                # 64 KiB per timeout). The last piece's restart leaves the DATA hook (the
                # sender check, the commit) a whole timeout too.
                self._reset_timeout()
                size += len(piece)
                tail = (tail + piece[-4:])[-4:]
                if kept is not None:
                    kept.append(piece)
                    if limit and size - 3 > limit:      # the final ".\r\n" is not content
                        refusal = self._refusal(b"".join(kept), too_much=True)
                        kept = None
                if done:
                    break
        except asyncio.IncompleteReadError as error:    # EOF: aiosmtpd closes the session
            raise ConnectionResetError("end of stream during DATA") from error
        finally:
            reader._limit = command_limit
        if kept is None:
            return refusal
        content = b"".join(kept)[:-3]
        refusal = self._refusal(content, too_much=False)
        if refusal:
            return refusal
        if content.startswith(b"."):
            content = content[1:]
        return content.replace(b"\r\n.", b"\r\n")

    def _refusal(self, content: bytes, *, too_much: bool) -> str:
        """500 for a line longer than `line_length_limit` (with its CRLF), 552 past the size
        limit: when both apply, whichever comes first in the content (a long line counts
        from its start, where aiosmtpd's reader gives up on it)."""
        longest = self.line_length_limit - 2
        if not too_much:
            if _has_long_line(content, longest):
                return "500 Line too long (see RFC5321 4.5.3.1.6)"
            return ""
        start = 0
        for line in content.split(b"\r\n"):
            if start > self.data_size_limit:
                break
            if len(line) > longest:
                return "500 Line too long (see RFC5321 4.5.3.1.6)"
            start += len(line) + 2
        return "552 Error: Too much mail data"

    async def push(self, status):
        """A reply's lines written together: aiosmtpd writes each line of EHLO's reply on its
        own, one system call and one packet each (six for the gateway's EHLO, which every
        mail server and mail program says). A continuation line (`250-…`) is held until its
        reply's last line, which always follows it without waiting for the client."""
        if isinstance(status, str) and status.startswith("552 Error"):
            status = replies.for_client(self.too_large, False)
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        if status[3:4] == b"-":
            self._continued = (*self._continued, status)
            return
        if self._continued:
            status, self._continued = b"\r\n".join((*self._continued, status)), ()
        await super().push(status)


def _has_long_line(content: bytes, longest: int) -> bool:
    """Whether a line of `content` (lines end at CRLF only) is longer than `longest`. Each
    step looks for the last CRLF within the next `longest` + 2 bytes, so a message of short
    lines is crossed in about size / `longest` steps, not one per line (splitting it into
    lines was 2 % of the gateway's Python under a burst)."""
    pos, size = 0, len(content)
    while size - pos > longest:
        end = content.rfind(b"\r\n", pos, pos + longest + 2)
        if end == -1:
            return True
        pos = end + 2
    return False


def _end_across(tail: bytes, ahead: bytes) -> int | None:
    """Whether the end (CRLF . CRLF) begins in `tail`, the last bytes read, and ends in
    `ahead`, what has arrived since and is not read yet: how many bytes of `ahead` finish it,
    0 when none could (the end then lies wholly in what is still to read), None when too few
    have arrived to tell. Looking ahead, rather than reading the end's rest byte by byte,
    keeps a content of short lines (« x\\r\\n » a million times) from taking one step of
    the event loop per line: 1.2 MB of them held every other session for 7 s."""
    across = tail[-(len(_END) - 1):] + ahead
    found = across.find(_END)
    if found != -1 and found < len(across) - len(ahead):
        return found + len(_END) - (len(across) - len(ahead))
    return 0 if len(ahead) >= len(_END) - 1 else None


def _started_end(tail: bytes) -> int:
    """How many bytes of the end (CRLF . CRLF) `tail` ends with, short of the whole."""
    return next((n for n in (4, 3, 2, 1) if tail.endswith(_END[:n])), 0)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _default_command_size() -> int:
    return SMTP.command_size_limit


def _bound(method, template: PreauSMTP, session: PreauSMTP):
    """`method` bound to `session` instead if it was the template's own, else as it is (the
    handler's)."""
    if getattr(method, "__self__", None) is template:
        return types.MethodType(method.__func__, session)
    return method


class Gateway:
    """The SMTP service of one process, on an already bound socket."""

    def __init__(self, app, sock: socket.socket, *, read_threads: int = 8,
                 shared_writer: str | None = None):
        """`shared_writer`: the socket of the writer process this one hands its writes to
        (mailgate/shared_writer.py); None, this process writes them itself."""
        store.remember_folders(app)
        self.settings = from_app(app)
        self.sock = sock
        self.reads = inbound.Reads(app, read_threads)
        self.writer = OwnWriter(app) if shared_writer is None \
            else SharedWriter(shared_writer, secret_from_environment())
        self.senders = None if self.settings.sender_auth == SenderAuth.OFF \
            else SenderAuthenticator(self.settings)
        self.handler = inbound.Inbound(self.settings, self.reads, self.writer, self.senders)
        self.tls = tls_context(self.settings)    # read once, not at every connection
        self.server: asyncio.AbstractServer | None = None

    def template(self, loop: asyncio.AbstractEventLoop) -> PreauSMTP:
        """The session every connection's is a fresh copy of (`PreauSMTP.fresh`), never
        connected itself. The loop given: aiosmtpd would otherwise look it up."""
        return PreauSMTP(self.handler, settings=self.settings,
                         data_size_limit=self.settings.max_message_bytes,
                         enable_SMTPUTF8=True, decode_data=False,
                         hostname=self.settings.hostname, ident=IDENT,
                         tls_context=self.tls, timeout=SESSION_TIMEOUT, loop=loop)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self.template(loop).fresh, sock=self.sock)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        self.writer.stop()
        self.reads.stop()
        if self.senders is not None:
            self.senders.stop()


def run(app, host: str, port: int, shared_writer: str | None = None) -> None:
    """One gateway process until SIGTERM or Ctrl-C."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    until_stopped(lambda: Gateway(app, listening_socket(host, port), shared_writer=shared_writer),
                  f"[mailgate] passerelle SMTP à l'écoute sur {where}")


class GatewayThread(ServiceThread):
    """The gateway on its own loop in a thread of this process (tests, `preau serve`)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0,
                 shared_writer: str | None = None):
        self.sock = listening_socket(host, port)
        self.port = self.sock.getsockname()[1]
        self.gateway = Gateway(app, self.sock, shared_writer=shared_writer)
        super().__init__(self.gateway, "preau-mailgate")
