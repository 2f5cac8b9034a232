"""Reading a message as received, and writing the form we store and forward.

The header block is handled line by line (fields kept byte for byte, so encoded words and
folding survive); the body is parsed by the standard library's `email` package only to find
the text and HTML parts and the attachments. Attachments are detached: their payload is
replaced by an empty one marked `X-Preau-Attachment: <position>`, and `rebuild()` puts the
content back from the store. A body the parser cannot make sense of (no boundary, boundary
never found) is kept exactly as received and shown as text (`malformed`: the reading page
says so); one nested deeper than MAX_NESTING levels (the email package recurses, and gives
up near a thousand) is `UnreadableMessage`, refused for good.

Two readings: `parse` reads everything (the web's messages, and the indexer:
mailgate/indexer.py); `headers_only`, on the SMTP gateway's hot path, splits the header block
and leaves the body as it came (`Parsed.complete` False: no text, no attachment yet). The
indexer parses it right after the commit. Only a message that might be nested too deep (more
multipart types than MAX_NESTING) is parsed whole at accept, to answer 554 before 250.

Every text taken from the message goes through `clean`: bytes that are not UTF-8 are read as
UTF-8 or replaced, and NULs are dropped, since PostgreSQL's text columns cannot hold them
(the stored source, bytes, keeps the message as it came).
"""
from __future__ import annotations

