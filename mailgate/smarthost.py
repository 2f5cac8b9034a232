"""Handing a finished message to the outbound relay named by PREAU_SMARTHOST.

- `smtp://[user:pass@]host[:port]` (port 25 by default): STARTTLS whenever the relay offers it
  (certificate verified), then AUTH when a user is given. With a user, STARTTLS is required:
  a relay that does not offer it (or someone on the path who removed it from the EHLO
  answer) never gets AUTH, which would carry the password in clear; the message waits and is
  tried again (`NO_STARTTLS`, logged), as when the relay cannot be reached;
- `smtps://[user:pass@]host[:port]` (465 by default): TLS from the first byte;
- `capture:` (the default) writes each message as an .eml file into <instance>/mail-out/, and
  `capture:DIR` into DIR, so that a new user sees what would have been sent, and to whom
  (Return-Path and Delivered-To fields on top, as a delivery agent adds them).

One `Relay` keeps its connection open across messages (mailgate/senders.py gives each sending
thread one, kept from batch to batch); it sends the bytes it is given (the worker has signed
them with DKIM already). A connection left unused for `IDLE_CHECK` seconds is checked with
RSET first, and a reused connection the relay has closed meanwhile is opened again for the
same message: only a fresh connection that fails makes the message wait for a retry.
To a relay announcing PIPELINING (Postfix does), MAIL, RCPT and DATA go in one write
(`_pipelined`): one round trip before the message instead of three, which halved the worker's
CPU per forwarded message (bench/relay_cpu.py, 10 KB to smtp-sink: 252 → 129 µs). Its paths
and dot-stuffing are written without the standard library's regular expression and address
parser (`path_of`, `dot_stuffed`): 228–232 → 82–104 µs on PostgreSQL (docs/PERFORMANCE.md).
"""
from __future__ import annotations

import functools
import logging
import re
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from directory.clock import utcnow
from directory.errors import InvalidInput

from .address_syntax import is_plain

log = logging.getLogger("preau.worker")
TIMEOUT = 60
IDLE_CHECK = 5.0
NO_STARTTLS = ("le relais n'offre pas STARTTLS : l'identifiant et le mot de passe ne sont pas "
               "envoyés en clair")


@dataclass(frozen=True)
class Outcome:
    sent: bool
    permanent: bool = False     # a 5xx: do not try again
    error: str = ""             # the relay's answer, or why it could not be reached
    reached: bool = True        # False: no answer from the relay at all


def capture_folder(smarthost: str, instance_path: Path) -> Path | None:
    if not smarthost.startswith("capture:"):
        return None
    rest = smarthost.removeprefix("capture:")
    return Path(rest) if rest else instance_path / "mail-out"


def envelope_fields(sender: str, recipient: str) -> bytes:
    """What a delivery agent adds on top of a message it files (Postfix's local does the
    same): whom it was sent to and where bounces go. A captured .eml shows both, above any
    DKIM signature, which does not cover them."""
    return f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()


def capture(message: EmailMessage | bytes, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    target = folder / name
    partial = folder / (name + ".tmp")
    partial.write_bytes(message if isinstance(message, bytes) else bytes(message))
    partial.rename(target)
    return target


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    user: str
    password: str


def parse_url(smarthost: str) -> Endpoint:
    parts = urlsplit(smarthost)
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(scheme="")
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        # a log or a terminal must not show the relay's password, however mistyped the rest
        shown = re.sub(r":[^@]*@", ":***@", smarthost)
        raise InvalidInput(f"PREAU_SMARTHOST invalide : « {shown} » (smtp://hôte:port, "
                           "smtps://hôte:port, capture: ou capture:DOSSIER).")
    return Endpoint(parts.scheme, parts.hostname,
                    port or (465 if parts.scheme == "smtps" else 25),
                    unquote(parts.username or ""), unquote(parts.password or ""))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Made once per process: loading the system's certificates costs milliseconds (it was
    the worker's first line in py-spy when every batch opened a connection)."""
    return ssl.create_default_context()


def _pipelined(connection: smtplib.SMTP, sender: str, recipient: str, data: bytes,
               options: list[str]) -> None:
    """`connection.sendmail` for one recipient with MAIL, RCPT and DATA written at once and
    their three answers read after (PIPELINING, RFC 2920), as Postfix's smtp client sends:
    one round trip before the message instead of three. Raises what sendmail raises, and,
    like it, leaves the connection ready for the next message (RSET after a refusal)."""
    if connection.has_extn("size"):
        options = [*options, f"SIZE={len(data)}"]
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    extra = "".join(" " + option for option in options)
    connection.send((f"MAIL FROM:{path_of(sender)}{extra}\r\n"
                     f"RCPT TO:{path_of(recipient)}\r\nDATA\r\n").encode(encoding))
    mail = connection.getreply()
    if mail[0] != 250:
        _abandon(connection, 2)
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    rcpt = connection.getreply()
    if rcpt[0] not in (250, 251):
        _abandon(connection, 1)
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    code, text = connection.getreply()
    if code != 354:
        _abandon(connection, 0)
        raise smtplib.SMTPDataError(code, text)
    quoted = dot_stuffed(data)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    connection.send(quoted + b".\r\n")
    code, text = connection.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, text)


