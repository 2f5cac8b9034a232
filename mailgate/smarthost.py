"""Handing a finished message to the outbound relay named by PREAU_SMARTHOST.

- `smtp://[user:pass@]host[:port]` (port 25 by default): STARTTLS whenever the relay offers it
  (certificate verified), then AUTH when a user is given. With a user, STARTTLS is required:
  a relay that does not offer it (or someone on the path who removed it from the EHLO
  answer) never gets AUTH, which would carry the password in clear; the message waits and is
  tried again (`NO_STARTTLS`, logged), as when the relay cannot be reached. The user and
  password are ASCII (percent-encoded where the URL needs it): smtplib's AUTH sends nothing
  else, so any other stops every process at start (`parse_url`, from mailgate/settings.py);
- `smtps://[user:pass@]host[:port]` (465 by default): TLS from the first byte;
- `capture:` (the default) writes each message as an .eml file into <instance>/mail-out/, and
  `capture:DIR` into DIR, so that a new user sees what would have been sent, and to whom
  (Return-Path and Delivered-To fields on top, as a delivery agent adds them).

One `Relay` keeps its connection open across messages (mailgate/senders.py gives each sending
thread one, kept from batch to batch); it sends the bytes it is given (the worker has signed
them with DKIM already). A connection left unused for `IDLE_CHECK` seconds is checked with
RSET first, and a reused connection the relay has closed meanwhile (it fails at MAIL) is
opened again for the same message: only a fresh connection that fails makes the message wait
for a retry. A connection that fails once the message was written never does: the relay may
have queued it, and sending it again at once would deliver it twice (`DataSent`).
What only a 5xx to RCPT or to the data refuses for good is the message. A relay that refuses
the session with a 5xx (its greeting, STARTTLS, AUTH, or 530/535/538 for want of
authentication) would refuse every message alike until it or PREAU_SMARTHOST is mended, and
one that says nothing until the timeout (to the connection, or to a message's final dot)
would hold every message as long: the messages wait, the operator reads why in the log, and
the rest of the batch is not tried (`Outcome.relay_down`). A 4xx greeting (« 421 too many
connections ») or a reset refuses one connection, not the relay: that message waits alone
(`Outcome.no_session`), and the connections the relay did accept go on sending.
To a relay announcing PIPELINING (Postfix does), MAIL, RCPT and DATA go in one write
(`_submit`): one round trip before the message instead of three, which halved the worker's
CPU per forwarded message (bench/relay_cpu.py, 10 KB to smtp-sink: 252 → 129 µs). Its paths
and dot-stuffing are written without the standard library's regular expression and address
parser (`path_of`, `dot_stuffed`): 228–232 → 82–104 µs on PostgreSQL (docs/PERFORMANCE.md).
"""
from __future__ import annotations

import functools
import logging
import re
import smtplib
import socket
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
# The reply to the final dot: RFC 5321 4.5.3.2.6 asks 10 minutes, as Postfix's
# smtp_data_done_timeout, since a relay may scan a large attachment before it answers.
DATA_DONE_TIMEOUT = 600
# The longest one message holds its sending thread with a relay that is slow but working: its
# final answer up to DATA_DONE_TIMEOUT, the data's writing up to a TIMEOUT, and one TIMEOUT
# for all the exchanges before (connection, EHLO, TLS, AUTH, MAIL, RCPT, DATA: a relay that
# takes its time over a message answers these at once; one that lets any of them reach its
# timeout ends the message there). `preau serve` waits that long for the worker's messages in
# flight before it kills it (portal/processes.py `stop_grace`).
LONGEST_SEND = DATA_DONE_TIMEOUT + 2 * TIMEOUT
IDLE_CHECK = 5.0
# RFC 4954: authentication required (530), credentials refused (535), encryption required
# (538). The relay refuses the session, not the message, whatever command it answers.
SESSION_REFUSALS = frozenset({530, 535, 538})
NO_STARTTLS = ("le relais n'offre pas STARTTLS : l'identifiant et le mot de passe ne sont pas "
               "envoyés en clair")


@dataclass(frozen=True)
class Outcome:
    sent: bool
    permanent: bool = False     # a 5xx: do not try again
    error: str = ""             # the relay's answer, or why it could not be reached
    reached: bool = True        # False: the relay took no part in the message (unreachable,
                                # refusing the session, or silent once it was written)
    relay_down: bool = False    # a 5xx to the session, or no answer in time: the rest of the
                                # batch would fare alike
    no_session: bool = False    # this new connection had no session (a 4xx greeting, a
                                # reset): another connection may have one


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
        raise InvalidInput(f"PREAU_SMARTHOST invalide : « {_masked(smarthost)} » "
                           "(smtp://hôte:port, smtps://hôte:port, capture: ou capture:DOSSIER).")
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if not (user + password).isascii():
        # smtplib's AUTH (PLAIN, LOGIN, CRAM-MD5) encodes them in ASCII: every connection
        # would raise UnicodeEncodeError, and every message wait for ever
        raise InvalidInput(f"PREAU_SMARTHOST invalide : « {_masked(smarthost)} » : "
                           "l'identifiant et le mot de passe du relais ne peuvent contenir que "
                           "des caractères ASCII (ni accent ni autre lettre non latine), seuls "
                           "envoyés par l'authentification SMTP.")
    return Endpoint(parts.scheme, parts.hostname,
                    port or (465 if parts.scheme == "smtps" else 25), user, password)