import base64
import email
import io
import quopri
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.errors import (
    HeaderParseError,
    MessageError,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html import escape, unescape

import nh3

from directory.clock import utcnow

MARKER = "X-Preau-Attachment"
# Put at the head of a malformed message's text until the reading page said it from the
# `malformed` flag, in the reader's language: what it takes off the messages stored so.
MALFORMED_NOTICE = ("[Préau] Ce message est mal formé : il est reproduit ci-dessous tel qu'il a "
                    "été reçu.\n\n")
_FATAL = (NoBoundaryInMultipartDefect, StartBoundaryNotFoundDefect,
          MultipartInvariantViolationDefect)
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
MAX_NESTING = 100       # multipart levels; real mail has a handful
# The header block the gateway takes (`header_too_large`): a few KB in real mail. The number
# of lines bounds what DKIM's parser (dkim.rfc822_parse adds a folded field's lines one by
# one, n² in copies) spends on one: under a second in the worst case.
MAX_HEADER_BYTES = 1024 * 1024
MAX_HEADER_LINES = 10_000
SENT_YEARS = range(1900, 9000)  # a Date field elsewhere is a broken clock: read as unreadable


class UnreadableMessage(Exception):
    """A message no reader could ever read: refused (554 5.6.0), never retried."""


@dataclass
class Field:
    name: str
    raw: bytes      # the whole field as written, lines ending in CRLF

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def value(self) -> str:
        """Unfolded and decoded (RFC 2047 encoded words, raw UTF-8 or Latin-1 bytes)."""
        return decode_words(unfold(self.raw.split(b":", 1)[1]))


@dataclass
class AttachmentData:
    position: int
    filename: str
    content_type: str
    content_id: str | None
    inline: bool
    data: bytes


@dataclass
class Parsed:
    fields: list[Field]
    body: bytes                                   # with attachments detached
    size: int
    text_body: str = ""
    html_body: str | None = None
    attachments: list[AttachmentData] = field(default_factory=list)
    malformed: bool = False
    top_marker: Field | None = None               # when the whole body was an attachment
    complete: bool = True                         # False: `headers_only`, body not read yet
    _addresses: dict[str, list[tuple[str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def get(self, name: str) -> str:
        name = name.lower()
        return next((f.value for f in self.fields if f.key == name), "")

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(name, address) pairs of the fields called `name`. Read once per field: routing and
        storing ask for To/Cc several times per message (the fields do not change once
        read)."""
        name = name.lower()
        found = self._addresses.get(name)
        if found is None:
            raw = [unfold(f.raw.split(b":", 1)[1]) for f in self.fields if f.key == name]
            found = self._addresses[name] = [
                (decode_name(n), a) for n, a in getaddresses(raw) if a]
        return list(found)

    @property
    def subject(self) -> str:
        return self.get("subject").strip()

    @property
    def message_id(self) -> str:
        return self.get("message-id").strip()

    @property
    def sent_at(self) -> datetime:
        """The Date field in naive UTC; the time of reading (storage) when it cannot be read
        or is not a date mail is ever sent on: outside SENT_YEARS. Such a date (the end of
        year 9999) overflowed, turned into UTC (a 451 at the gateway, for days) or into the
        readers' time (a 500 on reading, replying, forwarding)."""
        try:
            when = parsedate_to_datetime(self.get("date"))
            if when.tzinfo is not None:
                when = when.astimezone(UTC).replace(tzinfo=None)
        except (TypeError, ValueError, IndexError, OverflowError):
            return utcnow()
        return when if when.year in SENT_YEARS else utcnow()


def unfold(value: bytes) -> str:
    value = _FOLD.sub(b"", value).strip()
    try:
        return clean(value.decode("utf-8"))
    except UnicodeDecodeError:
        return clean(value.decode("latin-1"))


def decode_words(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        return clean(str(make_header(decode_header(value))))
    except (LookupError, ValueError, UnicodeError, HeaderParseError):
        return value


def decode_name(value: str) -> str:
    """A display name decoded, on one line: an encoded word may decode to a line break, which
    a header we write must never hold (mailgate/headers.py)."""
    return one_line(decode_words(value)) if "=?" in value else value


def one_line(text: str) -> str:
    """`text` on one line, its runs of white space as one space: fit for a header we write
    (a subject: the email package refuses one holding a line break — CR, LF, or U+2028
    pasted from a document, a newline a received subject decoded to; a display name) and for
    an SMTP reply."""
    return " ".join(text.split())


def clean(text: str) -> str:
    """Text any database column can hold: raw bytes the email package kept as surrogates
    read as UTF-8 (or replaced), NULs dropped."""
    if text.isascii() and "\x00" not in text:
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    return data.decode("utf-8", "replace").replace("\x00", "")


def split(raw: bytes) -> tuple[list[Field], bytes]:
    """The header fields and the body. Lines that are not fields end the header block.
    A field's lines are gathered and joined once it ends: added one by one to its bytes, a
    field folded into n lines cost n² (a million lines of " x": hours of copying)."""
    fields: list[Field] = []
    folded: list[bytes] = []        # the last field's continuation lines, joined when it ends
    position = 0
    length = len(raw)
    if raw.startswith(b"From "):                  # an mbox separator line
        position = raw.find(b"\n") + 1 or length
    body = b""
    while position < length:
        end = raw.find(b"\n", position)
        end = length if end < 0 else end + 1
        line = raw[position:end]
        if line in (b"\r\n", b"\n"):
            body = raw[end:]
            break
        content = line.rstrip(b"\r\n")
        if b"\r" in content:   # a lone CR: the email package starts a new field there
            content = content.replace(b"\r", b" ")
        if line[:1] in (b" ", b"\t") and fields:
            folded.append(content + b"\r\n")
            position = end
            continue
        if folded:
            _add_folded(fields, folded)
        if b":" in line and _is_field_name(line.split(b":", 1)[0]):
            name = line.split(b":", 1)[0].decode("ascii")
            fields.append(Field(name, content + b"\r\n"))
        else:
            body = raw[position:]
            break
        position = end
    if folded:
        _add_folded(fields, folded)
    return fields, body


def _add_folded(fields: list[Field], folded: list[bytes]) -> None:
    """The last field's continuation lines added to it at once, and forgotten."""
    fields[-1].raw = b"".join([fields[-1].raw, *folded])
    folded.clear()


def header_too_large(raw: bytes) -> bool:
    """Whether the header block passes MAX_HEADER_BYTES or MAX_HEADER_LINES, read on the
    gateway's hot path: the blank line ending it is looked for within MAX_HEADER_BYTES only,
    and the lines before it counted (microseconds for an ordinary header); nothing parsed. A
    message without a blank line is all header for this bound."""
    if raw.startswith((b"\r\n", b"\n")):
        return False
    end = raw.find(b"\n\r\n", 0, MAX_HEADER_BYTES)
    bare = raw.find(b"\n\n", 0, MAX_HEADER_BYTES if end < 0 else end)
    if bare >= 0:
        end = bare
    elif end < 0:
        if len(raw) > MAX_HEADER_BYTES:
            return True
        end = len(raw)
    return raw.count(b"\n", 0, end + 1) > MAX_HEADER_LINES


def _is_field_name(name: bytes) -> bool:
    return bool(name) and all(33 <= c <= 126 for c in name)


def headers_only(raw: bytes) -> Parsed:
    """The header fields, the body untouched: what the gateway needs before its 250. A body
    with more multipart types than MAX_NESTING could be too deep to read: parsed whole here,
    so that it is refused (UnreadableMessage) rather than accepted and never readable."""
    if raw.lower().count(b"multipart/") > MAX_NESTING:     # ~20 µs for 10 KB
        return parse(raw)
    fields, body = split(raw)
    return Parsed(fields=fields, body=body, size=len(raw), complete=False)


def parse(raw: bytes) -> Parsed:
    fields, body = split(raw)
    parsed = Parsed(fields=fields, body=body, size=len(raw))
    content = [f for f in fields if f.key.startswith("content-") or f.key == "mime-version"]
    try:
        message = email.message_from_bytes(b"".join(f.raw for f in content) + b"\r\n" + body,
                                           policy=policy.compat32)
        if _nesting(message) > MAX_NESTING:
            raise UnreadableMessage(f"more than {MAX_NESTING} nested MIME parts")
        if _fatal_defects(message):
            raise ValueError("malformed MIME structure")
        _read_parts(parsed, message)
    except RecursionError:
        raise UnreadableMessage("MIME structure too deep for the parser") from None
    except (ValueError, LookupError, TypeError, AttributeError, IndexError,
            MessageError):      # a part header the email package cannot take
        parsed.malformed = True
        parsed.attachments = []
        parsed.html_body = None
        parsed.text_body = clean(body.decode("utf-8", errors="replace"))
        parsed.body = body
    return parsed


# What `parse_plain` reads itself; any other charset or encoding goes to `parse`.
_PLAIN_CHARSETS = frozenset({"us-ascii", "ascii", "utf-8", "utf8", "iso-8859-1", "latin-1",
                             "latin1", "iso-8859-15", "windows-1252", "cp1252"})
_PLAIN_ENCODINGS = frozenset({"", "7bit", "8bit", "binary", "quoted-printable"})
_PLAIN_PARAM = re.compile(r"\s*([A-Za-z0-9!#$%&'+.^_`{|}~-]+)\s*=\s*"
                          r"(\"?)([A-Za-z0-9!#$%&'+.^_`{|}~-]+)\2\s*", re.ASCII)


def parse_plain(raw: bytes) -> Parsed | None:
    """What `parse` returns, for the common message — one text/plain part (or no
    Content-Type), in a charset of _PLAIN_CHARSETS, 7bit, 8bit or quoted-printable, not an
    attachment — read without building the email package's tree (10 KB: 30 µs instead of
    110 µs, bench/indexer.py); None for any other message, which `parse` reads.

    Whatever is not plainly such a message (RFC 2231 or quoted parameters with escapes, a
    name, a disposition other than inline, non-ASCII bytes or a stray CR in a Content-*
    field) is left to `parse`, so the two can only agree: the header values are taken as the
    email package's compat32 policy takes them (the first field of a name, unfolded as
    written, the transfer encoding compared without stripping)."""
    fields, body = split(raw)
    found: dict[str, str] = {}
    for f in fields:
        if not (f.key.startswith("content-") or f.key == "mime-version"):
            continue
        if not f.raw.isascii() or b"\r" in f.raw.replace(b"\r\n", b""):
            return None     # (the email package breaks a line at a lone CR)
        found.setdefault(f.key, f.raw.split(b":", 1)[1].decode("ascii")
                         .lstrip(" \t").rstrip("\r\n"))
    if found.get("content-transfer-encoding", "").lower() not in _PLAIN_ENCODINGS:
        return None
    if "content-disposition" in found and \
            found["content-disposition"].strip().lower() != "inline":
        return None
    charset = "utf-8"
    if "content-type" in found:
        ctype, *params = found["content-type"].split(";")
        if ctype.strip().lower() != "text/plain":
            return None
        named = {}
        for param in params:
            match = _PLAIN_PARAM.fullmatch(param)
            if match is None:
                return None
            named.setdefault(match[1].lower(), match[3])
        if "name" in named:
            return None
        charset = named.get("charset", charset).lower()
        if charset not in _PLAIN_CHARSETS:
            return None
    data = body
    if found.get("content-transfer-encoding", "").lower() == "quoted-printable":
        data = quopri.decodestring(body)
    return Parsed(fields=fields, body=body, size=len(raw),
                  text_body=clean(data.decode(charset, errors="replace")))


def body_text(text_body: str, html_body: str | None) -> str:
    """A message's text as text (what a reply quotes, what the search reads): its text parts,
    or its HTML with its tags dropped when they do not say the HTML's words — an HTML-only
    message, or one whose only text parts are shown beside the HTML (a list's footer after
    an HTML message: the footer alone was quoted and searched), the HTML's text then holding
    them too. nh3 writes HTML back (« & » as « &amp; », a non-breaking space as
    « &nbsp; »): its entities are turned back into characters."""
    if not html_body or text_body.strip() and not _shown_beside(text_body, html_body):
        return text_body
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</h\d>|</?pre\b[^>]*>|</html>", "\n",
                  html_body)
    plain = unescape(nh3.clean(text, tags=set()))
    return "\n".join(line.strip() for line in plain.splitlines())


# A text part `_read_parts` shows beside the HTML (escaped: no « < » inside).
_SHOWN_TEXT = re.compile(r"<pre>([^<]*)</pre>")


def _shown_beside(text_body: str, html_body: str) -> bool:
    """Whether the text parts (`text_body`, joined by blank lines) are all shown beside the
    HTML, in order, as `_read_parts` writes them: none of them is the HTML's alternative.
    A <pre> of the HTML's own that is not one of them is passed over."""
    at = 0                          # where the next text part starts in text_body
    for shown in _SHOWN_TEXT.finditer(html_body):
        text = unescape(shown[1])
        if not text_body.startswith(text, at):
            continue
        end = at + len(text)
        if end == len(text_body):
            return True
        if text_body.startswith("\n\n", end):
            at = end + 2
    return False


def searched_text(parsed: Parsed) -> str:
    """The body text the search reads (`text_body` in mailgate.models.search_text_of)."""
    return body_text(parsed.text_body, parsed.html_body)


def _nesting(message: Message) -> int:
    """How many multipart levels deep the message goes (counted without recursion)."""
    deepest, waiting = 0, [(message, 1)]
    while waiting:
        part, depth = waiting.pop()
        deepest = max(deepest, depth)
        if part.is_multipart():
            waiting.extend((child, depth + 1) for child in part.get_payload())
    return deepest


def _fatal_defects(message: Message) -> bool:
    """Whether the message's own structure is broken. A message attached to it (message/*,
    detached whole as an attachment) is not looked into: a truncated multipart forwarded
    with a bounce leaves the message that carries it readable."""
    waiting = [message]
    while waiting:
        part = waiting.pop()
        if any(isinstance(defect, _FATAL) for defect in getattr(part, "defects", ())):
            return True
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            waiting.extend(part.get_payload())
    return False


def _read_parts(parsed: Parsed, message: Message) -> None:
    """The text parts, the HTML parts and the attachments (detached). Every HTML part is
    shown, in order (Apple Mail cuts an HTML text around a picture into several); a text
    part that is not the alternative of an HTML one (a list's footer after the message) is
    shown with them, as preformatted text. `text_body` holds the text parts only."""
    texts: list[str] = []
    shown: list[str] = []       # the HTML parts, and the text parts shown beside them
    has_html = False
    detached = False
    for part, alternative in _leaves(message):
        del part[MARKER]
        ctype = part.get_content_type()
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        is_text = ctype in ("text/plain", "text/html") and disposition != "attachment" \
            and not filename
        if is_text and ctype == "text/plain":
            texts.append(_text(part))
            if not alternative and texts[-1]:
                shown.append(f"<pre>{escape(texts[-1])}</pre>")
        elif is_text:
            shown.append(_text(part))
            has_html = True
        else:
            _detach(parsed, part, ctype, filename, disposition)
            detached = True
    parsed.text_body = "\n\n".join(t for t in texts if t)
    if has_html:
        parsed.html_body = "".join(shown)
    if not detached:
        return
    if message.is_multipart():
        parsed.body = _generate(message).split(b"\r\n\r\n", 1)[1]
    else:
        parsed.top_marker = Field(MARKER, f"{MARKER}: 0\r\n".encode())
        parsed.body = b""


def _leaves(part: Message, alternative: bool = False):
    """The parts that are not multipart, and whether each is within a multipart/alternative
    (one of several forms of the same text)."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        alternative = alternative or part.get_content_subtype() == "alternative"
        for child in part.get_payload():
            yield from _leaves(child, alternative)
    else:
        yield part, alternative


def _filename(part: Message) -> str:
    name = part.get_filename() or part.get_param("name") or ""
    if isinstance(name, tuple):
        name = email.utils.collapse_rfc2231_value(name)
    return decode_words(clean(str(name))).strip()[:255]


def _text(part: Message) -> str:
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return clean(data.decode(charset, errors="replace"))
    except LookupError:
        return clean(data.decode("utf-8", errors="replace"))


def _detach(parsed: Parsed, part: Message, ctype: str, filename: str, disposition: str) -> None:
    if ctype.startswith("message/") and part.is_multipart():
        data = _generate(part.get_payload(0))
    else:
        data = part.get_payload(decode=True) or b""
    content_id = clean(str(part.get("Content-ID") or "")).strip().strip("<>") or None
    position = len(parsed.attachments)
    parsed.attachments.append(AttachmentData(
        position=position, filename=filename, content_type=clean(ctype)[:255],
        content_id=content_id[:255] if content_id else None,
        inline=disposition == "inline" or (content_id is not None and disposition != "attachment"),
        data=data))
    part.set_payload("")
    part[MARKER] = str(position)


def _generate(message: Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy.compat32.clone(linesep="\r\n")) \
        .flatten(message)
    return out.getvalue()


def rebuild(source: bytes, contents: dict[int, tuple[str, bytes]]) -> bytes:
    """The message with its attachments put back. `contents`: position → (type, data)."""
    if not contents:
        return source
    message = email.message_from_bytes(source, policy=policy.compat32)
    for part in ([message] if not message.is_multipart() else message.walk()):
        marker = str(part.get(MARKER, "")).strip()     # an 8-bit value reads as a Header
        if not marker.isdecimal() or int(marker) not in contents:
            continue
        ctype, data = contents[int(marker)]
        del part[MARKER]
        del part["Content-Transfer-Encoding"]
        if ctype.startswith("message/"):
            part.set_payload([email.message_from_bytes(data, policy=policy.compat32)])
        else:
            part["Content-Transfer-Encoding"] = "base64"
            part.set_payload(base64.encodebytes(data).decode("ascii"))
    return _generate(message)