def path_of(address: str) -> str:
    """`smtplib.quoteaddr`: the address between angle brackets, read by the email package's
    parser (10 µs an address) unless it is a plain one, as the queue's nearly always are."""
    return f"<{address}>" if is_plain(address) else smtplib.quoteaddr(address)


def dot_stuffed(data: bytes) -> bytes:
    """The content as DATA sends it (RFC 5321 4.5.2): a dot doubled where it starts a line,
    at the start or after a line feed. After a bare line feed too: a relay that takes it for a
    line's end (Postfix does) would otherwise read that dot as a stuffed one, and a lone dot
    there as the end of the data. The same as `re.sub(rb"(?m)^\\.", b"..", data)`, which
    tries a match at every byte: 52 µs for 10 KB, a fifth of the worker's CPU for a forward;
    this takes 11 µs."""
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _abandon(connection: smtplib.SMTP, unread: int) -> None:
    """After a refused MAIL or RCPT: read the answers still due (a DATA a relay accepted
    anyway gets an empty message, which has no recipient), then RSET; a relay that hung up
    meanwhile is left to the caller's error handling."""
    try:
        for _ in range(unread):
            if connection.getreply()[0] == 354:
                connection.send(b".\r\n")
                connection.getreply()
        connection.rset()
    except (smtplib.SMTPException, OSError):
        pass


class StartTLSMissing(Exception):
    """An smtp:// relay given credentials did not offer STARTTLS."""


class Relay:
    """Send one message at a time to one recipient; never raises for a delivery problem.
    Not thread-safe: one Relay per sending thread."""

    def __init__(self, smarthost: str, instance_path: Path, hostname: str):
        self.folder = capture_folder(smarthost, instance_path)
        self.endpoint = None if self.folder else parse_url(smarthost)
        self.hostname = hostname
        self.connection: smtplib.SMTP | None = None
        self.last_used = 0.0

    def send(self, sender: str, recipient: str, data: bytes) -> Outcome:
        if self.folder is not None:
            capture(envelope_fields(sender, recipient) + data, self.folder)
            return Outcome(True)
        reused = self._usable_connection()
        outcome = self._transaction(sender, recipient, data)
        if reused and not outcome.reached:
            outcome = self._transaction(sender, recipient, data)
        self.last_used = time.monotonic()
        return outcome

    def _usable_connection(self) -> bool:
        """Whether an open connection will be reused: one left idle is checked with RSET
        (and dropped when the relay no longer answers)."""
        if self.connection is None:
            return False
        if time.monotonic() - self.last_used > IDLE_CHECK:
            try:
                if self.connection.rset()[0] == 250:
                    return True
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
            return False
        return True

    def _transaction(self, sender: str, recipient: str, data: bytes) -> Outcome:
        try:
            connection = self._connect()
            options = ["BODY=8BITMIME"] if connection.has_extn("8bitmime") \
                and not data.isascii() else []
            if connection.has_extn("smtputf8") and not (sender + recipient).isascii():
                options.append("SMTPUTF8")
            if connection.has_extn("pipelining"):
                _pipelined(connection, sender, recipient, data, options)
            else:
                connection.sendmail(sender, [recipient], data, mail_options=options)
            return Outcome(True)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return self._refused(code, text)
        except smtplib.SMTPResponseException as error:
            return self._refused(error.smtp_code, error.smtp_error)
        except StartTLSMissing:
            log.warning("relay %s:%s offers no STARTTLS: its credentials are not sent, the "
                        "message waits", self.endpoint.host, self.endpoint.port)
            return Outcome(False, False, NO_STARTTLS, reached=False)
        except UnicodeEncodeError:      # an address in Unicode, and a relay without SMTPUTF8
            self.close()
            return Outcome(False, True, "adresse internationalisée : le relais n'accepte pas "
                                        "SMTPUTF8")
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Outcome(False, False, f"relais injoignable : {error}", reached=False)

    def _refused(self, code: int, text: bytes | str) -> Outcome:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if code in (421, -1):
            self.close()
        return Outcome(False, 500 <= code < 600, f"{code} {' '.join(text.split())}")

    def _connect(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        endpoint = self.endpoint
        if endpoint.scheme == "smtps":
            connection = smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=TIMEOUT,
                                          local_hostname=self.hostname, context=tls_context())
        else:
            connection = smtplib.SMTP(endpoint.host, endpoint.port, timeout=TIMEOUT,
                                      local_hostname=self.hostname)
        connection.ehlo()
        if endpoint.scheme == "smtp" and connection.has_extn("starttls"):
            connection.starttls(context=tls_context())
            connection.ehlo()
        elif endpoint.scheme == "smtp" and endpoint.user:
            connection.close()
            raise StartTLSMissing
        if endpoint.user:
            connection.login(endpoint.user, endpoint.password)
        self.connection = connection
        return connection

    def close(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.quit()
        except (smtplib.SMTPException, OSError):
            self.connection.close()
        self.connection = None