def _masked(smarthost: str) -> str:
    """PREAU_SMARTHOST as a log or a terminal may show it: without the relay's password,
    however mistyped the rest."""
    return re.sub(r":[^@]*@", ":***@", smarthost)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Made once per process: loading the system's certificates costs milliseconds (it was
    the worker's first line in py-spy when every batch opened a connection)."""
    return ssl.create_default_context()


def _submit(connection: smtplib.SMTP, sender: str, recipient: str, data: bytes,
            options: list[str]) -> None:
    """`connection.sendmail` for one recipient. To a relay announcing PIPELINING (RFC 2920),
    MAIL, RCPT and DATA are written at once and their three answers read after, as Postfix's
    smtp client sends: one round trip before the message instead of three. Raises what
    sendmail raises, and `DataSent` for a failure once the message was being written; like
    sendmail, leaves the connection ready for the next message (RSET after a refusal)."""
    if connection.has_extn("size"):
        options = [*options, f"SIZE={len(data)}"]
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    extra = "".join(" " + option for option in options)
    mail = f"MAIL FROM:{path_of(sender)}{extra}\r\n".encode(encoding)
    rcpt = f"RCPT TO:{path_of(recipient)}\r\n".encode(encoding)
    pipelining = connection.has_extn("pipelining")
    if pipelining:
        connection.send(mail + rcpt + b"DATA\r\n")
    code, text = _answer(connection, None if pipelining else mail)
    if code != 250:
        _abandon(connection, 2 if pipelining else 0)
        raise smtplib.SMTPSenderRefused(code, text, sender)
    code, text = _answer(connection, None if pipelining else rcpt)
    if code not in (250, 251):
        _abandon(connection, 1 if pipelining else 0)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, text)})
    code, text = _answer(connection, None if pipelining else b"DATA\r\n")
    if code != 354:
        _abandon(connection, 0)
        raise smtplib.SMTPDataError(code, text)
    quoted = dot_stuffed(data)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    try:
        connection.send(quoted + b".\r\n")
        connection.sock.settimeout(DATA_DONE_TIMEOUT)
        code, text = connection.getreply()
        connection.sock.settimeout(connection.timeout)
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        raise DataSent(str(error)) from error
    if code != 250:
        raise smtplib.SMTPDataError(code, text)


def _answer(connection: smtplib.SMTP, command: bytes | None) -> tuple[int, bytes]:
    """The relay's answer to `command`, written first unless it went in a pipelined write."""
    if command is not None:
        connection.send(command)
    return connection.getreply()


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


class DataSent(Exception):
    """The connection failed, or the relay said nothing in time, once the message was being
    written: the relay may have queued it."""


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
        """Never raises: an exception here would end the round before it records what the
        other threads sent, and they would send it all again after the lease. A capture
        folder that cannot be written (full disk, removed, not writable) is a relay out of
        reach for every message alike (`relay_down`): they wait, nothing is lost. Anything
        else unforeseen makes this message wait alone, logged with its traceback."""
        if self.folder is not None:
            try:
                capture(envelope_fields(sender, recipient) + data, self.folder)
            except OSError as error:
                log.error("capture folder %s cannot be written (%s): the messages wait",
                          self.folder, error)
                return Outcome(False, False, f"dossier de capture inutilisable : {error}",
                               reached=False, relay_down=True)
            return Outcome(True)
        try:
            reused = self._usable_connection()
            outcome, again = self._transaction(sender, recipient, data)
            if reused and again:
                outcome, _ = self._transaction(sender, recipient, data)
        except Exception as error:
            log.exception("relay %s:%s: unexpected error sending a message: it waits for a "
                          "retry", self.endpoint.host, self.endpoint.port)
            self.close()
            outcome = Outcome(False, False, f"erreur inattendue à l'envoi : {error!r}",
                              reached=False)
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

    def _transaction(self, sender: str, recipient: str,
                     data: bytes) -> tuple[Outcome, bool]:
        """What became of the message, and whether it may be sent again at once on a new
        connection: only when the connection failed before the message was written."""
        try:
            connection = self._connect()
        except StartTLSMissing:
            log.warning("relay %s:%s offers no STARTTLS: its credentials are not sent, the "
                        "message waits", self.endpoint.host, self.endpoint.port)
            return Outcome(False, False, NO_STARTTLS, reached=False, relay_down=True), False
        except (smtplib.SMTPException, OSError) as error:
            return self._no_session(error), False
        try:
            options = ["BODY=8BITMIME"] if connection.has_extn("8bitmime") \
                and not data.isascii() else []
            if connection.has_extn("smtputf8") and not (sender + recipient).isascii():
                options.append("SMTPUTF8")
            _submit(connection, sender, recipient, data, options)
            return Outcome(True), False
        except DataSent as error:
            self.close()
            if _timed_out(error):
                # 200 ÷ 4 threads × 600 s: 8 hours a batch if each message waited its turn
                log.error("relay %s:%s said nothing in time after a message (%s): it and the "
                          "rest of the batch wait for a retry", self.endpoint.host,
                          self.endpoint.port, error)
                return Outcome(False, False, f"le relais ne répond plus après un message : "
                                             f"{error}", reached=False, relay_down=True), False
            log.warning("relay %s:%s: no answer once the message was written (%s): it waits "
                        "for a retry rather than going twice now", self.endpoint.host,
                        self.endpoint.port, error)
            return Outcome(False, False, f"pas de réponse du relais après le message : {error}",
                           reached=False), False
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return self._refused(code, text), False
        except smtplib.SMTPResponseException as error:
            return self._refused(error.smtp_code, error.smtp_error), False
        except UnicodeEncodeError:      # an address in Unicode, and a relay without SMTPUTF8
            self.close()
            return Outcome(False, True, "adresse internationalisée : le relais n'accepte pas "
                                        "SMTPUTF8"), False
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Outcome(False, False, f"relais injoignable : {error}", reached=False), True

    def _refused(self, code: int, text: bytes | str) -> Outcome:
        if code in (421, -1):
            self.close()
        if code in SESSION_REFUSALS:
            return self._no_session(smtplib.SMTPResponseException(code, text))
        return Outcome(False, 500 <= code < 600, f"{code} {_one_line(text)}")

    def _no_session(self, error: Exception) -> Outcome:
        """The relay could not be reached, or refused the session: nothing in the message is
        the cause, so it waits for a retry. The rest of the batch waits with it
        (`relay_down`) only when every connection would fare alike: a 5xx refusal, a
        certificate or a missing AUTH that only the relay's operator or PREAU_SMARTHOST can
        mend (logged as an error), no answer until the timeout, or a name that does not
        resolve. A 4xx (« 421 4.7.0 too many connections ») or a reset refuses this
        connection only (`no_session`): a relay allowing fewer connections than
        PREAU_SEND_THREADS had most of every batch deferred, each entry losing an attempt."""
        where = f"{self.endpoint.host}:{self.endpoint.port}"
        if isinstance(error, smtplib.SMTPResponseException):
            reason = f"{error.smtp_code} {_one_line(error.smtp_error)}"
            if error.smtp_code >= 500:
                log.error("relay %s refused the session (%s): the messages wait; check the "
                          "relay and PREAU_SMARTHOST's user and password", where, reason)
                return Outcome(False, False, reason, reached=False, relay_down=True)
            log.warning("relay %s refused a connection (%s): its message waits", where,
                        reason)
            return Outcome(False, False, reason, reached=False, no_session=True)
        reason = f"relais injoignable : {error}"
        if _timed_out(error) or isinstance(error, socket.gaierror):
            log.warning("relay %s unreachable (%s): the messages wait", where, error)
            return Outcome(False, False, reason, reached=False, relay_down=True)
        if isinstance(error, ssl.SSLCertVerificationError) \
                or not isinstance(error, smtplib.SMTPServerDisconnected | OSError):
            log.error("relay %s refused the session (%s): the messages wait; check the relay "
                      "and PREAU_SMARTHOST", where, error)   # no AUTH offered, for one
            return Outcome(False, False, reason, reached=False, relay_down=True)
        log.warning("relay %s lost a connection (%s): its message waits", where, error)
        return Outcome(False, False, reason, reached=False, no_session=True)

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
        try:
            connection.ehlo()
            if endpoint.scheme == "smtp" and connection.has_extn("starttls"):
                connection.starttls(context=tls_context())
                connection.ehlo()
            elif endpoint.scheme == "smtp" and endpoint.user:
                raise StartTLSMissing
            if endpoint.user:
                connection.login(endpoint.user, endpoint.password)
        except BaseException:
            connection.close()
            raise
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


def _timed_out(error: BaseException | None) -> bool:
    """Whether the relay said nothing in time: smtplib reports a read that timed out as a
    lost connection (`SMTPServerDisconnected`), the timeout only in its context."""
    while error is not None:
        if isinstance(error, TimeoutError):
            return True
        error = error.__cause__ or error.__context__
    return False


def _one_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return " ".join(text.split())
